/* partials.h - the one client of POST /v1/partials: send a frame, read what the master said.
 *
 * The slave's deliveries (deliver.c), its spool's re-delivery (spool.c) and
 * abbey-replay (replay.c) all send frames through partials_post, so a
 * master's answer means the same to the three of them:
 *
 *   200 {"result":"merged"}      PARTIALS_MERGED       delivered
 *   200 {"result":"duplicate"}   PARTIALS_DUPLICATE    delivered: the master had it
 *   200 {"result":"expired"}     PARTIALS_EXPIRED      delivered: taken, but its period
 *                                                      is no longer kept, so it is
 *                                                      counted in no report
 *   409 {"result":"conflict",    PARTIALS_CONFLICT     the master holds part of the range
 *        "ranges":[[a,b],...]}                         from another delivery: out->have
 *   no answer, 5xx               PARTIALS_UNAVAILABLE  not taken: tried again (retry),
 *                                                      then the caller's fallback
 *   anything else                PARTIALS_REFUSED      400, 401, 413, ...; also a 200
 *                                                      without one of the three results
 *                                                      and a 409 whose "ranges" is not a
 *                                                      list of [a, b] integer pairs >= 0
 *                                                      (a peer that is not an abbey master
 *                                                      is never taken for one that took
 *                                                      the frame)
 *
 * What a caller does next (re-read the missing parts, spool, hold, report)
 * is its own: deliver.h, spool.h, docs/REPLAY.md. A master's URL loses its
 * trailing slashes before "/v1/partials" (hclient_base_url). Not
 * thread-safe per client (hclient_t). */
#ifndef ABBEY_PARTIALS_H
#define ABBEY_PARTIALS_H

#include <apr_pools.h>
#include <stddef.h>

#include "frame.h"
#include "hclient.h"
#include "ranges.h"

typedef enum partials_result_t {
    PARTIALS_MERGED,
    PARTIALS_DUPLICATE,
    PARTIALS_EXPIRED,
    PARTIALS_CONFLICT,
    PARTIALS_UNAVAILABLE,
    PARTIALS_REFUSED
} partials_result_t;

/* What the master said. Strings and the set are in the pool given. */
typedef struct partials_answer_t {
    partials_result_t result;
    long status;        /* the last answer's HTTP status; 0 when none came */
    int tries;          /* POSTs made */
    const char *reason; /* UNAVAILABLE, REFUSED: why, on one line: "POST URL: <why none
                           came>" or "HTTP 503: <the master's error>"; "" otherwise */
    ranges_t *have;     /* CONFLICT: the ranges the answer lists, as a set; else NULL */
    const char *ranges; /* CONFLICT: the answer's "ranges" as the master wrote it, for logs */
} partials_answer_t;

/* How partials_post tries again while the answer is PARTIALS_UNAVAILABLE. */
typedef struct partials_retry_t {
    int tries;    /* POSTs at most (< 1: one) */
    int pause_ms; /* before the second; doubled before each later one */
    /* Called (may be NULL) before each pause: try `next` of `tries` comes
     * after pause_ms; reason is the last try's. */
    void (*on_retry)(void *ctx, int next, int tries, int pause_ms, const char *reason);
    void *ctx;
} partials_retry_t;

/* The POST /v1/partials URL of a master at base (its url, or the primary's):
 * hclient_base_url(base) then "/v1/partials", in pool. */
const char *partials_url(const char *base, apr_pool_t *pool);

/* POST the frame[0..len) to url with hc (its token, timeouts and stop flag:
 * a stopped call is not tried again), as retry says (NULL: once), reading
 * answers into resp (the caller's, reused) and what they mean into *out
 * (partials_read). Returns out->result. Cannot fail otherwise. */
partials_result_t partials_post(hclient_t *hc, const char *url, const void *frame, size_t len,
                                const partials_retry_t *retry, hclient_resp_t *resp,
                                apr_pool_t *pool, partials_answer_t *out);

/* The meaning of an answer that came (resp's status and body) into *out, as
 * partials_post fills it (tries 0). Returns out->result. */
partials_result_t partials_read(const hclient_resp_t *resp, apr_pool_t *pool,
                                partials_answer_t *out);

/* What the frame[0..len) (whose header frame_peek gave: h) covers, for logs: "src [a, b)",
 * or for a frame of several ranges "3 ranges: src [a, b), src2 [c, d), ..."; in pool.
 * Cannot fail (a list that does not read back is named by the header's range). */
const char *partials_what(const void *frame, size_t len, const frame_header_t *h, apr_pool_t *pool);

/* "merged", "duplicate", "expired", "conflict", "unavailable", "refused". */
const char *partials_result_name(partials_result_t r);

#endif
