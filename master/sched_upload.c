/* sched_upload.c - what POST /v1/complete keeps between calls: the listings of
 * expansions sent in parts, and the leases whose refusal was logged
 * (docs/CLUSTER.md "Globs over a rotating series", "A listing in parts").
 *
 * A listing too big for one body (the slave's parts stay under 512 KiB; the
 * limit is 1 MiB) comes as several completions of the same expand lease, each
 * with "offset" (the index of its first path in the listing) and "more"
 * (true but for the last). The parts are kept here, by lease, in a pool of
 * their own and under a lock of their own: the scheduler's lock is taken
 * only to check the lease (sched_renew, which also keeps it alive while the
 * parts arrive) and, at the last part, by sched_complete, which applies the
 * whole listing as one expansion (and journals it as one record). A part
 * sent again after its answer was lost (same offset, same count) is taken
 * once. Limits: SCHED_MAX_TASKS matches per listing (those past it are
 * dropped, logged once per lease, as a whole completion's are refused),
 * UPLOAD_LISTING_MAX bytes of paths per listing (413), UPLOAD_TOTAL_MAX over
 * every listing in progress (503: the slave retries later); a listing whose
 * lease ended or whose parts stopped coming for a lease lifetime is dropped. */
#include "sched_int.h"

#include <apr_strings.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "mem.h"

#define UPLOAD_LISTING_MAX ((size_t)64 << 20) /* path and error bytes of one listing */
#define UPLOAD_TOTAL_MAX ((size_t)256 << 20)  /* of every listing in progress */
#define UPLOAD_LOGGED 64                      /* leases whose refusal was logged, remembered */

typedef struct listing_t {
    uint64_t lease;
    char *slave;
    apr_pool_t *pool;          /* the listing's own (a root pool): everything below */
    apr_array_header_t *paths; /* const char * */
    apr_array_header_t *files; /* sched_file_t, one per path; NULL: the parts carry no files */
    size_t bytes;              /* path and error bytes held */
    int64_t last_count;        /* the last part's count (a part sent again is taken once) */
    int64_t touched_ms;        /* the last part came then */
    int dropped;               /* matches past SCHED_MAX_TASKS (logged once) */
    UT_hash_handle hh;         /* sched_upload_t.by_lease */
} listing_t;

struct sched_upload_t {
    apr_thread_mutex_t *lock; /* guards everything here (never held with the scheduler's) */
    listing_t *by_lease;
    size_t bytes;                   /* of every listing */
    uint64_t logged[UPLOAD_LOGGED]; /* ring: leases whose refusal was logged */
    int logged_next;
};

static void listing_free(sched_upload_t *u, listing_t *l)
{
    HASH_DELETE(hh, u->by_lease, l);
    u->bytes -= l->bytes;
    apr_pool_destroy(l->pool); /* l itself is in it */
}

static apr_status_t upload_cleanup(void *data)
{
    sched_upload_t *u = data;
    listing_t *l, *tmp;
    HASH_ITER(hh, u->by_lease, l, tmp)
    {
        listing_free(u, l);
    }
    return APR_SUCCESS;
}

/* The scheduler's upload state, made on first use. */
static sched_upload_t *upload_of(sched_t *s)
{
    sched_upload_t *u = __atomic_load_n(&s->upload, __ATOMIC_ACQUIRE);
    if (u)
        return u;
    apr_thread_mutex_lock(s->lock); /* s->pool is used under it */
    if (!s->upload) {
        u = apr_pcalloc(s->pool, sizeof *u);
        apr_thread_mutex_create(&u->lock, APR_THREAD_MUTEX_DEFAULT, s->pool);
        apr_pool_cleanup_register(s->pool, u, upload_cleanup, apr_pool_cleanup_null);
        __atomic_store_n(&s->upload, u, __ATOMIC_RELEASE);
    }
    u = s->upload;
    apr_thread_mutex_unlock(s->lock);
    return u;
}

/* Drop listings whose parts stopped coming (their lease has expired since). */
static void sweep(sched_upload_t *u, int64_t now_ms, int64_t idle_ms)
{
    listing_t *l, *tmp;
    HASH_ITER(hh, u->by_lease, l, tmp)
    {
        if (now_ms - l->touched_ms > idle_ms)
            listing_free(u, l);
    }
}

static listing_t *listing_new(sched_upload_t *u, const sched_completion_t *c, int64_t now_ms)
{
    apr_pool_t *pool = mem_xpool(NULL);
    listing_t *l = apr_pcalloc(pool, sizeof *l);
    l->lease = c->lease;
    l->slave = apr_pstrdup(pool, c->slave);
    l->pool = pool;
    l->paths = apr_array_make(pool, c->npaths > 0 ? c->npaths : 16, sizeof(const char *));
    if (c->files)
        l->files = apr_array_make(pool, c->npaths > 0 ? c->npaths : 16, sizeof(sched_file_t));
    l->touched_ms = now_ms;
    HASH_ADD(hh, u->by_lease, lease, sizeof l->lease, l);
    return l;
}

/* The bytes part c adds to a listing. */
static size_t part_bytes(const sched_completion_t *c)
{
    size_t n = 0;
    for (int i = 0; i < c->npaths; i++)
        n += strlen(c->paths[i]) + 1 +
             (c->files && c->files[i].error ? strlen(c->files[i].error) : 0);
    return n;
}

/* Append part c to l (strings copied into its pool). */
static void listing_add(sched_upload_t *u, listing_t *l, const sched_completion_t *c, size_t bytes)
{
    int room = SCHED_MAX_TASKS - l->paths->nelts, n = c->npaths < room ? c->npaths : room;
    for (int i = 0; i < n; i++) {
        APR_ARRAY_PUSH(l->paths, const char *) = apr_pstrdup(l->pool, c->paths[i]);
        if (l->files) {
            sched_file_t f = c->files[i];
            if (f.error)
                f.error = apr_pstrdup(l->pool, f.error);
            APR_ARRAY_PUSH(l->files, sched_file_t) = f;
        }
    }
    if (n < c->npaths && !l->dropped)
        log_msg("lease %" PRIu64 " (slave %s): an expansion lists more than %d matches: the "
                "matches past them are left out (SCHED_MAX_TASKS)",
                l->lease, l->slave, SCHED_MAX_TASKS);
    l->dropped += c->npaths - n;
    l->bytes += bytes;
    u->bytes += bytes;
    l->last_count = c->npaths;
}

/* The listing as one completion (its strings in l's pool) for sched_complete. */
static void listing_whole(const listing_t *l, const sched_completion_t *last,
                          sched_completion_t *whole)
{
    *whole = *last;
    whole->npaths = l->paths->nelts;
    whole->paths = (const char *const *)l->paths->elts;
    whole->files = l->files ? (const sched_file_t *)l->files->elts : NULL;
}

apr_status_t sched_upload_part(sched_t *s, const sched_completion_t *c, int64_t offset, int more,
                               int64_t now_ms, int64_t *received, abbey_err_t *err)
{
    sched_upload_t *u = upload_of(s);
    listing_t *l = NULL;
    apr_status_t rv = APR_SUCCESS;
    size_t bytes = part_bytes(c);

    *received = 0;
    if (sched_renew(s, c->slave, c->lease, now_ms, NULL) != APR_SUCCESS) {
        abbey_err_set(err, "lease %" PRIu64 " is not yours (expired?)", c->lease);
        rv = APR_EINVAL;
    }
    apr_thread_mutex_lock(u->lock);
    sweep(u, now_ms, s->opts.lease_ms);
    HASH_FIND(hh, u->by_lease, &c->lease, sizeof c->lease, l);
    if (l && strcmp(l->slave, c->slave) != 0) { /* (lease ids are never used twice) */
        abbey_err_set(err, "lease %" PRIu64 " is not yours", c->lease);
        l = NULL; /* not this slave's to end */
        rv = APR_EINVAL;
    }
    int64_t have = l ? l->paths->nelts + l->dropped : 0;
    if (rv != APR_SUCCESS) {
        /* refused: below */
    } else if (l && more && offset + c->npaths == have && c->npaths == l->last_count) {
        *received = have; /* the last part again: its answer was lost */
        l->touched_ms = now_ms;
    } else if (have != offset) {
        abbey_err_set(err,
                      "lease %" PRIu64 ": a part of its listing at offset %" PRId64
                      ", where %" PRId64 " paths were received",
                      c->lease, offset, have);
        rv = APR_EINVAL;
    } else if (l && (l->files != NULL) != (c->files != NULL)) {
        abbey_err_set(err,
                      "lease %" PRIu64 ": the parts of a listing must all have \"files\" or "
                      "none",
                      c->lease);
        rv = APR_BADARG;
    } else if ((l ? l->bytes : 0) + bytes > UPLOAD_LISTING_MAX) {
        abbey_err_set(err, "lease %" PRIu64 ": its listing holds more than %zu MiB of paths",
                      c->lease, UPLOAD_LISTING_MAX >> 20);
        rv = APR_ENOSPC;
    } else if (u->bytes + bytes > UPLOAD_TOTAL_MAX) {
        abbey_err_set(err, "the listings being received hold %zu MiB: retry later",
                      UPLOAD_TOTAL_MAX >> 20);
        rv = APR_EAGAIN;
    } else {
        if (!l)
            l = listing_new(u, c, now_ms);
        listing_add(u, l, c, bytes);
        l->touched_ms = now_ms;
        *received = l->paths->nelts + l->dropped;
    }
    if (rv == APR_SUCCESS && !more) {
        HASH_DELETE(hh, u->by_lease, l); /* ours now: applied below, outside this lock */
        u->bytes -= l->bytes;
    } else if (rv != APR_SUCCESS && rv != APR_EAGAIN && l) {
        listing_free(u, l); /* refused: the slave gives the listing up (or its lease is gone) */
    }
    apr_thread_mutex_unlock(u->lock);
    if (rv == APR_SUCCESS && !more) {
        sched_completion_t whole;
        listing_whole(l, c, &whole);
        rv = sched_complete(s, &whole, now_ms, err);
        apr_pool_destroy(l->pool);
    }
    return rv;
}

int sched_upload_log_once(sched_t *s, uint64_t lease)
{
    sched_upload_t *u = upload_of(s);
    int fresh = 1;
    apr_thread_mutex_lock(u->lock);
    for (int i = 0; i < UPLOAD_LOGGED && fresh; i++)
        fresh = u->logged[i] != lease;
    if (fresh) {
        u->logged[u->logged_next] = lease;
        u->logged_next = (u->logged_next + 1) % UPLOAD_LOGGED;
    }
    apr_thread_mutex_unlock(u->lock);
    return fresh;
}
