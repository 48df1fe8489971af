/* A plain C epoll server: the readiness-based limit in the echo, HTTP and
 * latency scenarios, next to the Python loops.
 *
 *   epoll_server echo|http [--port P] [--max-seconds S]
 *
 * Same modes, command line and "ready PORT" line as uring_server.c. The
 * classic best plain design: level-triggered epoll, one read of up to
 * 256 KiB per readiness (read again if it came back full), answered at once
 * with one send; only what the socket will not take is copied aside, and
 * then the connection stops reading until EPOLLOUT has flushed it, so a slow
 * peer gets backpressure instead of an unbounded buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_common.h"

enum { READ_SIZE = 256 * 1024, MAX_FDS = 4096 };

struct conn {
    /* echo: bytes the socket did not take yet */
    char *pending;
    size_t pending_len, pending_off, pending_cap;
    /* http: the request matcher and the response bytes still owed */
    struct request_matcher matcher;
    unsigned long long owed, owed_sent;
};

static int ep, http;
static struct conn *conns;
static char rbuf[READ_SIZE];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void watch(int fd, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void drop(int fd)
{
    struct conn *c = &conns[fd];
    free(c->pending);
    memset(c, 0, sizeof *c);
    close(fd);              /* also leaves the epoll set */
}

static int has_pending(struct conn *c)
{
    return http ? c->owed != c->owed_sent : c->pending_off != c->pending_len;
}

/* Sends what is owed; 0 when all of it went, 1 when the socket is full,
 * -1 on an error. */
static int send_pending(int fd)
{
    struct conn *c = &conns[fd];
    while (has_pending(c)) {
        const char *p;
        size_t len;
        if (http) {
            size_t off = c->owed_sent % http_response_len;
            p = http_responses + off;
            len = http_responses_len - off;
            if (len > c->owed - c->owed_sent)
                len = c->owed - c->owed_sent;
        } else {
            p = c->pending + c->pending_off;
            len = c->pending_len - c->pending_off;
        }
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        if (http)
            c->owed_sent += n;
        else
            c->pending_off += n;
    }
    c->pending_off = c->pending_len = 0;
    return 0;
}

/* Echo: send the bytes just read; keep a copy of what did not fit. */
static int echo(int fd, const char *data, size_t len)
{
    struct conn *c = &conns[fd];
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN)
            return -1;
        n = 0;
    }
    size_t rest = len - n;
    if (!rest)
        return 0;
    if (rest > c->pending_cap) {
        free(c->pending);
        if (!(c->pending = malloc(rest)))
            die("malloc");
        c->pending_cap = rest;
    }
    memcpy(c->pending, data + n, rest);
    c->pending_off = 0;
    c->pending_len = rest;
    return 1;
}

/* Reads and answers until the socket is drained or full. */
static void on_readable(int fd)
{
    struct conn *c = &conns[fd];
    for (;;) {
        ssize_t n = recv(fd, rbuf, READ_SIZE, 0);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN)
                return;
            drop(fd);       /* EOF or error */
            return;
        }
        int full;
        if (http) {
            c->owed += count_requests(&c->matcher, rbuf, n) * http_response_len;
            full = send_pending(fd);
        } else {
            full = echo(fd, rbuf, n);
        }
        if (full < 0) {
            drop(fd);
            return;
        }
        if (full) {         /* stop reading until the peer takes our answers */
            watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
            return;
        }
        if (n < READ_SIZE)
            return;
    }
}

static void on_writable(int fd)
{
    int full = send_pending(fd);
    if (full < 0)
        drop(fd);
    else if (!full)
        watch(fd, EPOLL_CTL_MOD, EPOLLIN);
}

int main(int argc, char **argv)
{
    struct server_args args;
    parse_server_args(argc, argv, "epoll_server", &args);
    http = args.http;
    if (!(conns = calloc(MAX_FDS, sizeof *conns)))
        die("calloc");
    if ((ep = epoll_create1(0)) < 0)
        die("epoll_create1");
    int listen_fd = listen_on(args.port, "epoll_server");
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    watch(listen_fd, EPOLL_CTL_ADD, EPOLLIN);
    announce(listen_fd);

    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(ep, evs, 128, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == listen_fd) {
                int cfd, one = 1;
                while ((cfd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (cfd >= MAX_FDS) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    watch(cfd, EPOLL_CTL_ADD, EPOLLIN);
                }
            } else if (evs[i].events & EPOLLOUT) {
                on_writable(fd);
            } else {
                on_readable(fd);
            }
        }
    }
}
