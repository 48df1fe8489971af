/* Fixed-rate (open-loop) load generator for the latency scenarios, speaking
 * either the echo protocol or HTTP/1.1 keep-alive.
 *
 *   load_client MODE HOST PORT CONNS RATE SIZE WARMUP_S DURATION_S [DRAIN_S]
 *
 * MODE is "echo" (SIZE-byte messages echoed back) or "http" (GET / on a
 * keep-alive connection, the response framed by Content-Length; SIZE is
 * ignored). One thread, epoll, CONNS connections.
 *
 * RATE > 0: open loop. Request j (counting over all connections) is due at
 * t0 + j / RATE and goes out on connection j % CONNS, whether or not earlier
 * answers have come back (requests pipeline on a connection). Its latency is
 * measured from that scheduled time, not from when it was actually written,
 * so a server that stalls is charged for every request it held up (no
 * coordinated omission). Requests due in the measured window are recorded;
 * after the window no new requests go out, answers are awaited for DRAIN_S
 * (default 0.5 s), and those still missing are recorded with the time they
 * had waited by then (a lower bound) and counted as unfinished.
 * RATE = 0: closed loop, one request in flight per connection, the next sent
 * when the answer arrives (latency from the send): the peak rate.
 *
 * Output, one line each: "start" when the measured window opens, "end" when
 * it closes (the caller samples the server's CPU time at both), then
 *   done SCHEDULED COMPLETED ANSWERS ELAPSED_S UNFINISHED MAX_NS
 *   hist LOW_NS:COUNT ...
 * SCHEDULED: requests due in the window (open loop); COMPLETED: how many of
 * them were answered; ANSWERS: answers received during the window, whatever
 * their request (the achieved rate is ANSWERS / ELAPSED_S). The histogram
 * has log-linear buckets (128 per power of two, under 1% wide); each pair is
 * a bucket's lowest value and its count. Dies with its parent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Log-linear histogram: values below 2^8 exactly, above that 2^7 buckets per
 * power of two (the top 8 bits of the value). */
#define SUB_BITS 7
#define BUCKETS ((64 - SUB_BITS) << SUB_BITS)

static uint64_t hist[BUCKETS], hist_max;

static int bucket_of(uint64_t v)
{
    if (v < (2u << SUB_BITS))
        return (int)v;
    int shift = 64 - __builtin_clzll(v) - (SUB_BITS + 1);
    return (shift << SUB_BITS) + (int)(v >> shift);
}

static uint64_t bucket_low(int i)
{
    if (i < (2 << SUB_BITS))
        return (uint64_t)i;
    int shift = (i >> SUB_BITS) - 1;
    return (uint64_t)(i - (shift << SUB_BITS)) << shift;
}

static void record(int64_t ns)
{
    uint64_t v = ns > 0 ? (uint64_t)ns : 0;
    hist[bucket_of(v)]++;
    if (v > hist_max)
        hist_max = v;
}

struct conn {
    int fd;
    int index;
    int blocked;            /* waiting for EPOLLOUT */
    uint64_t due;           /* requests assigned to this connection so far */
    uint64_t written;       /* bytes written */
    uint64_t answered;      /* complete answers received */
    uint64_t rbytes;        /* echo: bytes received */
    int64_t sent_at;        /* closed loop: when the request in flight went out */
    /* http: the header being read, then how much body is left */
    char head[512];
    size_t head_len;
    size_t body_left;
    int in_body;
};

static int ep, nconns, http;
static struct conn *conns;
static double rate;
static int64_t t0;
static uint64_t j_first, j_end;     /* the window's requests: [j_first, j_end) */
static char *pattern;               /* the request, repeated */
static size_t req_len, pattern_len;
static char rbuf[256 * 1024];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* When request j (counting over all connections) is due (open loop). */
static int64_t due_at(uint64_t j)
{
    return t0 + (int64_t)llround((double)j * 1e9 / rate);
}

/* Scheduled time of the k-th request of connection c. */
static int64_t scheduled(const struct conn *c, uint64_t k)
{
    return due_at(k * (uint64_t)nconns + (uint64_t)c->index);
}

static int in_window(const struct conn *c, uint64_t k)
{
    uint64_t j = k * (uint64_t)nconns + (uint64_t)c->index;
    return j >= j_first && j < j_end;
}

static void watch(struct conn *c, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Writes what is due on c, from the repeated request pattern; waits for
 * EPOLLOUT when the socket is full. */
static void flush(struct conn *c)
{
    uint64_t target = c->due * req_len;
    while (!c->blocked && c->written < target) {
        size_t off = c->written % req_len;
        size_t len = pattern_len - off;
        if (len > target - c->written)
            len = target - c->written;
        ssize_t n = send(c->fd, pattern + off, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                c->blocked = 1;
                watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
                return;
            }
            die("send");
        }
        c->written += (uint64_t)n;
    }
}

static uint64_t answers_in_window, completed;
static int measuring;

/* One complete answer arrived on c at time t. */
static void answered(struct conn *c, int64_t t)
{
    uint64_t k = c->answered++;
    if (rate > 0) {
        if (in_window(c, k)) {
            record(t - scheduled(c, k));
            completed++;
        }
    } else if (measuring) {
        record(t - c->sent_at);
        completed++;
    }
    if (measuring)
        answers_in_window++;
    if (rate == 0) {            /* closed loop: the next request goes now */
        c->due++;
        c->sent_at = t;
        flush(c);
    }
}

/* HTTP: feeds received bytes through the response framing. */
static void parse_http(struct conn *c, const char *p, size_t n, int64_t t)
{
    while (n > 0) {
        if (c->in_body) {
            size_t take = n < c->body_left ? n : c->body_left;
            c->body_left -= take;
            p += take;
            n -= take;
            if (c->body_left == 0) {
                c->in_body = 0;
                answered(c, t);
            }
            continue;
        }
        if (c->head_len + 1 >= sizeof c->head) {
            fprintf(stderr, "load_client: response header too long\n");
            exit(1);
        }
        c->head[c->head_len++] = *p++;
        n--;
        if (c->head_len >= 4 && memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0) {
            c->head[c->head_len] = 0;
            if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "load_client: unexpected response: %.40s\n", c->head);
                exit(1);
            }
            char *cl = strcasestr(c->head, "\r\ncontent-length:");
            c->body_left = cl ? strtoul(cl + 17, NULL, 10) : 0;
            c->head_len = 0;
            if (c->body_left)
                c->in_body = 1;
            else
                answered(c, t);
        }
    }
}

static void receive(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (n == 0) {
            fprintf(stderr, "load_client: server closed a connection\n");
            exit(1);
        }
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            die("recv");
        }
        int64_t t = now_ns();
        if (http) {
            parse_http(c, rbuf, (size_t)n, t);
        } else {
            c->rbytes += (uint64_t)n;
            while (c->rbytes / req_len > c->answered)
                answered(c, t);
        }
        if ((size_t)n < sizeof rbuf)
            return;
    }
}

/* epoll_wait for at most `ns` nanoseconds (epoll_pwait2 has the resolution
 * a fixed rate needs; plain epoll_wait's milliseconds are the fallback). */
static int wait_events(struct epoll_event *evs, int max, int64_t ns)
{
    static int no_pwait2;
    if (ns < 0)
        ns = 0;
    if (!no_pwait2) {
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        int n = epoll_pwait2(ep, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        no_pwait2 = 1;
    }
    return epoll_wait(ep, evs, max, (int)(ns / 1000000));
}

static void print_results(int64_t elapsed, uint64_t scheduled_count, uint64_t unfinished)
{
    printf("done %llu %llu %llu %.6f %llu %llu\nhist",
           (unsigned long long)scheduled_count, (unsigned long long)completed,
           (unsigned long long)answers_in_window, elapsed / 1e9,
           (unsigned long long)unfinished, (unsigned long long)hist_max);
    for (int i = 0; i < BUCKETS; i++)
        if (hist[i])
            printf(" %llu:%llu", (unsigned long long)bucket_low(i),
                   (unsigned long long)hist[i]);
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 9 && argc != 10) {
        fprintf(stderr, "usage: load_client echo|http HOST PORT CONNS RATE SIZE "
                        "WARMUP_S DURATION_S [DRAIN_S]\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the harness */
    prctl(PR_SET_TIMERSLACK, 1UL);      /* wake up on schedule, not up to 50 us late */

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    http = strcmp(argv[1], "http") == 0;
    nconns = atoi(argv[4]);
    rate = atof(argv[5]);
    size_t size = strtoul(argv[6], NULL, 10);
    double warmup = atof(argv[7]), duration = atof(argv[8]);
    double drain = argc > 9 ? atof(argv[9]) : 0.5;
    if ((!http && strcmp(argv[1], "echo") != 0) ||
        inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 || nconns < 1 || nconns > 1000 ||
        !(rate >= 0 && rate <= 1e8) || (!http && (size < 1 || size > (1 << 20))) ||
        !(warmup >= 0 && warmup <= 60) || !(duration > 0 && duration <= 600) ||
        !(drain >= 0 && drain <= 60)) {
        fprintf(stderr, "load_client: bad arguments\n");
        return 2;
    }

    /* The request, repeated to fill at least 64 KiB, so that a backlog of
     * requests goes out in few sends. */
    static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    req_len = http ? sizeof get - 1 : size;
    size_t copies = (65536 + req_len - 1) / req_len;
    pattern_len = copies * req_len;
    if (!(pattern = malloc(pattern_len)) || !(conns = calloc(nconns, sizeof *conns)))
        die("malloc");
    if (http)
        for (size_t i = 0; i < copies; i++)
            memcpy(pattern + i * req_len, get, req_len);
    else
        memset(pattern, 'x', pattern_len);
    if ((ep = epoll_create1(0)) < 0)
        die("epoll_create1");

    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        int one = 1;
        c->index = i;
        if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
            die("socket");
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        watch(c, EPOLL_CTL_ADD, EPOLLIN);
    }

    t0 = now_ns() + 1000000;            /* first request 1 ms from now */
    int64_t window_start = t0 + (int64_t)(warmup * 1e9);
    int64_t window_end = window_start + (int64_t)(duration * 1e9);
    int64_t deadline = window_end + (int64_t)(drain * 1e9);
    enum { WARMUP, MEASURING, DRAINING } phase = WARMUP;
    uint64_t j_next = 0;
    if (rate > 0) {
        j_first = (uint64_t)ceil(warmup * rate);
        j_end = (uint64_t)ceil((warmup + duration) * rate);
    } else {
        for (int i = 0; i < nconns; i++) {
            conns[i].due = 1;
            conns[i].sent_at = now_ns();
            flush(&conns[i]);
        }
    }

    struct epoll_event evs[64];
    for (;;) {
        int64_t t = now_ns();
        if (rate > 0 && j_next < j_end) {
            /* Hand out every request that has come due, then write them. */
            while (j_next < j_end && due_at(j_next) <= t) {
                conns[j_next % nconns].due++;
                j_next++;
            }
            for (int i = 0; i < nconns; i++)
                flush(&conns[i]);
        }
        if (phase == WARMUP && t >= window_start) {
            phase = MEASURING;
            measuring = 1;
            printf("start\n");
            fflush(stdout);
        }
        if (phase == MEASURING && t >= window_end) {
            phase = DRAINING;
            measuring = 0;
            printf("end\n");
            fflush(stdout);
        }
        if (phase == DRAINING) {
            /* Done once every request of the window is answered (closed
             * loop: at once), or at the deadline. */
            uint64_t scheduled_count = rate > 0 ? j_end - j_first : 0;
            if (rate == 0 || completed == scheduled_count || t >= deadline) {
                uint64_t unfinished = 0;
                for (int i = 0; i < nconns && rate > 0; i++) {
                    struct conn *c = &conns[i];
                    for (uint64_t k = c->answered; k < c->due; k++)
                        if (in_window(c, k)) {
                            record(t - scheduled(c, k));
                            unfinished++;
                        }
                }
                print_results((int64_t)(duration * 1e9), scheduled_count, unfinished);
                return 0;
            }
        }
        /* Sleep until the next request is due or the phase ends. */
        int64_t wake = phase == WARMUP ? window_start
                       : phase == MEASURING ? window_end : deadline;
        if (rate > 0 && j_next < j_end && due_at(j_next) < wake)
            wake = due_at(j_next);
        int n = wait_events(evs, 64, wake - now_ns());
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                c->blocked = 0;
                watch(c, EPOLL_CTL_MOD, EPOLLIN);
                flush(c);
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                receive(c);
        }
    }
}
