/* What the C benchmark servers (uring_server.c, epoll_server.c) share: the
 * command line, the listening socket and its "ready PORT" line, and the
 * HTTP mode's request counting and canned response. */
#ifndef BENCH_SERVER_COMMON_H
#define BENCH_SERVER_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct server_args {
    int http;
    int port;
};

/* MODE [--port P] [--max-seconds S]; exits with status 2 on bad input. Also
 * bounds the server's life: SIGALRM after S seconds, SIGKILL with its parent. */
static void parse_server_args(int argc, char **argv, const char *name,
                              struct server_args *args)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"max-seconds", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    double max_seconds = 300;
    char *end;
    int opt;
    args->port = 0;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'p') {
            long port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535)
                goto usage;
            args->port = (int)port;
        } else if (opt == 's') {
            max_seconds = strtod(optarg, &end);
            if (*end || !(max_seconds > 0 && max_seconds <= 86400))
                goto usage;
        } else {
            goto usage;
        }
    }
    if (optind != argc - 1)
        goto usage;
    if (strcmp(argv[optind], "http") == 0)
        args->http = 1;
    else if (strcmp(argv[optind], "echo") == 0)
        args->http = 0;
    else
        goto usage;
    prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive the harness */
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)(max_seconds + 0.999)); /* and never linger */
    return;
usage:
    fprintf(stderr, "usage: %s echo|http [--port P] [--max-seconds S]\n", name);
    exit(2);
}

static int listen_on(int port, const char *name)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "%s: cannot listen on port %d: %s\n", name, port, strerror(errno));
        exit(1);
    }
    return fd;
}

/* "ready PORT" on stdout: the harness starts its client then. */
static void announce(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    printf("ready %d\n", ntohs(sa.sin_port));
    fflush(stdout);
}

/* HTTP mode: a request is whatever ends in an empty line (the clients send
 * GETs without a body), its answer the same response as http_hello.py's. */
#define HTTP_BODY "Hello, World!"
static const char http_response[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n" HTTP_BODY;
static const size_t http_response_len = sizeof http_response - 1;

/* The response repeated, so many owed responses go out in one send from
 * static memory: send from offset (bytes sent so far % response length). */
#define HTTP_BATCH 256
static char http_responses[HTTP_BATCH * (sizeof http_response - 1)];
static const size_t http_responses_len = sizeof http_responses;

__attribute__((constructor)) static void fill_http_responses(void)
{
    for (size_t i = 0; i < HTTP_BATCH; i++)
        memcpy(http_responses + i * http_response_len, http_response, http_response_len);
}

/* How far into "\r\n\r\n" the bytes seen so far end, across reads. */
struct request_matcher {
    int matched;
};

static unsigned long long count_requests(struct request_matcher *m, const char *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    unsigned long long count = 0;
    int k = m->matched;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == end[k])
            k++;
        else
            k = p[i] == '\r';
        if (k == 4) {
            count++;
            k = 0;
        }
    }
    m->matched = k;
    return count;
}

#endif
