/* check_framelog.c - unit tests for files of frames (common/framelog.c).
 *
 * Frames are real ones (frame_encode over partials a small split-format job
 * was fed). The oracle is the bytes the test itself put in the file: the
 * offsets are running sums of the frames' lengths, and damaged ranges are
 * where the test cut, flipped or inserted bytes. Covers appending (with and
 * without sync), torn tails at every cut point and their repair on reopen,
 * every single-byte flip of a middle frame, garbage, empty and missing files,
 * a corrupt length claiming 60 MiB, a file size limit hit during an append
 * (RLIMIT_FSIZE in a child), frames bigger than the read block, and walks
 * from a non-zero offset. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>

#include "check_run.h"
#include "buf.h"
#include "engine.h"
#include "frame.h"
#include "framelog.h"
#include "rules.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
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

static void setup(void)
{
    rules_config_t *cfg;
    abbey_err_t err;
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_msg(rules_load_buffer(RULES, strlen(RULES), "fl.yaml", pool, &cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    job = &cfg->jobs[0];
    strcpy(dir, "/tmp/check_framelog.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void teardown(void)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

static const char *path_in(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Frame number i: i+1 lines with keys k0..ki (rows lines long: a bigger frame). */
static void make_frame(int i, long rows, buf_t *out)
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
    int same[MAXSEEN];          /* bytes equal to the oracle's at that offset */
    uint64_t dstart[64], dend[64];
    char why[64][160];
    const uint8_t *oracle;      /* the file's intended bytes, or NULL */
    size_t oracle_len;
} seen_t;

static int on_frame(void *ctx, uint64_t off, const uint8_t *f, size_t len, const frame_header_t *h)
{
    seen_t *s = ctx;
    ck_assert_int_lt(s->nframes, MAXSEEN);
    s->off[s->nframes] = off;
    s->len[s->nframes] = len;
    s->round[s->nframes] = h->round;
    s->same[s->nframes] = s->oracle && off + len <= s->oracle_len &&
                          memcmp(s->oracle + off, f, len) == 0;
    s->nframes++;
    return s->stop_after && s->nframes == s->stop_after;
}

/* Static so that what a forked child inherits stays reachable (valgrind checks children). */
static seen_t seen_storage;

static seen_t *new_seen(void)
{
    memset(&seen_storage, 0, sizeof seen_storage);
    return &seen_storage;
}

static void on_damage(void *ctx, uint64_t start, uint64_t end, const char *why)
{
    seen_t *s = ctx;
    ck_assert_int_lt(s->ndamage, 64);
    s->dstart[s->ndamage] = start;
    s->dend[s->ndamage] = end;
    snprintf(s->why[s->ndamage], sizeof s->why[0], "%s", why);
    s->ndamage++;
}

static void walk(const char *path, uint64_t from, seen_t *s, framelog_stats_t *st)
{
    abbey_err_t err;
    ck_assert_msg(framelog_walk(path, from, on_frame, on_damage, s, st, pool, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

/* n frames back to back in all (with their offsets in off[0..n]). */
static void build(int n, buf_t *all, uint64_t *off)
{
    buf_init(all);
    for (int i = 0; i < n; i++) {
        off[i] = all->len;
        make_frame(i, 0, all);
    }
    off[n] = all->len;
}

/* The walk saw frames first..last-1 of off[] exactly, rounds first.. */
static void expect_frames(const seen_t *s, int at, const uint64_t *off, int first, int last)
{
    for (int i = first; i < last; i++, at++) {
        ck_assert_int_lt(at, s->nframes);
        ck_assert_uint_eq(s->off[at], off[i]);
        ck_assert_uint_eq(s->len[at], off[i + 1] - off[i]);
        ck_assert_uint_eq(s->round[at], (uint64_t)i);
        ck_assert_msg(s->same[at], "frame %d bytes differ", i);
    }
}

/* ---- appending ---------------------------------------------------------- */

START_TEST(test_append_walk)
{
    enum { N = 20 };
    const char *path = path_in("a/b/spool.abf");
    framelog_writer_t *w;
    framelog_stats_t st;
    abbey_err_t err;
    uint64_t off[N + 1], cut = 99;
    buf_t all, f;
    seen_t *s = new_seen();
    struct stat sb;

    build(N, &all, off);
    ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(cut, 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_uint_eq(framelog_size(w), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(framelog_append(w, all.data + off[i], off[i + 1] - off[i], i % 2, &err) ==
                          APR_SUCCESS,
                      "%s", err.msg);
        ck_assert_uint_eq(framelog_size(w), off[i + 1]);
    }
    ck_assert_int_eq(framelog_sync(w, &err), APR_SUCCESS);
    /* not one whole frame: refused, file unchanged */
    ck_assert_int_eq(framelog_append(w, all.data, off[1] - 1, 1, &err), APR_EINVAL);
    ck_assert_int_eq(framelog_append(w, all.data, off[2], 1, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_uint_eq(framelog_size(w), all.len);
    framelog_close(w);
    ck_assert_uint_eq(file_size(path), all.len);

    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, N);
    expect_frames(s, 0, off, 0, N);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.frames, N);
    ck_assert_uint_eq(st.bytes, all.len);
    ck_assert_uint_eq(st.damaged, 0);
    ck_assert_uint_eq(st.damaged_bytes, 0);
    ck_assert_int_eq(st.torn_tail, 0);

    /* reopening a clean file cuts nothing and appends after the end */
    buf_init(&f);
    make_frame(N, 0, &f);
    ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(cut, 0);
    ck_assert_uint_eq(framelog_size(w), all.len);
    ck_assert_int_eq(framelog_append(w, f.data, f.len, 1, &err), APR_SUCCESS);
    framelog_close(w);
    memset(s, 0, sizeof *s);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, N + 1);
    ck_assert_uint_eq(s->off[N], all.len);
    ck_assert_uint_eq(s->round[N], N);
    ck_assert_uint_eq(st.bytes, all.len + f.len);

    /* a callback that says stop ends the walk there */
    memset(s, 0, sizeof *s);
    s->stop_after = 3;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 3);
    ck_assert_uint_eq(st.frames, 3);
    buf_free(&f);
    buf_free(&all);
}
END_TEST

/* Many frames across several read blocks, and a frame bigger than a block. */
START_TEST(test_blocks_and_big_frame)
{
    const char *path = path_in("big.abf");
    framelog_writer_t *w;
    framelog_stats_t st;
    abbey_err_t err;
    buf_t small, big, all;
    seen_t *s = new_seen();
    int nsmall = 0;

    buf_init(&small);
    buf_init(&big);
    buf_init(&all);
    make_frame(3, 0, &small);
    make_frame(7, 150000, &big);
    ck_assert_uint_gt(big.len, 1u << 20); /* bigger than the walker's block */
    ck_assert_msg(framelog_open(path, pool, &w, NULL, &err) == APR_SUCCESS, "%s", err.msg);
    while (all.len < (3u << 20)) {
        if (nsmall == 2000) {
            ck_assert_int_eq(framelog_append(w, big.data, big.len, 0, &err), APR_SUCCESS);
            buf_put(&all, big.data, big.len);
        }
        ck_assert_int_eq(framelog_append(w, small.data, small.len, 0, &err), APR_SUCCESS);
        buf_put(&all, small.data, small.len);
        nsmall++;
    }
    framelog_close(w);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, nsmall + 1);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.bytes, all.len);
    for (int i = 0, at = 0; i < s->nframes; i++) {
        int is_big = i == 2000;
        ck_assert_uint_eq(s->off[i], (uint64_t)at);
        ck_assert_uint_eq(s->len[i], is_big ? big.len : small.len);
        ck_assert_uint_eq(s->round[i], is_big ? 7 : 3);
        ck_assert(s->same[i]);
        at += (int)s->len[i];
    }
    buf_free(&small);
    buf_free(&big);
    buf_free(&all);
}
END_TEST

/* ---- torn tails --------------------------------------------------------- */

START_TEST(test_torn_tail_every_cut)
{
    enum { N = 5 };
    const char *path = path_in("torn.abf");
    uint64_t off[N + 1];
    buf_t all;
    seen_t *s = new_seen();

    build(N, &all, off);
    for (uint64_t c = 1; c < off[N] - off[N - 1]; c++) {
        framelog_writer_t *w;
        framelog_stats_t st;
        abbey_err_t err;
        uint64_t cut = 0;
        char want[80];

        write_file(path, all.data, off[N - 1] + c);
        memset(s, 0, sizeof *s);
        s->oracle = all.data;
        s->oracle_len = all.len;
        walk(path, 0, s, &st);
        ck_assert_int_eq(s->nframes, N - 1);
        expect_frames(s, 0, off, 0, N - 1);
        ck_assert_int_eq(s->ndamage, 1);
        ck_assert_uint_eq(s->dstart[0], off[N - 1]);
        ck_assert_uint_eq(s->dend[0], off[N - 1] + c);
        snprintf(want, sizeof want, "torn tail: %llu bytes of a frame", (unsigned long long)c);
        ck_assert_str_eq(s->why[0], want);
        ck_assert_int_eq(st.torn_tail, 1);
        ck_assert_uint_eq(st.frames, N - 1);
        ck_assert_uint_eq(st.bytes, off[N - 1]);
        ck_assert_uint_eq(st.damaged, 1);
        ck_assert_uint_eq(st.damaged_bytes, c);

        /* reopening cuts the torn bytes; appending then gives a clean file */
        ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
        ck_assert_uint_eq(cut, c);
        ck_assert_ptr_nonnull(strstr(err.msg, path));
        ck_assert_uint_eq(framelog_size(w), off[N - 1]);
        ck_assert_uint_eq(file_size(path), off[N - 1]);
        ck_assert_int_eq(framelog_append(w, all.data + off[N - 1], off[N] - off[N - 1], 1, &err),
                         APR_SUCCESS);
        framelog_close(w);
        memset(s, 0, sizeof *s);
        s->oracle = all.data;
        s->oracle_len = all.len;
        walk(path, 0, s, &st);
        ck_assert_int_eq(s->nframes, N);
        expect_frames(s, 0, off, 0, N);
        ck_assert_int_eq(s->ndamage, 0);
        ck_assert_int_eq(st.torn_tail, 0);
    }
    buf_free(&all);
}
END_TEST

/* ---- corruption --------------------------------------------------------- */

START_TEST(test_byte_flip_middle_frame)
{
    enum { N = 5, M = 2 };
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    const char *path = path_in("flip.abf");
    uint64_t off[N + 1];
    buf_t all;
    seen_t *s = new_seen();

    build(N, &all, off);
    for (size_t m = 0; m < sizeof masks; m++)
        for (uint64_t b = off[M]; b < off[M + 1]; b++) {
            framelog_stats_t st;
            all.data[b] ^= masks[m];
            write_file(path, all.data, all.len);
            memset(s, 0, sizeof *s);
            s->oracle = all.data;
            s->oracle_len = all.len;
            walk(path, 0, s, &st);
            all.data[b] ^= masks[m];
            ck_assert_msg(s->ndamage == 1, "flip 0x%02x at %llu: %d damaged ranges", masks[m],
                          (unsigned long long)(b - off[M]), s->ndamage);
            ck_assert_uint_eq(s->dstart[0], off[M]);
            ck_assert_uint_eq(s->dend[0], off[M + 1]);
            ck_assert_msg(strncmp(s->why[0], "corrupt frame: ", 15) == 0, "%s", s->why[0]);
            ck_assert_int_eq(s->nframes, N - 1);
            expect_frames(s, 0, off, 0, M);
            expect_frames(s, M, off, M + 1, N);
            ck_assert_uint_eq(st.damaged, 1);
            ck_assert_uint_eq(st.damaged_bytes, off[M + 1] - off[M]);
            ck_assert_uint_eq(st.frames, N - 1);
            ck_assert_int_eq(st.torn_tail, 0);
        }
    buf_free(&all);
}
END_TEST

START_TEST(test_garbage)
{
    const char *path = path_in("garbage.abf");
    const char *g1 = "some garbage ABB", *g2 = "xx", *g3 = "trailing junk, no magic";
    framelog_stats_t st;
    framelog_writer_t *w;
    abbey_err_t err;
    uint64_t cut = 9, fo[3], go[3], flen[3];
    buf_t f[3], all;
    seen_t *s = new_seen();

    /* g1 F0 g2 F1 F2 g3: garbage first, between frames, and at the end (not torn: no magic) */
    buf_init(&all);
    for (int i = 0; i < 3; i++) {
        buf_init(&f[i]);
        make_frame(i, 0, &f[i]);
        flen[i] = f[i].len;
    }
    go[0] = all.len, buf_put(&all, g1, strlen(g1));
    fo[0] = all.len, buf_put(&all, f[0].data, f[0].len);
    go[1] = all.len, buf_put(&all, g2, strlen(g2));
    fo[1] = all.len, buf_put(&all, f[1].data, f[1].len);
    fo[2] = all.len, buf_put(&all, f[2].data, f[2].len);
    go[2] = all.len, buf_put(&all, g3, strlen(g3));
    write_file(path, all.data, all.len);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(s->off[i], fo[i]);
        ck_assert_uint_eq(s->len[i], flen[i]);
        ck_assert(s->same[i]);
    }
    ck_assert_int_eq(s->ndamage, 3);
    ck_assert_uint_eq(s->dstart[0], go[0]);
    ck_assert_uint_eq(s->dend[0], fo[0]);
    ck_assert_uint_eq(s->dstart[1], go[1]);
    ck_assert_uint_eq(s->dend[1], fo[1]);
    ck_assert_uint_eq(s->dstart[2], go[2]);
    ck_assert_uint_eq(s->dend[2], all.len);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(s->why[i], "corrupt frame: bad magic (not an abbey frame)");
    ck_assert_uint_eq(st.damaged, 3);
    ck_assert_uint_eq(st.damaged_bytes, strlen(g1) + strlen(g2) + strlen(g3));
    ck_assert_int_eq(st.torn_tail, 0);

    /* the writer keeps corrupt bytes (they are not a torn tail) and appends after them */
    ck_assert_msg(framelog_open(path, pool, &w, &cut, &err) == APR_SUCCESS, "%s", err.msg);
    ck_assert_uint_eq(cut, 0);
    ck_assert_uint_eq(framelog_size(w), all.len);
    ck_assert_int_eq(framelog_append(w, f[0].data, f[0].len, 1, &err), APR_SUCCESS);
    framelog_close(w);
    memset(s, 0, sizeof *s);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 4);
    ck_assert_uint_eq(s->off[3], all.len);
    ck_assert_int_eq(s->ndamage, 3);

    /* damage callback NULL: counted in the stats only */
    ck_assert_int_eq(framelog_walk(path, 0, NULL, NULL, NULL, &st, pool, &err), APR_SUCCESS);
    ck_assert_uint_eq(st.frames, 4);
    ck_assert_uint_eq(st.damaged, 3);

    for (int i = 0; i < 3; i++)
        buf_free(&f[i]);
    buf_free(&all);
}
END_TEST

START_TEST(test_only_garbage_empty_missing)
{
    const char *path = path_in("junk.abf");
    framelog_stats_t st;
    abbey_err_t err;
    uint8_t junk[5000];
    seen_t *s = new_seen();
    apr_status_t rv;

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)('a' + (i * 7) % 26);
    write_file(path, junk, sizeof junk);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 0);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_uint_eq(s->dstart[0], 0);
    ck_assert_uint_eq(s->dend[0], sizeof junk);
    ck_assert_uint_eq(st.damaged_bytes, sizeof junk);
    ck_assert_int_eq(st.torn_tail, 0);

    /* only a prefix of the magic: a torn tail */
    write_file(path, "AB", 2);
    memset(s, 0, sizeof *s);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_str_eq(s->why[0], "torn tail: 2 bytes of a frame");
    ck_assert_int_eq(st.torn_tail, 1);

    write_file(path, "", 0);
    memset(s, 0, sizeof *s);
    memset(&st, 0xff, sizeof st);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes + s->ndamage, 0);
    ck_assert_uint_eq(st.frames + st.bytes + st.damaged + st.damaged_bytes, 0);
    ck_assert_int_eq(st.torn_tail, 0);

    rv = framelog_walk(path_in("nope.abf"), 0, on_frame, on_damage, s, &st, pool, &err);
    ck_assert(APR_STATUS_IS_ENOENT(rv));
    ck_assert_ptr_nonnull(strstr(err.msg, path_in("nope.abf")));

    /* a directory is not a file of frames */
    rv = framelog_walk(dir, 0, on_frame, on_damage, s, &st, pool, &err);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
}
END_TEST

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Largest data segment growth a child may make; 0 when it cannot be measured. */
static long vm_data_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

START_TEST(test_huge_length_field)
{
    enum { N = 3 };
    const char *path = path_in("huge.abf");
    uint64_t off[N + 1];
    framelog_stats_t st;
    buf_t all;
    seen_t *s = new_seen();
    long kb;

    build(N, &all, off);
    put_le32(all.data + off[1] + 12, 60u << 20); /* payload length: 60 MiB */
    write_file(path, all.data, all.len);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 2);
    expect_frames(s, 0, off, 0, 1);
    expect_frames(s, 1, off, 2, 3);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_uint_eq(s->dstart[0], off[1]);
    ck_assert_uint_eq(s->dend[0], off[2]);
    ck_assert_msg(strstr(s->why[0], "corrupt frame: claims") != NULL, "%s", s->why[0]);
    ck_assert_int_eq(st.torn_tail, 0);

    /* as the last frame, nothing after it: indistinguishable from a torn tail */
    write_file(path, all.data, off[2]);
    memset(s, 0, sizeof *s);
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 1);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_uint_eq(s->dstart[0], off[1]);
    ck_assert_uint_eq(s->dend[0], off[2]);
    ck_assert_int_eq(st.torn_tail, 1);

    /* the walk must not allocate what the length claims: run it in a child whose data
     * segment may grow by 16 MiB only (not measurable under ASan's shadow memory
     * or valgrind's own) */
    write_file(path, all.data, all.len);
    kb = vm_data_kb();
    if (!UNDER_ASAN && !RUNNING_ON_VALGRIND && kb > 0) {
        pid_t pid = fork();
        int status;
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct rlimit rl;
            framelog_stats_t cst;
            abbey_err_t err;
            buf_free(&all);
            getrlimit(RLIMIT_DATA, &rl);
            rl.rlim_cur = (rlim_t)(kb + 16 * 1024) * 1024;
            if (setrlimit(RLIMIT_DATA, &rl) != 0)
                _exit(3);
            if (framelog_walk(path, 0, NULL, NULL, NULL, &cst, pool, &err) != APR_SUCCESS)
                _exit(1);
            _exit(cst.frames == 2 && cst.damaged == 1 ? 0 : 2);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "walk under a 16 MiB data limit failed (status 0x%x)", status);
    }
    buf_free(&all);
}
END_TEST

/* ---- out of space ------------------------------------------------------- */

/* In a child (file size limits are per process): append 3 frames, lower the
 * limit to the middle of the 4th, append it, check the failure; write what
 * went wrong to fd and exit non-zero. */
static int efbig_child(const char *path, const buf_t *all, const uint64_t *off, int fd)
{
    framelog_writer_t *w;
    abbey_err_t err;
    struct rlimit rl;
    apr_status_t rv;
    char msg[ABBEY_ERR_MAX + 64] = "";

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        if (write(fd, msg, strlen(msg)) < 0)                                                       \
            return 9;                                                                              \
        return 1;                                                                                  \
    } while (0)

    signal(SIGXFSZ, SIG_IGN);
    if (framelog_open(path, pool, &w, NULL, &err) != APR_SUCCESS)
        FAIL("open: %s", err.msg);
    for (int i = 0; i < 3; i++)
        if (framelog_append(w, all->data + off[i], off[i + 1] - off[i], 1, &err) != APR_SUCCESS)
            FAIL("append %d: %s", i, err.msg);
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = (rlim_t)(off[3] + (off[4] - off[3]) / 2);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit: %s", strerror(errno));
    rv = framelog_append(w, all->data + off[3], off[4] - off[3], 1, &err);
    if (rv != APR_FROM_OS_ERROR(EFBIG))
        FAIL("append past the limit returned %d, not EFBIG: %s", rv, err.msg);
    if (!strstr(err.msg, path) || !strstr(err.msg, "file size limit reached"))
        FAIL("message does not name the path and the limit: %s", err.msg);
    if (framelog_size(w) != off[3])
        FAIL("size %llu after the failed append", (unsigned long long)framelog_size(w));
    {
        struct stat sb;
        if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != off[3])
            FAIL("file is %lld bytes after the failed append, not %llu", (long long)sb.st_size,
                 (unsigned long long)off[3]);
    }
    /* room again: the next append goes right after the last whole frame */
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit back: %s", strerror(errno));
    if (framelog_append(w, all->data + off[4], off[5] - off[4], 1, &err) != APR_SUCCESS)
        FAIL("append after the limit was raised: %s", err.msg);
    framelog_close(w);
    return 0;
#undef FAIL
}

START_TEST(test_file_size_limit)
{
    enum { N = 5 };
    const char *path = path_in("limit/spool.abf");
    uint64_t off[N + 1];
    framelog_stats_t st;
    buf_t all;
    seen_t *s = new_seen();
    int pfd[2], status;
    char msg[2048];
    ssize_t n;
    pid_t pid;

    build(N, &all, off);
    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int rc;
        close(pfd[0]);
        rc = efbig_child(path, &all, off, pfd[1]);
        buf_free(&all); /* leave nothing for valgrind's leak check of the child */
        _exit(rc);
    }
    close(pfd[1]);
    n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (status 0x%x): %s",
                  status, msg);

    /* the file: frames 0, 1, 2 and 4, nothing else */
    s->oracle = NULL;
    walk(path, 0, s, &st);
    ck_assert_int_eq(s->nframes, 4);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(s->round[2], 2);
    ck_assert_uint_eq(s->round[3], 4);
    ck_assert_uint_eq(s->off[3], off[3]);
    ck_assert_uint_eq(st.bytes, off[3] + off[5] - off[4]);
    buf_free(&all);
}
END_TEST

/* ---- walking from an offset -------------------------------------------- */

START_TEST(test_walk_from_offset)
{
    enum { N = 6 };
    const char *path = path_in("from.abf");
    uint64_t off[N + 1];
    framelog_stats_t st;
    buf_t all;
    seen_t *s = new_seen();

    build(N, &all, off);
    write_file(path, all.data, all.len);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, off[2], s, &st);
    ck_assert_int_eq(s->nframes, N - 2);
    expect_frames(s, 0, off, 2, N);
    ck_assert_int_eq(s->ndamage, 0);
    ck_assert_uint_eq(st.bytes, all.len - off[2]);

    /* from the middle of frame 1: its rest is damage, then frames 2.. */
    memset(s, 0, sizeof *s);
    s->oracle = all.data;
    s->oracle_len = all.len;
    walk(path, off[1] + 5, s, &st);
    ck_assert_int_eq(s->ndamage, 1);
    ck_assert_uint_eq(s->dstart[0], off[1] + 5);
    ck_assert_uint_eq(s->dend[0], off[2]);
    expect_frames(s, 0, off, 2, N);

    /* at and past the end: nothing */
    memset(s, 0, sizeof *s);
    walk(path, all.len, s, &st);
    ck_assert_int_eq(s->nframes + s->ndamage, 0);
    walk(path, all.len + 100, s, &st);
    ck_assert_int_eq(s->nframes + s->ndamage, 0);
    ck_assert_uint_eq(st.frames + st.damaged, 0);
    buf_free(&all);
}
END_TEST

static Suite *framelog_suite(void)
{
    Suite *su = suite_create("framelog");
    TCase *tc = tcase_create("append");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_append_walk);
    tcase_add_test(tc, test_blocks_and_big_frame);
    tcase_add_test(tc, test_file_size_limit);
    suite_add_tcase(su, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_torn_tail_every_cut);
    tcase_add_test(tc, test_byte_flip_middle_frame);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_only_garbage_empty_missing);
    tcase_add_test(tc, test_huge_length_field);
    suite_add_tcase(su, tc);

    tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_walk_from_offset);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed;
    failed = check_run(framelog_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
