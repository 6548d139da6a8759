/* fixture_framelog.h - the shared fixture of the frame log suites (tests/check_framelog.c,
 * tests/check_framelog_damage.c): a small split-format job "t", a tmpdir per test, real
 * frames made from partials that job was fed (frame i: i + 1 lines; or rows lines of
 * pseudo-random keys, bigger than the read block), frames built back to back with their
 * offsets, and a walk that records every frame and damaged range it is given (seen_t),
 * compared with the bytes the test itself wrote.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_FRAMELOG_H
#define ABBEY_TESTS_FIXTURE_FRAMELOG_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_general.h>

#include "buf.h"
#include "engine.h"
#include "frame.h"
#include "framelog.h"
#include "rules.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_framelog.h"
#endif

static apr_pool_t *pool;
static const rules_job_t *job;
static char dir[64];

static const char *RULES = "jobs:\n"
                           "  - name: t\n"
                           "    sources: [/dev/null]\n"
                           "    format: {split: \"|\", fields: [api, ms:int]}\n"
                           "    groups:\n"
                           "      - name: g\n"
                           "        entries:\n"
                           "          - name: by_api\n"
                           "            key: [api]\n"
                           "            values: {n: count, ms: sum(ms)}\n";

static inline void setup(void)
{
    rules_config_t *cfg;
    abbey_err_t err;
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "fl.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = &cfg->jobs[0];
    strcpy(dir, "/tmp/" FIXTURE_SUITE ".XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static inline void teardown(void)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

static inline const char *path_in(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Frame number i: i+1 lines with keys k0..ki (rows lines long: a bigger frame). */
static inline void make_frame(int i, long rows, buf_t *out)
{
    partial_t *p = partial_create(job, pool);
    engine_t *e = engine_create(job, pool);
    frame_header_t h;
    abbey_err_t err;
    buf_t lines;
    long n = rows ? rows : i + 1;

    buf_init(&lines);
    for (long k = 0; k < n; k++) {
        char line[64];
        /* big frames: pseudo-random keys so the payload hardly compresses */
        unsigned long long x = (unsigned long long)(k + 1) * 0x9E3779B97F4A7C15ull;
        int len = rows ? snprintf(line, sizeof line, "%016llx%08lx|%ld\n", x, k, k)
                       : snprintf(line, sizeof line, "k%ld|%ld\n", k, k * 10 + i);
        buf_put(&lines, line, (size_t)len);
    }
    ck_assert_int_eq(engine_feed(e, (const char *)lines.data, lines.len, 0, p, NULL, NULL),
                     APR_SUCCESS);
    buf_free(&lines);
    memset(&h, 0, sizeof h);
    h.round = (uint64_t)i;
    h.start = (uint64_t)i * 100;
    h.end = h.start + 50;
    strcpy(h.job, "t");
    strcpy(h.source, "host1:/var/log/x");
    strcpy(h.slave, "s1");
    strcpy(h.master, "m1");
    ck_assert_msg(frame_encode(&h, p, NULL, out, &err) == APR_SUCCESS, "%s", err.msg);
    partial_destroy(p);
}

/* ---- what a walk saw ---------------------------------------------------- */

#define MAXSEEN 8192

typedef struct seen_t {
    int nframes, ndamage, stop_after;
    uint64_t off[MAXSEEN];
    size_t len[MAXSEEN];
    uint64_t round[MAXSEEN];
    int same[MAXSEEN]; /* bytes equal to the oracle's at that offset */
    uint64_t dstart[64], dend[64];
    char why[64][160];
    const uint8_t *oracle; /* the file's intended bytes, or NULL */
    size_t oracle_len;
} seen_t;

static inline int on_frame(void *ctx, uint64_t off, const uint8_t *f, size_t len,
                           const frame_header_t *h)
{
    seen_t *s = ctx;
    ck_assert_int_lt(s->nframes, MAXSEEN);
    s->off[s->nframes] = off;
    s->len[s->nframes] = len;
    s->round[s->nframes] = h->round;
    s->same[s->nframes] =
        s->oracle && off + len <= s->oracle_len && memcmp(s->oracle + off, f, len) == 0;
    s->nframes++;
    return s->stop_after && s->nframes == s->stop_after;
}

/* Static so that what a forked child inherits stays reachable (valgrind checks children). */
static seen_t seen_storage;

static inline seen_t *new_seen(void)
{
    memset(&seen_storage, 0, sizeof seen_storage);
    return &seen_storage;
}

static inline void on_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    seen_t *s = ctx;
    ck_assert_int_lt(s->ndamage, 64);
    s->dstart[s->ndamage] = start;
    s->dend[s->ndamage] = end;
    snprintf(s->why[s->ndamage], sizeof s->why[0], "%s", why);
    s->ndamage++;
}

static inline void walk(const char *path, uint64_t from, seen_t *s, framelog_stats_t *st)
{
    abbey_err_t err;
    ck_assert_msg(framelog_walk(path, from, on_frame, on_damage, s, st, pool, &err) == APR_SUCCESS,
                  "%s", err.msg);
}

static inline void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static inline uint64_t file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

/* n frames back to back in all (with their offsets in off[0..n]). */
static inline void build(int n, buf_t *all, uint64_t *off)
{
    buf_init(all);
    for (int i = 0; i < n; i++) {
        off[i] = all->len;
        make_frame(i, 0, all);
    }
    off[n] = all->len;
}

/* The walk saw frames first..last-1 of off[] exactly, rounds first.. */
static inline void expect_frames(const seen_t *s, int at, const uint64_t *off, int first, int last)
{
    for (int i = first; i < last; i++, at++) {
        ck_assert_int_lt(at, s->nframes);
        ck_assert_uint_eq(s->off[at], off[i]);
        ck_assert_uint_eq(s->len[at], off[i + 1] - off[i]);
        ck_assert_uint_eq(s->round[at], (uint64_t)i);
        ck_assert_msg(s->same[at], "frame %d bytes differ", i);
    }
}

#endif
