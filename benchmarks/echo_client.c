/* Ping-pong TCP load generator for the sock_echo benchmark.
 *
 *   echo_client HOST PORT CONNS MSG_SIZE WARMUP_S DURATION_S
 *
 * One thread, epoll, CONNS connections. Each connection sends MSG_SIZE bytes,
 * waits until all of them came back, then sends again. Written in C so the
 * client costs little and the same for every server loop.
 *
 * Prints "start" when the measured window opens (after the warm-up; the
 * caller samples the server's CPU time then), then "done ECHOES SECONDS" when
 * it closes, and exits. Runs for a bounded time and dies with its parent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t sent, rcvd;
};

static int ep;
static char *msg, *buf;
static size_t size;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void watch(struct conn *c, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) < 0)
        die("epoll_ctl");
}

/* Send what is left of the current message; wait for POLLOUT if it won't fit
 * (on loopback 1 KiB always fits, but don't rely on it). */
static void push(struct conn *c)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
                return;
            }
            die("send");
        }
        c->sent += n;
    }
}

/* Returns 1 when a full echo has come back (and the next message went out). */
static int pull(struct conn *c)
{
    ssize_t n = recv(c->fd, buf, size - c->rcvd, 0);
    if (n == 0) {
        fprintf(stderr, "echo_client: server closed a connection\n");
        exit(1);
    }
    if (n < 0) {
        if (errno == EAGAIN)
            return 0;
        die("recv");
    }
    c->rcvd += n;
    if (c->rcvd < size)
        return 0;
    c->rcvd = c->sent = 0;
    push(c);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: echo_client HOST PORT CONNS MSG_SIZE WARMUP_S DURATION_S\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the harness */

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    int nconns = atoi(argv[3]);
    size = strtoul(argv[4], NULL, 10);
    double warmup = atof(argv[5]), duration = atof(argv[6]);
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || nconns < 1 || nconns > 1000 ||
        size < 1 || size > (1 << 20) || warmup < 0 || warmup > 60 || duration <= 0 ||
        duration > 600) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }

    msg = malloc(size);
    buf = malloc(size);
    struct conn *conns = calloc(nconns, sizeof *conns);
    if (!msg || !buf || !conns)
        die("malloc");
    memset(msg, 'x', size);
    if ((ep = epoll_create1(0)) < 0)
        die("epoll_create1");

    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        int one = 1;
        if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
            die("socket");
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        watch(c, EPOLL_CTL_ADD, EPOLLIN);
    }
    for (int i = 0; i < nconns; i++)
        push(&conns[i]);

    struct epoll_event evs[64];
    double start = now() + warmup, end = 0;
    long echoes = 0;
    for (;;) {
        int n = epoll_wait(ep, evs, 64, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                watch(c, EPOLL_CTL_MOD, EPOLLIN);
                push(c);
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                echoes += pull(c);
        }
        double t = now();
        if (!end && t >= start) {
            start = t;
            end = t + duration;
            echoes = 0;
            printf("start\n");
            fflush(stdout);
        } else if (end && t >= end) {
            printf("done %ld %.6f\n", echoes, t - start);
            fflush(stdout);
            return 0;
        }
    }
}
