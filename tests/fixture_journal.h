/* fixture_journal.h - the shared fixture of the journal suites (tests/check_journal.c,
 * tests/check_journal_threads.c): a store in a tmpdir per test, record frames whose header
 * carries the oracle (round = the writer (thread) number, lease = its counter, and the
 * bytes say the same), and what recovery handed back (got_t: every checkpoint and journal
 * frame, in order), with helpers to open, recover, append, rotate and checkpoint.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_JOURNAL_H
#define ABBEY_TESTS_FIXTURE_JOURNAL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>

#include "buf.h"
#include "frame.h"
#include "journal.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_journal.h"
#endif

static apr_pool_t *pool;
static char top[64];   /* the mkdtemp dir */
static char sdir[128]; /* the store's dir inside it (made by journal_open) */

static inline void setup(void)
{
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    strcpy(top, "/tmp/" FIXTURE_SUITE ".XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(sdir, sizeof sdir, "%s/data/store", top);
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void teardown(void)
{
    nftw(top, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

/* ---- frames ---------------------------------------------------------------- */

/* Frame of writer w, number i; pad bytes of data beyond the text. */
static inline void make_frame(int w, int i, size_t pad, buf_t *out)
{
    frame_header_t h;
    abbey_err_t err;
    char *data = malloc(64 + pad);
    int n = snprintf(data, 64, "w%d-i%d;", w, i);

    ck_assert_ptr_nonnull(data);
    memset(data + n, 'x', pad);
    memset(&h, 0, sizeof h);
    h.round = (uint64_t)w;
    h.lease = (uint64_t)i;
    strcpy(h.job, "j");
    strcpy(h.source, "test");
    ck_assert_msg(frame_encode_record(&h, data, (size_t)n + pad, out, &err) == APR_SUCCESS, "%s",
                  err.msg);
    free(data);
}

static inline const char *path_of(const char *base)
{
    static char b[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(b[k], sizeof b[k], "%s/%s", sdir, base);
    return b[k];
}

/* ---- what recovery handed back ------------------------------------------------ */

typedef struct item_t {
    char file[64];
    uint64_t off, w, i;
    size_t len;
    int ckpt;
} item_t;

typedef struct got_t {
    item_t *it;
    int n, cap;
    int stop_at; /* stop when the n-th item arrives (0: never) */
} got_t;

static got_t got_storage; /* static: what a forked child inherits stays reachable */

static inline got_t *new_got(void)
{
    free(got_storage.it);
    memset(&got_storage, 0, sizeof got_storage);
    return &got_storage;
}

static inline int collect(got_t *g, int ckpt, const char *file, uint64_t off, const uint8_t *frame,
                          size_t len, const frame_header_t *h)
{
    item_t *x;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        g->it = realloc(g->it, sizeof *g->it * (size_t)g->cap);
        ck_assert_ptr_nonnull(g->it);
    }
    x = &g->it[g->n++];
    snprintf(x->file, sizeof x->file, "%s", file);
    x->off = off;
    x->w = h->round;
    x->i = h->lease;
    x->len = len;
    x->ckpt = ckpt;
    ck_assert_uint_eq(h->flags, FRAME_FLAG_RECORD);
    ck_assert_int_eq(memcmp(frame, FRAME_MAGIC, 4), 0);
    return g->stop_at && g->n == g->stop_at;
}

static inline int on_ckpt(void *ctx, const char *file, uint64_t off, const uint8_t *frame,
                          size_t len, const frame_header_t *h)
{
    return collect(ctx, 1, file, off, frame, len, h);
}

static inline int on_frame(void *ctx, const char *file, uint64_t off, const uint8_t *frame,
                           size_t len, const frame_header_t *h)
{
    return collect(ctx, 0, file, off, frame, len, h);
}

static inline journal_t *open_store(journal_fsync_t mode)
{
    journal_t *j;
    abbey_err_t err;
    ck_assert_msg(journal_open(sdir, "j", mode, pool, &j, &err) == APR_SUCCESS, "%s", err.msg);
    return j;
}

static inline journal_t *recover(journal_fsync_t mode, got_t *g, journal_recovery_t *rs)
{
    journal_t *j = open_store(mode);
    abbey_err_t err;
    ck_assert_msg(journal_recover(j, on_ckpt, on_frame, g, rs, &err) == APR_SUCCESS, "%s", err.msg);
    return j;
}

static inline uint64_t append(journal_t *j, int w, int i, size_t pad)
{
    buf_t f;
    uint64_t t = 0;
    abbey_err_t err;
    buf_init(&f);
    make_frame(w, i, pad, &f);
    ck_assert_msg(journal_append(j, f.data, f.len, &t, &err) == APR_SUCCESS, "%s", err.msg);
    buf_free(&f);
    return t;
}

static inline uint64_t rotate(journal_t *j)
{
    abbey_err_t err;
    uint64_t seq = journal_rotate(j, &err);
    ck_assert_msg(seq != 0, "%s", err.msg);
    return seq;
}

/* A checkpoint of n frames (writer 100, numbers 0..n-1). */
static inline void checkpoint(journal_t *j, uint64_t seq, int n)
{
    buf_t b;
    abbey_err_t err;
    buf_init(&b);
    for (int i = 0; i < n; i++)
        make_frame(100, i, 10, &b);
    ck_assert_msg(journal_checkpoint(j, seq, b.data, b.len, &err) == APR_SUCCESS, "%s", err.msg);
    buf_free(&b);
}

#endif
