/* check_framelog_damage.c - unit tests for damaged files of frames (common/framelog.c):
 * torn tails at every cut point and their repair on reopen, every single-byte flip of a
 * middle frame, garbage before, between and after frames, empty and missing files, and a
 * corrupt length claiming 60 MiB (walked in a child under a data limit). Frames are real
 * ones (tests/fixture_framelog.h); the oracle is the bytes the test itself put in the file:
 * the offsets are running sums of the frames' lengths, and the damaged ranges are exactly
 * where the test cut, flipped or inserted bytes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <fcntl.h>
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
#include "frame.h"
#include "framelog.h"

#define FIXTURE_SUITE "check_framelog_damage"
#include "fixture_framelog.h"

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

static Suite *framelog_damage_suite(void)
{
    Suite *su = suite_create("framelog_damage");
    TCase *tc;

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_torn_tail_every_cut);
    tcase_add_test(tc, test_byte_flip_middle_frame);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_only_garbage_empty_missing);
    tcase_add_test(tc, test_huge_length_field);
    suite_add_tcase(su, tc);

    return su;
}

int main(void)
{
    int failed;
    failed = check_run(framelog_damage_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
