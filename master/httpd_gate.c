/* httpd_gate.c - the accept gate in front of libmicrohttpd (see httpd_gate.h).
 *
 * libmicrohttpd gives a connection a slot and a memory pool as soon as it is
 * accepted, and its timeout is an idle timeout: a client sending one header
 * byte a second keeps its slot for ever, and a few hundred such clients
 * (slowloris) leave none for the slaves. So the gate accepts connections on
 * its own thread and holds each until its first request head is complete:
 * it peeks (MSG_PEEK; libmicrohttpd reads the bytes again) whenever more
 * bytes arrived (SO_RCVLOWAT makes poll wait for more than were seen), and
 * hands a complete, well-formed head to the server. A connection held costs
 * a slot of this table and a socket, nothing more.
 *
 * The table holds max_unauth connections; a new one when it is full, or
 * when max_unauth_per_ip from its address are held, closes the oldest
 * (of that address), preferring one already answered: real clients send
 * their head at once, so the oldest is the slowest. But a connection is
 * given GRACE_MS to send its head before it can be closed for room: hundreds
 * of clients that connect at once (slaves starting together, abbey-load's
 * simulated slaves, all from one host) are not cut while their heads are on
 * the way. Until the oldest is that old, a full table stops accepting (new
 * connections wait in the listen backlog, their heads arriving meanwhile),
 * and an address past its count may hold more while free slots remain. A head not complete at
 * its deadline gets 408; a head too large 414/431; a malformed request line
 * or Content-Length 400/413/505, all JSON (httpd_answer_raw). An answered
 * connection lingers: shut for writing, read and dropped until the client
 * closes, LINGER_MS or LINGER_MAX bytes, so the answer is not lost to a
 * reset by unread bytes. */
#include "httpd_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MS 2000
#define LINGER_MAX (1u << 20) /* bytes read and dropped after an answer */
#define QUIET_MS 200          /* no peek this long after one that found nothing new */
#define ACCEPT_BURST 64       /* connections accepted per turn of the loop */
#define GRACE_MS 1000         /* a head may take this long before its slot is taken for room */
#define TICK_MAX_MS 1000

typedef enum { W_FREE = 0, W_HEAD, W_LINGER } wait_state_t;

/* A connection the gate holds. */
typedef struct waiting_t {
    int fd;
    wait_state_t state;
    struct sockaddr_in peer;
    uint64_t seq;           /* the order of acceptance: the oldest has the lowest */
    int64_t since_ms;       /* accepted then */
    int64_t until_ms;       /* W_HEAD: the head's deadline; W_LINGER: when to close */
    int64_t quiet_until_ms; /* W_HEAD: not peeked before this */
    size_t seen;            /* W_HEAD: bytes seen at the last peek */
    size_t drained;         /* W_LINGER: bytes read and dropped */
} waiting_t;

struct httpd_gate_t {
    int lfd;
    int wake[2]; /* a byte on wake[1] stops the thread */
    httpd_limits_t lim;
    httpd_gate_hand_t hand;
    void *hand_ctx;
    waiting_t *w; /* lim.max_unauth slots */
    struct pollfd *pfd;
    int *pidx;                     /* pfd[i] -> slot (-1: wake, -2: listen) */
    char *buf;                     /* HTTPD_HEAD_MAX + 1 bytes: a peek */
    int64_t accept_quiet_until_ms; /* out of descriptors: no accept before this */
    int64_t full_until_ms;         /* full of young connections: no accept before this, or
                                      before a slot frees */
    uint64_t accepted;             /* connections accepted so far */
    pthread_t thread;
};

int64_t httpd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the request head ------------------------------------------------------ */

/* The verdict on the first n bytes of a connection: 0 when the head is
 * complete and acceptable, -1 when more bytes are needed, else the status to
 * answer with and *why. */
typedef struct head_t {
    const char *b;
    size_t n;
} head_t;

/* The end of the line starting at i (index of its '\n'), or n. */
static size_t line_end(const head_t *h, size_t i)
{
    const char *nl = memchr(h->b + i, '\n', h->n - i);
    return nl ? (size_t)(nl - h->b) : h->n;
}

/* [a, e) without a trailing '\r' and surrounding blanks. */
static void trim(const char *b, size_t *a, size_t *e)
{
    while (*e > *a && (b[*e - 1] == '\r' || b[*e - 1] == ' ' || b[*e - 1] == '\t'))
        (*e)--;
    while (*a < *e && (b[*a] == ' ' || b[*a] == '\t'))
        (*a)++;
}

/* "HTTP/d.d" at v: 0 for HTTP/1.x, 505 for another version, 400 otherwise. */
static int version_check(const char *v, const char **why)
{
    if (memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
        v[7] > '9') {
        *why = "malformed request line: it must end in an HTTP version such as HTTP/1.1";
        return 400;
    }
    if (v[5] != '1') {
        *why = "HTTP version not supported: this server speaks HTTP/1.0 and HTTP/1.1";
        return 505;
    }
    return 0;
}

/* The request line [a, e), complete or not: METHOD SP TARGET SP HTTP/1.x. */
static int request_line_check(const head_t *h, size_t a, size_t e, int complete, const char **why)
{
    const char *sp1 = memchr(h->b + a, ' ', e - a), *v;
    size_t ve = e, va = a;

    if (sp1 && (size_t)(h->b + e - sp1 - 1) > HTTPD_URL_MAX + (complete ? 9 : 16)) {
        *why = "the request target is longer than the server accepts";
        return 414;
    }
    if (!complete)
        return -1;
    trim(h->b, &va, &ve);
    if (!sp1 || ve - va < 10 || h->b + ve - 9 <= sp1 || h->b[ve - 9] != ' ') {
        *why = "malformed request line: METHOD TARGET HTTP/1.1 expected";
        return 400;
    }
    v = h->b + ve - 8;
    if ((size_t)(v - 1 - sp1 - 1) > HTTPD_URL_MAX) {
        *why = "the request target is longer than the server accepts";
        return 414;
    }
    return version_check(v, why);
}

/* A header line [a, e): "Name: value", or a continuation (leading blank). */
static int header_line_check(const head_t *h, size_t a, size_t e, const char **why)
{
    static const char cl[] = "content-length";
    const char *colon;
    size_t va, ve, digits = 0;

    if (h->b[a] == ' ' || h->b[a] == '\t')
        return 0;
    colon = memchr(h->b + a, ':', e - a);
    if (!colon || colon == h->b + a) {
        *why = "malformed header line: no name and colon";
        return 400;
    }
    if ((size_t)(colon - h->b - a) != sizeof cl - 1 || strncasecmp(h->b + a, cl, sizeof cl - 1))
        return 0;
    va = (size_t)(colon - h->b) + 1;
    ve = e;
    trim(h->b, &va, &ve);
    for (size_t i = va; i < ve; i++, digits++)
        if (h->b[i] < '0' || h->b[i] > '9') {
            *why = "malformed Content-Length: it must be a decimal number";
            return 400;
        }
    if (digits == 0) {
        *why = "malformed Content-Length: it must be a decimal number";
        return 400;
    }
    if (digits > 18) {
        *why = "request body too large";
        return 413;
    }
    return 0;
}

static int head_check(const head_t *h, const char **why)
{
    size_t i = 0, e, lines = 0;
    int st;

    while (i < h->n && (h->b[i] == '\r' || h->b[i] == '\n')) /* as MHD: skipped */
        i++;
    e = line_end(h, i);
    if ((st = request_line_check(h, i, e, e < h->n, why)) != 0) {
        if (st < 0 && h->n > HTTPD_HEAD_MAX) {
            *why = "the request line is longer than the server accepts";
            return 414;
        }
        return st;
    }
    for (i = e + 1; i < h->n; i = e + 1) {
        size_t a = i;
        e = line_end(h, i);
        if (e == h->n)
            break;
        if (e == a || (e == a + 1 && h->b[a] == '\r')) { /* the empty line: the end */
            if (e + 1 <= HTTPD_HEAD_MAX)
                return 0;
            *why = "the request head is larger than the server accepts";
            return 431;
        }
        if (++lines > HTTPD_HEAD_LINES_MAX) {
            *why = "the request has more header lines than the server accepts";
            return 431;
        }
        if ((st = header_line_check(h, a, e, why)) != 0)
            return st;
    }
    if (h->n > HTTPD_HEAD_MAX) {
        *why = "the request head is larger than the server accepts";
        return 431;
    }
    return -1;
}

/* --- the table --------------------------------------------------------------- */

static void set_lowat(int fd, int bytes)
{
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
}

static void slot_close(waiting_t *w)
{
    close(w->fd);
    memset(w, 0, sizeof *w);
}

/* Answer w with status and linger. */
static void slot_answer(waiting_t *w, int status, const char *why, int64_t now)
{
    set_lowat(w->fd, 1);
    if (httpd_answer_raw(w->fd, status, why, status == 503 ? 1 : 0) != 0) {
        slot_close(w);
        return;
    }
    shutdown(w->fd, SHUT_WR);
    w->state = W_LINGER;
    w->until_ms = now + LINGER_MS;
    w->drained = 0;
}

/* The slot to close for room: of peer's address when peer is set, else any;
 * an answered one first, then the oldest. -1 when none. */
static int slot_victim(const httpd_gate_t *g, const struct sockaddr_in *peer)
{
    int best = -1;
    for (unsigned i = 0; i < g->lim.max_unauth; i++) {
        const waiting_t *w = &g->w[i], *b = best >= 0 ? &g->w[best] : NULL;
        if (w->state == W_FREE || (peer && w->peer.sin_addr.s_addr != peer->sin_addr.s_addr))
            continue;
        if (!b || (w->state == W_LINGER && b->state != W_LINGER) ||
            (w->state == b->state && w->seq < b->seq))
            best = (int)i;
    }
    return best;
}

static void slot_examine(httpd_gate_t *g, waiting_t *w, int64_t now);

/* The slots held from peer's address (*same) and a free one (*free_slot, -1: none). */
static void slot_count(const httpd_gate_t *g, const struct sockaddr_in *peer, unsigned *same,
                       int *free_slot)
{
    *same = 0;
    *free_slot = -1;
    for (unsigned i = 0; i < g->lim.max_unauth; i++) {
        if (g->w[i].state == W_FREE) {
            if (*free_slot < 0)
                *free_slot = (int)i;
        } else if (g->w[i].peer.sin_addr.s_addr == peer->sin_addr.s_addr) {
            (*same)++;
        }
    }
}

/* A free slot for a connection from peer, making room when needed: first by
 * looking again at the heads held (of peer's address when that count is the
 * full one), whose complete ones go to the server (hundreds of slaves that
 * connect at once from one host are accepted faster than their heads are
 * looked at), then by closing one. */
static waiting_t *slot_for(httpd_gate_t *g, const struct sockaddr_in *peer, int64_t now)
{
    unsigned same;
    int free_slot;
    slot_count(g, peer, &same, &free_slot);
    if (same >= g->lim.max_unauth_per_ip || free_slot < 0) {
        for (unsigned i = 0; i < g->lim.max_unauth; i++)
            if (g->w[i].state == W_HEAD &&
                (free_slot < 0 || g->w[i].peer.sin_addr.s_addr == peer->sin_addr.s_addr))
                slot_examine(g, &g->w[i], now);
        slot_count(g, peer, &same, &free_slot);
    }
    while (same >= g->lim.max_unauth_per_ip) { /* its address back under its count */
        int v = slot_victim(g, peer);
        if (free_slot >= 0 && g->w[v].state == W_HEAD && now - g->w[v].since_ms < GRACE_MS)
            return &g->w[free_slot]; /* its oldest is young: past its count, for now */
        slot_close(&g->w[v]);
        free_slot = free_slot < 0 ? v : free_slot;
        same--;
    }
    if (free_slot < 0) {
        free_slot = slot_victim(g, NULL);
        slot_close(&g->w[free_slot]);
    }
    return &g->w[free_slot];
}

/* Look at what w sent so far: hand it over, answer it, or wait for more. */
static void slot_examine(httpd_gate_t *g, waiting_t *w, int64_t now)
{
    ssize_t n = recv(w->fd, g->buf, HTTPD_HEAD_MAX + 1, MSG_PEEK);
    const char *why = NULL;
    head_t h;
    int st;

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        slot_close(w); /* the client went away */
        return;
    }
    if (n < 0)
        return;
    h.b = g->buf;
    h.n = (size_t)n;
    st = head_check(&h, &why);
    if (st < 0) {
        if (h.n > w->seen) {
            w->seen = h.n;
            set_lowat(w->fd, (int)h.n + 1);
        } else {
            w->quiet_until_ms = now + QUIET_MS; /* poll said readable, yet nothing new */
        }
        return;
    }
    if (st > 0) {
        slot_answer(w, st, why, now);
        return;
    }
    if (w->seen)
        set_lowat(w->fd, 1);
    st = g->hand(g->hand_ctx, w->fd, &w->peer);
    if (st == 0)
        memset(w, 0, sizeof *w); /* the server's now */
    else
        slot_answer(w, st, "the server has as many connections as it takes: retry later", now);
}

/* Read and drop what a lingering connection sends; close at its end. */
static void slot_drain(httpd_gate_t *g, waiting_t *w)
{
    ssize_t n = recv(w->fd, g->buf, HTTPD_HEAD_MAX + 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || (w->drained += (size_t)n) > LINGER_MAX)
        slot_close(w);
}

static int has_free(const httpd_gate_t *g)
{
    for (unsigned i = 0; i < g->lim.max_unauth; i++)
        if (g->w[i].state == W_FREE)
            return 1;
    return 0;
}

/* 1 when the table is full and its oldest connection is still in its grace
 * (after looking again at the heads held): then nothing is accepted until it
 * has had it, or a slot frees (g->full_until_ms). */
static int full_of_young(httpd_gate_t *g, int64_t now)
{
    if (has_free(g))
        return 0;
    for (unsigned i = 0; i < g->lim.max_unauth; i++)
        if (g->w[i].state == W_HEAD)
            slot_examine(g, &g->w[i], now); /* a complete head goes to the server */
    if (has_free(g))
        return 0;
    int v = slot_victim(g, NULL);
    if (v < 0 || g->w[v].state != W_HEAD || now - g->w[v].since_ms >= GRACE_MS)
        return 0;
    g->full_until_ms = g->w[v].since_ms + GRACE_MS;
    return 1;
}

static void accept_some(httpd_gate_t *g, int64_t now)
{
    for (int k = 0; k < ACCEPT_BURST; k++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        waiting_t *w;
        if (full_of_young(g, now))
            return;
        int fd = accept4(g->lfd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                g->accept_quiet_until_ms = now + QUIET_MS; /* the backlog waits meanwhile */
            return;
        }
        w = slot_for(g, &peer, now);
        w->fd = fd;
        w->state = W_HEAD;
        w->peer = peer;
        w->seq = ++g->accepted;
        w->since_ms = now;
        w->until_ms = now + g->lim.head_timeout_ms;
        slot_examine(g, w, now); /* the head often came with the connection */
    }
}

/* Deadlines: a head too slow is answered 408, a lingering connection closed. */
static void expire(httpd_gate_t *g, int64_t now)
{
    for (unsigned i = 0; i < g->lim.max_unauth; i++) {
        waiting_t *w = &g->w[i];
        if (w->state == W_FREE || now < w->until_ms)
            continue;
        if (w->state == W_LINGER)
            slot_close(w);
        else
            slot_answer(w, 408, "the request head did not arrive in time (--header-timeout)", now);
    }
}

/* The poll set; returns its size and the poll timeout in *wait_ms. */
static nfds_t poll_set(httpd_gate_t *g, int64_t now, int *wait_ms)
{
    int64_t next = now + TICK_MAX_MS;
    nfds_t n = 0;
    g->pfd[n] = (struct pollfd){.fd = g->wake[0], .events = POLLIN};
    g->pidx[n++] = -1;
    g->pfd[n] = (struct pollfd){.fd = g->lfd, .events = POLLIN};
    if (g->accept_quiet_until_ms > now) {
        g->pfd[n].fd = -1; /* poll ignores it */
        next = g->accept_quiet_until_ms;
    } else if (g->full_until_ms > now && !has_free(g)) {
        g->pfd[n].fd = -1;
        next = g->full_until_ms;
    }
    g->pidx[n++] = -2;
    for (unsigned i = 0; i < g->lim.max_unauth; i++) {
        waiting_t *w = &g->w[i];
        if (w->state == W_FREE)
            continue;
        if (w->until_ms < next)
            next = w->until_ms;
        if (w->state == W_HEAD && w->quiet_until_ms > now) {
            if (w->quiet_until_ms < next)
                next = w->quiet_until_ms;
            continue;
        }
        g->pfd[n] = (struct pollfd){.fd = w->fd, .events = POLLIN};
        g->pidx[n++] = (int)i;
    }
    *wait_ms = next <= now ? 0 : (int)(next - now);
    return n;
}

static void *gate_main(void *data)
{
    httpd_gate_t *g = data;
    for (;;) {
        int64_t now = httpd_now_ms();
        int wait_ms;
        nfds_t n;
        expire(g, now);
        n = poll_set(g, now, &wait_ms);
        if (poll(g->pfd, n, wait_ms) < 0 && errno != EINTR)
            break;
        if (g->pfd[0].revents)
            break; /* httpd_gate_stop */
        now = httpd_now_ms();
        for (nfds_t k = 2; k < n; k++) {
            waiting_t *w = &g->w[g->pidx[k]];
            if (!g->pfd[k].revents || w->state == W_FREE || w->fd != g->pfd[k].fd)
                continue;
            if (w->state == W_HEAD)
                slot_examine(g, w, now);
            else
                slot_drain(g, w);
        }
        if (g->pfd[1].revents)
            accept_some(g, now);
    }
    return NULL;
}

/* --- life ------------------------------------------------------------------ */

httpd_gate_t *httpd_gate_start(int listen_fd, const httpd_limits_t *lim, httpd_gate_hand_t hand,
                               void *ctx, apr_pool_t *pool, abbey_err_t *err)
{
    httpd_gate_t *g = apr_pcalloc(pool, sizeof *g);
    g->lfd = listen_fd;
    g->lim = *lim;
    g->hand = hand;
    g->hand_ctx = ctx;
    g->w = apr_pcalloc(pool, sizeof *g->w * lim->max_unauth);
    g->pfd = apr_pcalloc(pool, sizeof *g->pfd * (lim->max_unauth + 2));
    g->pidx = apr_pcalloc(pool, sizeof *g->pidx * (lim->max_unauth + 2));
    g->buf = apr_palloc(pool, HTTPD_HEAD_MAX + 1);
    if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        abbey_err_set(err, "the HTTP server's gate: pipe: %s", strerror(errno));
        return NULL;
    }
    if (pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        close(g->wake[0]);
        close(g->wake[1]);
        abbey_err_set(err, "the HTTP server's gate: cannot start its thread");
        return NULL;
    }
    return g;
}

void httpd_gate_stop(httpd_gate_t *g)
{
    while (write(g->wake[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(g->thread, NULL);
    for (unsigned i = 0; i < g->lim.max_unauth; i++)
        if (g->w[i].state != W_FREE)
            slot_close(&g->w[i]);
    close(g->lfd);
    close(g->wake[0]);
    close(g->wake[1]);
}
