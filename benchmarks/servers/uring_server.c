/* A plain C io_uring server: the machine's limit in the echo, HTTP and
 * latency scenarios, next to the Python loops.
 *
 *   uring_server echo|http [--port P] [--max-seconds S]
 *
 * echo answers every byte with itself; http answers every request (a header
 * block ending in an empty line) with a fixed "Hello, World!" response, as
 * benchmarks/servers/http_hello.py does. Listens on 127.0.0.1 (port 0 picks
 * a free one), prints "ready PORT" once it accepts, and exits after
 * --max-seconds (default 300) or with its parent.
 *
 * The same machinery the loop uses, done as well as plain C can: one ring
 * (SINGLE_ISSUER + DEFER_TASKRUN where the kernel has them), multishot
 * accept, multishot recv into a provided buffer ring of 64 KiB buffers,
 * every CQE of a wake-up handled before the next io_uring_enter, which
 * submits and waits in one call. Per connection one send is in flight at a
 * time, so bytes never reorder; what arrives meanwhile is queued and goes out
 * in one SENDMSG when it completes. Received buffers go back to the ring as
 * soon as their bytes are sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_common.h"

/* Setup flags by value: older liburing headers may lack them. */
#define SETUP_COOP_TASKRUN (1U << 8)
#define SETUP_SINGLE_ISSUER (1U << 12)
#define SETUP_DEFER_TASKRUN (1U << 13)

enum {
    BUF_COUNT = 256,            /* a power of two, as the kernel requires */
    BUF_SIZE = 64 * 1024,
    BUF_GROUP = 0,
    MAX_FDS = 4096,
    MAX_IOV = 32,               /* queued chunks one SENDMSG takes */
};

enum { OP_ACCEPT, OP_RECV, OP_SEND };

struct chunk {
    unsigned short bid;
    unsigned len, off;
};

struct conn {
    int open;                   /* accepted and not yet closed */
    int recv_armed, sending;
    int eof;                    /* the peer is done sending: close once all is sent */
    int failed;                 /* an error: close as soon as nothing is in flight */
    /* echo: received chunks not yet sent back, a FIFO of buffer ids */
    struct chunk queue[BUF_COUNT];
    unsigned head, count;
    struct iovec iov[MAX_IOV];
    struct msghdr msg;
    /* http: the request matcher and the response bytes still owed */
    struct request_matcher matcher;
    unsigned long long owed, owed_sent;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *buffers;
static struct conn *conns;
static int http, listen_fd, recycled;
static int starved[MAX_FDS], nstarved; /* connections whose recv ran out of buffers */

static void die(const char *what, int err)
{
    fprintf(stderr, "uring_server: %s: %s\n", what, strerror(err));
    exit(1);
}

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) {                 /* SQ full: hand it to the kernel first */
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
        if (!sqe)
            die("io_uring_get_sqe", EBUSY);
    }
    return sqe;
}

static unsigned long long tag(int op, int fd)
{
    return ((unsigned long long)fd << 8) | (unsigned)op;
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, tag(OP_ACCEPT, listen_fd));
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, tag(OP_RECV, fd));
    conns[fd].recv_armed = 1;
}

/* Buffers go back to the kernel in a batch, published once per wake-up. */
static void recycle(unsigned short bid)
{
    io_uring_buf_ring_add(br, buffers + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
                          io_uring_buf_ring_mask(BUF_COUNT), recycled++);
}

static void publish_recycled(void)
{
    if (!recycled)
        return;
    io_uring_buf_ring_advance(br, recycled);
    recycled = 0;
    while (nstarved) {          /* they can receive again */
        int fd = starved[--nstarved];
        if (conns[fd].open && !conns[fd].failed && !conns[fd].eof && !conns[fd].recv_armed)
            arm_recv(fd);
    }
}

static void maybe_close(int fd)
{
    struct conn *c = &conns[fd];
    if (c->recv_armed || c->sending)
        return;
    if (!c->failed && !(c->eof && c->count == 0 && c->owed == c->owed_sent))
        return;
    for (; c->count; c->count--, c->head = (c->head + 1) % BUF_COUNT)
        recycle(c->queue[c->head].bid);
    close(fd);
    c->open = 0;
}

/* Starts the next send of fd, if one is owed and none is in flight. */
static void send_next(int fd)
{
    struct conn *c = &conns[fd];
    if (c->sending || c->failed)
        return;
    struct io_uring_sqe *sqe;
    if (http) {
        if (c->owed == c->owed_sent)
            return;
        size_t off = c->owed_sent % http_response_len;
        size_t len = http_responses_len - off;
        if (len > c->owed - c->owed_sent)
            len = c->owed - c->owed_sent;
        sqe = get_sqe();
        io_uring_prep_send(sqe, fd, http_responses + off, len, MSG_NOSIGNAL);
    } else if (c->count == 1) {
        struct chunk *k = &c->queue[c->head];
        sqe = get_sqe();
        io_uring_prep_send(sqe, fd, buffers + (size_t)k->bid * BUF_SIZE + k->off,
                           k->len - k->off, MSG_NOSIGNAL);
    } else if (c->count > 1) {
        unsigned n = c->count < MAX_IOV ? c->count : MAX_IOV;
        for (unsigned i = 0; i < n; i++) {
            struct chunk *k = &c->queue[(c->head + i) % BUF_COUNT];
            c->iov[i].iov_base = buffers + (size_t)k->bid * BUF_SIZE + k->off;
            c->iov[i].iov_len = k->len - k->off;
        }
        memset(&c->msg, 0, sizeof c->msg);
        c->msg.msg_iov = c->iov;
        c->msg.msg_iovlen = n;
        sqe = get_sqe();
        io_uring_prep_sendmsg(sqe, fd, &c->msg, MSG_NOSIGNAL);
    } else {
        return;
    }
    io_uring_sqe_set_data64(sqe, tag(OP_SEND, fd));
    c->sending = 1;
}

static void on_accept(struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_accept();
    int fd = cqe->res;
    if (fd < 0)
        return;
    if (fd >= MAX_FDS) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&conns[fd], 0, sizeof conns[fd]);
    conns[fd].open = 1;
    arm_recv(fd);
}

static void on_recv(int fd, struct io_uring_cqe *cqe)
{
    struct conn *c = &conns[fd];
    int more = cqe->flags & IORING_CQE_F_MORE;
    if (!more)
        c->recv_armed = 0;
    if (cqe->res > 0) {
        unsigned short bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *data = buffers + (size_t)bid * BUF_SIZE;
        if (http) {
            unsigned long long n = count_requests(&c->matcher, data, cqe->res);
            recycle(bid);
            c->owed += n * http_response_len;
        } else if (c->failed) {
            recycle(bid);
        } else {
            struct chunk *k = &c->queue[(c->head + c->count++) % BUF_COUNT];
            k->bid = bid;
            k->len = cqe->res;
            k->off = 0;
        }
        send_next(fd);
        if (!more && !c->failed)
            arm_recv(fd);
    } else if (cqe->res == -ENOBUFS && !c->failed) {
        if (nstarved < MAX_FDS)
            starved[nstarved++] = fd;   /* re-armed when buffers come back */
    } else if (cqe->res == 0) {
        c->eof = 1;
    } else if (!more) {
        c->failed = 1;
    }
    maybe_close(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe)
{
    struct conn *c = &conns[fd];
    c->sending = 0;
    if (cqe->res < 0) {
        c->failed = 1;
        if (c->recv_armed) {    /* stop receiving so the connection can close */
            struct io_uring_sqe *sqe = get_sqe();
            io_uring_prep_cancel64(sqe, tag(OP_RECV, fd), 0);
            io_uring_sqe_set_data64(sqe, tag(OP_ACCEPT, -1));
        }
        maybe_close(fd);
        return;
    }
    unsigned long long sent = cqe->res;
    if (http) {
        c->owed_sent += sent;
    } else {
        /* Sent chunks go back to the ring; a partly sent one stays queued. */
        while (sent && c->count) {
            struct chunk *k = &c->queue[c->head];
            unsigned left = k->len - k->off;
            if (sent < left) {
                k->off += sent;
                break;
            }
            sent -= left;
            recycle(k->bid);
            c->head = (c->head + 1) % BUF_COUNT;
            c->count--;
        }
    }
    send_next(fd);
    maybe_close(fd);
}

static void setup_ring(void)
{
    static const unsigned tries[] = {SETUP_SINGLE_ISSUER | SETUP_DEFER_TASKRUN,
                                     SETUP_COOP_TASKRUN, 0};
    int ret = -EINVAL;
    for (unsigned i = 0; i < sizeof tries / sizeof *tries && ret < 0; i++) {
        struct io_uring_params p = {.flags = tries[i] | IORING_SETUP_CQSIZE,
                                    .cq_entries = 8192};
        ret = io_uring_queue_init_params(1024, &ring, &p);
    }
    if (ret < 0)
        die("io_uring_queue_init", -ret);

    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    buffers = mmap(NULL, (size_t)BUF_COUNT * BUF_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED || buffers == MAP_FAILED)
        die("mmap", errno);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br,
                                   .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
    if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
        die("io_uring_register_buf_ring", -ret);
    io_uring_buf_ring_init(br);
    for (int i = 0; i < BUF_COUNT; i++)
        recycle(i);
    io_uring_buf_ring_advance(br, recycled);
    recycled = 0;
}

int main(int argc, char **argv)
{
    struct server_args args;
    parse_server_args(argc, argv, "uring_server", &args);
    http = args.http;
    if (!(conns = calloc(MAX_FDS, sizeof *conns)))
        die("calloc", errno);
    setup_ring();
    listen_fd = listen_on(args.port, "uring_server");
    arm_accept();
    announce(listen_fd);

    for (;;) {
        int ret = io_uring_submit_and_wait(&ring, 1);
        if (ret < 0 && ret != -EINTR)
            die("io_uring_submit_and_wait", -ret);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            unsigned long long data = io_uring_cqe_get_data64(cqe);
            int fd = (int)((long long)data >> 8);
            seen++;
            switch (data & 0xff) {
            case OP_ACCEPT:
                if (fd == listen_fd)
                    on_accept(cqe);
                break;          /* fd -1: a cancellation's own completion */
            case OP_RECV:
                on_recv(fd, cqe);
                break;
            case OP_SEND:
                on_send(fd, cqe);
                break;
            }
        }
        io_uring_cq_advance(&ring, seen);
        publish_recycled();
    }
}
