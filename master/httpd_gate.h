/* httpd_gate.h - internal to the HTTP server: the accept gate in front of
 * libmicrohttpd, and answers written straight to a socket.
 *
 * The gate owns the listen socket. It accepts connections on its own thread
 * and holds each one until its first request head is complete (looked at
 * with MSG_PEEK, nothing consumed), then hands it to the server. It answers
 * by itself (JSON, then a lingering close) a head that is too slow (408),
 * too long (414, 431) or malformed in its Content-Length (400, 413), and
 * holds at most max_unauth connections, max_unauth_per_ip from one address:
 * a new connection over either count closes the oldest one held. */
#ifndef ABBEY_HTTPD_GATE_H
#define ABBEY_HTTPD_GATE_H

#include <apr_pools.h>
#include <netinet/in.h>

#include "error.h"
#include "httpd.h"

typedef struct httpd_gate_t httpd_gate_t;

/* Take fd (a connection from peer whose first request head is complete).
 * Returns 0 when the server took it (the fd is no longer the gate's, even
 * if the server then failed and closed it), or the HTTP status the gate is
 * to answer with (e.g. 503 when the server is full; the fd stays the gate's). */
typedef int (*httpd_gate_hand_t)(void *ctx, int fd, const struct sockaddr_in *peer);

/* Start the gate's thread on listen_fd (which it now owns and closes at
 * stop). lim is copied. Returns NULL with a message in err on failure (then
 * listen_fd is still the caller's). */
httpd_gate_t *httpd_gate_start(int listen_fd, const httpd_limits_t *lim, httpd_gate_hand_t hand,
                               void *ctx, apr_pool_t *pool, abbey_err_t *err);

/* Stop the thread; close the listen socket and every connection held. */
void httpd_gate_stop(httpd_gate_t *g);

/* Write a whole answer to fd: status, JSON {"error": msg}, Connection: close
 * and, when retry_after > 0, Retry-After. Non-blocking: returns 0 when it
 * was all written, -1 when the socket took less (the caller closes it). */
int httpd_answer_raw(int fd, int status, const char *msg, int retry_after);

/* A monotonic clock in milliseconds. */
int64_t httpd_now_ms(void);

#endif
