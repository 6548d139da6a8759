/* check_journal.c - unit tests for the master's durable store (master/journal.c): an empty
 * store, recovery in order across segments, checkpoints and what recovery replays after
 * them, retention (the exact files left), fallback from a damaged newest checkpoint
 * (flipped byte, truncation), leftover .ckpt.tmp files, damage inside segments (reported
 * and skipped, the rest recovered), a file size limit during an append (in a child),
 * misuse, a caller stopping recovery, a frame of several MiB, and the mode names; group
 * commit with threads is tests/check_journal_threads.c.
 *
 * Frames are record frames (frame_encode_record, tests/fixture_journal.h) whose header
 * carries the oracle: round = the writer number, lease = its counter, and the bytes say the
 * same; the files left in the store are compared with the exact names the test expects. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <dirent.h>
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
#include "frame.h"
#include "journal.h"

#define FIXTURE_SUITE "check_journal"
#include "fixture_journal.h"

/* ---- files ----------------------------------------------------------------- */

static const char *seg(uint64_t seq)
{
    static char b[8][64];
    static int k;
    k = (k + 1) % 8;
    snprintf(b[k], sizeof b[k], "j-%020llu.journal", (unsigned long long)seq);
    return b[k];
}

static const char *ck(uint64_t seq)
{
    static char b[8][64];
    static int k;
    k = (k + 1) % 8;
    snprintf(b[k], sizeof b[k], "j-%020llu.ckpt", (unsigned long long)seq);
    return b[k];
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The store dir's file names, sorted, space-separated (a static buffer). */
static const char *listing(void)
{
    static char out[4096];
    char *names[128];
    int n = 0;
    DIR *d = opendir(sdir);
    struct dirent *de;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && n < 128)
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], name_cmp);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strcat(out, i ? " " : "");
        strcat(out, names[i]);
        free(names[i]);
    }
    return out;
}

/* The store dir holds exactly these files (in any order). */
#define expect_files(...) expect_files_((const char *[]){__VA_ARGS__, NULL})

static void expect_files_(const char **names)
{
    char want[4096] = "";
    const char *sorted[64];
    int n = 0;
    while (names[n] && n < 64) {
        sorted[n] = names[n];
        n++;
    }
    qsort(sorted, (size_t)n, sizeof sorted[0], name_cmp);
    for (int i = 0; i < n; i++) {
        strcat(want, i ? " " : "");
        strcat(want, sorted[i]);
    }
    ck_assert_str_eq(listing(), want);
}

static uint64_t file_size(const char *base)
{
    struct stat sb;
    ck_assert_msg(stat(path_of(base), &sb) == 0, "%s: %s", base, strerror(errno));
    return (uint64_t)sb.st_size;
}

static void flip_byte(const char *base, uint64_t off)
{
    int fd = open(path_of(base), O_RDWR);
    uint8_t c;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

static void cut_file(const char *base, uint64_t size)
{
    ck_assert_int_eq(truncate(path_of(base), (off_t)size), 0);
}

static void touch(const char *base)
{
    int fd = open(path_of(base), O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "junk", 4), 4);
    close(fd);
}

/* Items [from, to) of g are journal frames of writer 0 numbered first.. in order. */
static void expect_run(const got_t *g, int from, int to, int first)
{
    for (int k = from; k < to; k++) {
        ck_assert_int_eq(g->it[k].ckpt, 0);
        ck_assert_uint_eq(g->it[k].w, 0);
        ck_assert_uint_eq(g->it[k].i, (uint64_t)(first + k - from));
    }
}

/* ---- tests -------------------------------------------------------------------- */

START_TEST(test_empty)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    struct stat sb;
    journal_t *j;

    memset(&rs, 0xff, sizeof rs);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(stat(sdir, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    ck_assert_int_eq(g->n, 0);
    ck_assert_uint_eq(rs.checkpoint_seq, 0);
    ck_assert_int_eq(rs.checkpoints_damaged, 0);
    ck_assert_int_eq(rs.segments, 0);
    ck_assert_uint_eq(rs.frames + rs.bytes + rs.damaged + rs.damaged_bytes, 0);
    ck_assert_str_eq(listing(), seg(1));
    journal_stats(j, &st);
    ck_assert_uint_eq(st.appended_frames + st.fsyncs + st.segment_bytes + st.checkpoints, 0);
    ck_assert_uint_eq(st.checkpoint_seq, 0);
    ck_assert_int_eq(st.failed, 0);
    journal_close(j);
    /* again: the empty segment is replayed, the next one is numbered above it */
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(rs.segments, 1);
    ck_assert_int_eq(g->n, 0);
    ck_assert_str_eq(listing(), "j-00000000000000000001.journal j-00000000000000000002.journal");
    journal_close(j);
}
END_TEST

START_TEST(test_segments_in_order)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    abbey_err_t err;
    uint64_t t = 0, bytes = 0, off;

    for (int i = 0; i < 30; i++) {
        if (i == 10 || i == 20)
            ck_assert_uint_eq(rotate(j), (uint64_t)(i / 10 + 1));
        t = append(j, 0, i, (size_t)i * 7);
        ck_assert_uint_eq(t, (uint64_t)i + 1);
    }
    ck_assert_int_eq(journal_commit(j, t, &err), APR_SUCCESS);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.appended_frames, 30);
    bytes = st.appended_bytes;
    ck_assert_uint_eq(st.segment_bytes, bytes); /* no checkpoint: every segment counts */
    journal_close(j);

    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(g->n, 30);
    expect_run(g, 0, 30, 0);
    ck_assert_int_eq(rs.segments, 3);
    ck_assert_uint_eq(rs.frames, 30);
    ck_assert_uint_eq(rs.bytes, bytes);
    ck_assert_uint_eq(rs.damaged, 0);
    for (int k = 0, f = 0; k < 30; k++) {
        if (k % 10 == 0)
            off = 0, f++;
        ck_assert_str_eq(g->it[k].file, seg((uint64_t)f));
        ck_assert_uint_eq(g->it[k].off, off);
        off += g->it[k].len;
    }
    /* appends now go to segment 4 */
    append(j, 0, 30, 0);
    journal_close(j);
    ck_assert_uint_gt(file_size(seg(4)), 0);
}
END_TEST

START_TEST(test_checkpoint_then_newer_segments)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_stats_t st;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    uint64_t seq;

    for (int i = 0; i < 5; i++)
        append(j, 0, i, 0);
    seq = rotate(j);
    ck_assert_uint_eq(seq, 2);
    checkpoint(j, seq, 4);
    for (int i = 5; i < 8; i++)
        append(j, 0, i, 0);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.checkpoints, 1);
    ck_assert_uint_eq(st.checkpoint_seq, 2);
    ck_assert_uint_eq(st.checkpoint_bytes, file_size(ck(2)));
    ck_assert_uint_eq(st.segment_bytes, file_size(seg(2))); /* only since the checkpoint */
    journal_close(j);

    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(g->n, 7);
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(g->it[k].ckpt, 1);
        ck_assert_uint_eq(g->it[k].w, 100);
        ck_assert_uint_eq(g->it[k].i, (uint64_t)k);
        ck_assert_str_eq(g->it[k].file, ck(2));
    }
    expect_run(g, 4, 7, 5);
    ck_assert_uint_eq(rs.checkpoint_seq, 2);
    ck_assert_uint_eq(rs.checkpoint_frames, 4);
    ck_assert_uint_eq(rs.checkpoint_bytes, file_size(ck(2)));
    ck_assert_int_eq(rs.segments, 1);
    ck_assert_uint_eq(rs.frames, 3);
    journal_stats(j, &st);
    ck_assert_uint_eq(st.checkpoint_seq, 2);
    ck_assert_uint_eq(st.checkpoints, 0);
    journal_close(j);
}
END_TEST

START_TEST(test_retention)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);

    append(j, 0, 0, 0);
    checkpoint(j, rotate(j), 1); /* ckpt 2: no previous one, every segment stays */
    expect_files(ck(2), seg(1), seg(2));
    append(j, 0, 1, 0);
    checkpoint(j, rotate(j), 1); /* ckpt 3: keeps ckpt 2 and segments >= 2 */
    expect_files(ck(2), ck(3), seg(2), seg(3));
    append(j, 0, 2, 0);
    checkpoint(j, rotate(j), 1); /* ckpt 4: keeps ckpt 3 and segments >= 3 */
    expect_files(ck(3), ck(4), seg(3), seg(4));
    append(j, 0, 3, 0);
    journal_close(j);

    /* recovery: checkpoint 4, then segment 4 only */
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_uint_eq(rs.checkpoint_seq, 4);
    ck_assert_int_eq(g->n, 2);
    ck_assert_int_eq(g->it[0].ckpt, 1);
    expect_run(g, 1, 2, 3);
    /* a rotation after recovery: segment 6 (5 is the one recovery opened) */
    checkpoint(j, rotate(j), 1);
    expect_files(ck(4), ck(6), seg(4), seg(5), seg(6));
    journal_close(j);
}
END_TEST

/* Redirect stderr (log_msg) to a file while fn runs; returns what was logged. */
static char logged[16384];

static void capture_start(int *saved)
{
    char path[256];
    int fd;
    snprintf(path, sizeof path, "%s/stderr.log", top);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    *saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static const char *capture_end(int saved)
{
    char path[256];
    int fd;
    ssize_t n;
    dup2(saved, 2);
    close(saved);
    snprintf(path, sizeof path, "%s/stderr.log", top);
    fd = open(path, O_RDONLY);
    n = read(fd, logged, sizeof logged - 1);
    close(fd);
    unlink(path);
    logged[n > 0 ? n : 0] = '\0';
    return logged;
}

/* Checkpoints 2 and 3 (3 frames each), segment 3 with frames 10..12, segment 4 empty. */
static void two_checkpoints(void)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    append(j, 0, 0, 0);
    checkpoint(j, rotate(j), 3);
    append(j, 0, 1, 0);
    checkpoint(j, rotate(j), 3);
    for (int i = 10; i < 13; i++)
        append(j, 0, i, 0);
    journal_close(j);
}

static void expect_fallback(const got_t *g, const journal_recovery_t *rs)
{
    ck_assert_uint_eq(rs->checkpoint_seq, 2);
    ck_assert_int_eq(rs->checkpoints_damaged, 1);
    ck_assert_uint_eq(rs->checkpoint_frames, 3);
    /* checkpoint 2's frames, then segments 2 and 3 */
    ck_assert_int_eq(g->n, 3 + 4);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(g->it[k].ckpt, 1);
    ck_assert_str_eq(g->it[0].file, ck(2));
    expect_run(g, 3, 4, 1);
    ck_assert_str_eq(g->it[3].file, seg(2));
    expect_run(g, 4, 7, 10);
    ck_assert_int_eq(rs->segments, 2);
}

START_TEST(test_damaged_checkpoint_flip)
{
    got_t *g;
    journal_recovery_t rs;
    journal_t *j;
    int saved;
    const char *log;
    uint64_t size;

    two_checkpoints();
    size = file_size(ck(3));
    flip_byte(ck(3), size / 2 + 3); /* inside the second frame */
    g = new_got();
    capture_start(&saved);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    log = capture_end(saved);
    expect_fallback(g, &rs);
    ck_assert_msg(strstr(log, ck(3)) && strstr(log, "checkpoint damaged at byte offset"), "%s",
                  log);
    /* no frame of the damaged checkpoint was handed out (validated first) */
    for (int k = 0; k < g->n; k++)
        ck_assert_str_ne(g->it[k].file, ck(3));
    /* the next checkpoint keeps the one loaded, and drops the damaged one */
    checkpoint(j, rotate(j), 1);
    expect_files(ck(2), ck(5), seg(2), seg(3), seg(4), seg(5));
    journal_close(j);
}
END_TEST

START_TEST(test_damaged_checkpoint_truncated)
{
    got_t *g;
    journal_recovery_t rs;
    journal_t *j;
    int saved;

    two_checkpoints();
    cut_file(ck(3), file_size(ck(3)) - 5);
    g = new_got();
    capture_start(&saved);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    capture_end(saved);
    expect_fallback(g, &rs);
    journal_close(j);

    /* both damaged: no checkpoint, every segment (what retention kept) */
    flip_byte(ck(2), 30);
    g = new_got();
    capture_start(&saved);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    capture_end(saved);
    ck_assert_uint_eq(rs.checkpoint_seq, 0);
    ck_assert_int_eq(rs.checkpoints_damaged, 2);
    ck_assert_int_eq(g->n, 4); /* segments 2..4: frames 1, 10, 11, 12 (1 went with seg 1) */
    expect_run(g, 0, 1, 1);
    expect_run(g, 1, 4, 10);
    journal_close(j);
}
END_TEST

START_TEST(test_leftover_tmp)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);

    journal_close(j);
    touch("j-00000000000000000007.ckpt.tmp");
    touch("other-00000000000000000009.ckpt.tmp"); /* another store's: not ours */
    touch("j-notaseq.journal");
    j = open_store(JOURNAL_FSYNC_BATCH);
    expect_files(seg(1), "j-notaseq.journal", "other-00000000000000000009.ckpt.tmp");
    ck_assert_int_eq(journal_recover(j, on_ckpt, on_frame, g, &rs, NULL), APR_SUCCESS);
    /* the new segment is numbered above the deleted tmp file's seq */
    ck_assert_int_eq(access(path_of(seg(8)), F_OK), 0);
    journal_close(j);
}
END_TEST

START_TEST(test_segment_damage)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    uint64_t flip_off, flip_len, torn_off, torn_len;
    int saved;
    const char *log;

    for (int i = 0; i < 15; i++) {
        if (i == 5 || i == 10)
            rotate(j);
        append(j, 0, i, 100);
    }
    journal_close(j);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    journal_close(j);
    ck_assert_int_eq(g->n, 15);
    /* frame 7 (the middle of segment 2) gets a flipped byte; frame 14 (the last of
     * segment 3) loses its last 9 bytes */
    flip_off = g->it[7].off;
    flip_len = g->it[7].len;
    torn_off = g->it[14].off;
    torn_len = g->it[14].len - 9;
    flip_byte(seg(2), flip_off + flip_len / 2);
    cut_file(seg(3), torn_off + torn_len);

    g = new_got();
    capture_start(&saved);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    log = capture_end(saved);
    ck_assert_int_eq(g->n, 13);
    expect_run(g, 0, 7, 0);
    expect_run(g, 7, 13, 8); /* everything after the damaged frame */
    ck_assert_uint_eq(rs.damaged, 2);
    ck_assert_uint_eq(rs.damaged_bytes, flip_len + torn_len);
    ck_assert_uint_eq(rs.frames, 13);
    ck_assert_msg(strstr(log, seg(2)) && strstr(log, "corrupt frame"), "%s", log);
    ck_assert_msg(strstr(log, seg(3)) && strstr(log, "torn tail"), "%s", log);
    journal_close(j);
}
END_TEST

START_TEST(test_misuse)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = open_store(JOURNAL_FSYNC_BATCH);
    abbey_err_t err;
    buf_t f;
    uint64_t t = 99;

    buf_init(&f);
    make_frame(0, 0, 0, &f);
    /* before recovery */
    ck_assert_int_eq(journal_append(j, f.data, f.len, &t, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "journal_recover") != NULL, "%s", err.msg);
    ck_assert_uint_eq(journal_rotate(j, &err), 0);
    ck_assert_int_eq(journal_recover(j, on_ckpt, on_frame, g, &rs, &err), APR_SUCCESS);
    ck_assert_int_eq(journal_recover(j, on_ckpt, on_frame, g, &rs, &err), APR_EINVAL);
    /* not one whole frame: refused, the store stays usable */
    ck_assert_int_eq(journal_append(j, f.data, f.len - 1, &t, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "not one whole frame") && strstr(err.msg, sdir), "%s", err.msg);
    buf_put(&f, "x", 1);
    ck_assert_int_eq(journal_append(j, f.data, f.len, &t, &err), APR_EINVAL);
    ck_assert_int_eq(journal_append(j, f.data, 0, &t, &err), APR_EINVAL);
    ck_assert_uint_eq(t, 99);
    ck_assert_uint_eq(append(j, 0, 0, 0), 1);
    /* checkpoints: a seq not from rotate, bytes that are not frames, then a good one */
    ck_assert_int_eq(journal_checkpoint(j, 9, f.data, f.len - 1, &err), APR_EINVAL);
    ck_assert_int_eq(journal_checkpoint(j, 1, f.data, f.len, &err), APR_EINVAL);
    ck_assert_int_eq(journal_checkpoint(j, rotate(j), f.data, f.len, &err), APR_EINVAL);
    ck_assert_msg(strstr(err.msg, "not a whole frame") != NULL, "%s", err.msg);
    ck_assert_int_eq(journal_checkpoint(j, 2, NULL, 0, &err), APR_SUCCESS); /* empty state */
    ck_assert_int_eq(journal_checkpoint(j, 2, NULL, 0, &err), APR_EINVAL);  /* not again */
    ck_assert_str_eq(listing(), "j-00000000000000000001.journal j-00000000000000000002.ckpt "
                                "j-00000000000000000002.journal");
    journal_close(j);
    buf_free(&f);
    /* a bad name or mode */
    ck_assert_int_eq(journal_open(sdir, "a/b", JOURNAL_FSYNC_BATCH, pool, &j, &err), APR_EINVAL);
    ck_assert_int_eq(journal_open(sdir, "", JOURNAL_FSYNC_BATCH, pool, &j, &err), APR_EINVAL);
    ck_assert_int_eq(journal_open(sdir, "j", (journal_fsync_t)7, pool, &j, &err), APR_EINVAL);
    /* recovery of the empty checkpoint */
    j = recover(JOURNAL_FSYNC_BATCH, new_got(), &rs);
    ck_assert_uint_eq(rs.checkpoint_seq, 2);
    ck_assert_uint_eq(rs.checkpoint_frames, 0);
    journal_close(j);
}
END_TEST

START_TEST(test_caller_stops)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    abbey_err_t err;

    for (int i = 0; i < 5; i++)
        append(j, 0, i, 0);
    journal_close(j);
    j = open_store(JOURNAL_FSYNC_BATCH);
    g = new_got();
    g->stop_at = 3;
    ck_assert_int_ne(journal_recover(j, on_ckpt, on_frame, g, &rs, &err), APR_SUCCESS);
    ck_assert_msg(strstr(err.msg, "stopped by the caller") && strstr(err.msg, seg(1)), "%s",
                  err.msg);
    ck_assert_int_eq(g->n, 3);
    journal_close(j);
}
END_TEST

START_TEST(test_big_frame)
{
    enum { BIG = 5 << 20 };
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    uint8_t *data = malloc(BIG);
    uint64_t x = 88172645463325252ull, t;
    frame_header_t h;
    abbey_err_t err;
    buf_t f;

    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < BIG; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    memset(&h, 0, sizeof h);
    h.lease = 1;
    buf_init(&f);
    ck_assert_int_eq(frame_encode_record(&h, data, BIG, &f, &err), APR_SUCCESS);
    append(j, 0, 0, 0);
    ck_assert_int_eq(journal_append(j, f.data, f.len, &t, &err), APR_SUCCESS);
    append(j, 0, 2, 0);
    ck_assert_int_eq(journal_commit(j, t + 1, &err), APR_SUCCESS);
    journal_close(j);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(g->n, 3);
    expect_run(g, 0, 3, 0);
    ck_assert_uint_eq(g->it[1].len, f.len);
    ck_assert_uint_eq(rs.bytes, file_size(seg(1)));
    journal_close(j);
    buf_free(&f);
    free(data);
}
END_TEST

/* ---- a file size limit ------------------------------------------------------------ */

/* In a child: recover, append 3 frames, lower the file size limit to the middle
 * of the 4th, append it; check the failure and that the store stays failed.
 * Writes what went wrong to fd; returns the exit code. */
static int efbig_child(int fd)
{
    char msg[ABBEY_ERR_MAX + 128] = "";
    journal_recovery_t rs;
    journal_t *j;
    abbey_err_t err;
    struct rlimit rl;
    struct stat sb;
    buf_t f;
    uint64_t t = 0, size = 0;
    int rc = 0;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(msg, sizeof msg, __VA_ARGS__);                                                    \
        rc = 1;                                                                                    \
        goto out;                                                                                  \
    } while (0)

    signal(SIGXFSZ, SIG_IGN);
    buf_init(&f);
    if (journal_open(sdir, "j", JOURNAL_FSYNC_BATCH, pool, &j, &err) != APR_SUCCESS ||
        journal_recover(j, NULL, NULL, NULL, &rs, &err) != APR_SUCCESS) {
        snprintf(msg, sizeof msg, "open: %s", err.msg);
        buf_free(&f);
        if (write(fd, msg, strlen(msg)) < 0)
            return 9;
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        buf_reset(&f);
        make_frame(0, i, 500, &f);
        if (journal_append(j, f.data, f.len, &t, &err) != APR_SUCCESS)
            FAIL("append %d: %s", i, err.msg);
        size += f.len;
    }
    buf_reset(&f);
    make_frame(0, 3, 500, &f);
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = (rlim_t)(size + f.len / 2);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        FAIL("setrlimit: %s", strerror(errno));
    if (journal_append(j, f.data, f.len, &t, &err) != APR_FROM_OS_ERROR(EFBIG))
        FAIL("append past the limit did not fail with EFBIG: %s", err.msg);
    if (!strstr(err.msg, path_of(seg(1))) || !strstr(err.msg, "file size limit"))
        FAIL("the message does not name the file and the limit: %s", err.msg);
    if (stat(path_of(seg(1)), &sb) != 0 || (uint64_t)sb.st_size != size)
        FAIL("the segment is %lld bytes after the failed append, not %llu", (long long)sb.st_size,
             (unsigned long long)size);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_FSIZE, &rl);
    /* failed: sticky for appends and commits */
    buf_reset(&f);
    make_frame(0, 4, 0, &f);
    if (journal_append(j, f.data, f.len, &t, &err) == APR_SUCCESS ||
        !strstr(err.msg, "file size limit"))
        FAIL("an append after the failure: %s", err.msg);
    if (journal_commit(j, 1, &err) == APR_SUCCESS || !strstr(err.msg, "failed earlier"))
        FAIL("a commit after the failure: %s", err.msg);
    if (journal_rotate(j, &err) != 0)
        FAIL("a rotation after the failure succeeded");
    {
        journal_stats_t st;
        journal_stats(j, &st);
        if (!st.failed || st.appended_frames != 3)
            FAIL("stats: failed %d, %llu frames", st.failed,
                 (unsigned long long)st.appended_frames);
    }
out:
    journal_close(j);
    buf_free(&f);
    if (rc && write(fd, msg, strlen(msg)) < 0)
        return 9;
    return rc;
#undef FAIL
}

START_TEST(test_file_size_limit)
{
    got_t *g = new_got();
    journal_recovery_t rs;
    journal_t *j;
    int pfd[2], status;
    char msg[2048];
    ssize_t n;
    pid_t pid;

    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int rc;
        close(pfd[0]);
        rc = efbig_child(pfd[1]);
        apr_pool_destroy(pool);
        apr_terminate();
        _exit(rc);
    }
    close(pfd[1]);
    n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child (status 0x%x): %s", status,
                  msg);
    j = recover(JOURNAL_FSYNC_BATCH, g, &rs);
    ck_assert_int_eq(g->n, 3);
    expect_run(g, 0, 3, 0);
    ck_assert_uint_eq(rs.damaged, 0);
    journal_close(j);
}
END_TEST

START_TEST(test_fsync_names)
{
    journal_fsync_t f = JOURNAL_FSYNC_NEVER;
    static const char *names[] = {"batch", "always", "never"};
    static const journal_fsync_t modes[] = {JOURNAL_FSYNC_BATCH, JOURNAL_FSYNC_ALWAYS,
                                            JOURNAL_FSYNC_NEVER};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(journal_fsync_parse(names[i], &f), 0);
        ck_assert_int_eq(f, modes[i]);
        ck_assert_str_eq(journal_fsync_name(modes[i]), names[i]);
    }
    f = JOURNAL_FSYNC_ALWAYS;
    ck_assert_int_eq(journal_fsync_parse("", &f), -1);
    ck_assert_int_eq(journal_fsync_parse("sometimes", &f), -1);
    ck_assert_int_eq(journal_fsync_parse("batch ", &f), -1);
    ck_assert_int_eq(journal_fsync_parse(NULL, &f), -1);
    ck_assert_int_eq(f, JOURNAL_FSYNC_ALWAYS);
    ck_assert_int_eq(JOURNAL_FSYNC_BATCH, 0); /* the default */
    ck_assert_str_eq(journal_fsync_name((journal_fsync_t)42), "unknown");
}
END_TEST

static Suite *journal_suite(void)
{
    Suite *su = suite_create("journal");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_segments_in_order);
    tcase_add_test(tc, test_checkpoint_then_newer_segments);
    tcase_add_test(tc, test_retention);
    tcase_add_test(tc, test_leftover_tmp);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_caller_stops);
    tcase_add_test(tc, test_big_frame);
    tcase_add_test(tc, test_fsync_names);
    suite_add_tcase(su, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_damaged_checkpoint_flip);
    tcase_add_test(tc, test_damaged_checkpoint_truncated);
    tcase_add_test(tc, test_segment_damage);
    tcase_add_test(tc, test_file_size_limit);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    int failed = check_run(journal_suite());
    free(got_storage.it);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
