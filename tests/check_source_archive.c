/* check_source_archive.c - unit tests for the archive and stdin kinds (source/source_archive.c,
 * source_gz.c, source_zst.c, source_stdin.c) and what streams change in task.c and instance.c:
 * reading whole and from any offset, gzip members and zstd frames one after the other, the size
 * known only at the end, truncated, corrupt, empty and misnamed archives (an error naming the
 * file and the decompressed offset, after the bytes before it), big decompression ratios
 * bounded by max_line, leases of any cap over an archive, the stop flag on the way to an
 * offset, descriptor paths of archives (also deleted ones), never split, never taken for
 * truncated, standard input, and a glob's files (instance_identify: an archive's head is its
 * original's; instance_locate: a file found again by identity, renamed, cut or gone).
 *
 * Oracles: the test makes the text, compresses it with zlib and libzstd itself (never through
 * abbey), and knows every byte and line of it; counts are computed here from the text. */
#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "check_run.h"
#include "instance.h"
#include "source.h"
#include "task.h"
#include "value.h"

#define FIXTURE_SUITE "check_source_archive"
#include "fixture_source.h"

enum { GZ, ZST };
static const char *const ext[] = {".gz", ".zst"};

/* ---------------------------------------------------------------- making archives */

/* text[0..len) as one gzip member, *n bytes (in the pool). */
static char *gz_member(const char *text, size_t len, size_t *n)
{
    z_stream z = {0};
    size_t cap = len + len / 100 + 64;
    char *out = apr_palloc(pool, cap);
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* text[0..len) as one zstd frame with a checksum, *n bytes (in the pool). */
static char *zst_frame(const char *text, size_t len, size_t *n)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(len);
    char *out = apr_palloc(pool, cap);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    *n = ZSTD_compress2(c, out, cap, text, len);
    ck_assert(!ZSTD_isError(*n));
    ZSTD_freeCCtx(c);
    return out;
}

/* One member (frame) of kind k. */
static char *pack(int k, const char *text, size_t len, size_t *n)
{
    return k == GZ ? gz_member(text, len, n) : zst_frame(text, len, n);
}

/* tmpdir/<name><ext of k> holding text[0..len) as one member; its compressed size in *n. */
static const char *put_archive(int k, const char *name, const char *text, size_t len, size_t *n)
{
    const char *path = tpath(apr_pstrcat(pool, name, ext[k], NULL));
    size_t m;
    char *z = pack(k, text, len, &m);
    put_file(path, z, m);
    if (n)
        *n = m;
    return path;
}

/* nlines lines "u<i> <status>\n" with statuses 200/404/500 in turn, and an unended last line
 * "tail 200" when unended; varied enough that the archive is over 256 KiB for big counts. */
static char *lines_text(int nlines, int unended, size_t *len)
{
    static const int status[] = {200, 404, 500};
    char *t = apr_palloc(pool, (size_t)nlines * 40 + 16), *p = t;
    uint32_t x = 12345;
    for (int i = 0; i < nlines; i++) {
        x = x * 1103515245u + 12345u;
        p += sprintf(p, "u%d-%08x %d\n", i, x, status[i % 3]);
    }
    if (unended)
        p += sprintf(p, "tail 200");
    *len = (size_t)(p - t);
    return t;
}

/* --------------------------------------------------------------------- reading */

/* Everything path holds from offset, read in reads of at most step bytes, into *out (*n
 * bytes); the status that ended it (APR_EOF at a clean end). */
static apr_status_t read_all(const char *path, uint64_t offset, size_t step, char **out, size_t *n,
                             abbey_err_t *err)
{
    source_reader_t *r;
    apr_status_t rv = source_open(path, offset, pool, &r, err);
    size_t cap = 1 << 16, got;
    *n = 0;
    *out = malloc(cap);
    if (rv != APR_SUCCESS)
        return rv;
    for (;;) {
        if (*n + step > cap)
            *out = realloc(*out, cap = 2 * cap + step);
        if ((rv = source_read(r, *out + *n, step, &got, err)) != APR_SUCCESS)
            break;
        ck_assert_uint_gt(got, 0);
        *n += got;
    }
    source_close(r);
    source_close(r); /* twice is safe */
    return rv;
}

/* Reading path from offset gives exactly text[offset..len) and ends cleanly. */
static void expect_text(const char *path, uint64_t offset, size_t step, const char *text,
                        size_t len)
{
    abbey_err_t err;
    char *got;
    size_t n;
    size_t want = offset < len ? len - (size_t)offset : 0;
    ck_assert_msg(read_all(path, offset, step, &got, &n, &err) == APR_EOF, "%s", err.msg);
    ck_assert_uint_eq(n, want);
    ck_assert(memcmp(got, text + (len - want), want) == 0);
    free(got);
}

/* Reading path gives a prefix of text and then SOURCE_DAMAGED, whose message names the path,
 * the decompressed offset (the bytes handed out) and contains why. Returns the prefix length. */
static size_t expect_damaged(const char *path, const char *text, size_t len, const char *why)
{
    abbey_err_t err;
    char *got, *at;
    size_t n;
    ck_assert_int_eq(read_all(path, 0, 4096, &got, &n, &err), SOURCE_DAMAGED);
    ck_assert_uint_le(n, len);
    ck_assert_msg(memcmp(got, text, n) == 0, "the bytes before the damage are the text's");
    free(got);
    at = apr_psprintf(pool, "decompressed byte %" APR_SIZE_T_FMT " ", n);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "names the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, at) != NULL, "says %s: %s", at, err.msg);
    ck_assert_msg(strstr(err.msg, why) != NULL, "says '%s': %s", why, err.msg);
    return n;
}

/* ========================================================================== tests */

/* A big archive (input refilled many times) read whole in reads of any size; its size is
 * unknown until its end, then the decompressed length. */
START_TEST(read_whole_size_at_the_end)
{
    size_t len, n, got;
    const char *text = lines_text(60000, 1, &len);
    const char *path = put_archive(_i, "big", text, len, &n);
    source_reader_t *r;
    uint64_t size;
    abbey_err_t err;
    char buf[1000];

    ck_assert_uint_gt(n, 256u << 10); /* more than one input buffer */
    expect_text(path, 0, 4093, text, len);
    expect_text(put_archive(_i, "small", text, 3000, NULL), 0, 1, text, 3000); /* byte by byte */
    expect_text(path, 0, 4u << 20, text, len);
    ck_assert_int_eq(source_open(path, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_is_stream(r), 1);
    ck_assert_int_eq(source_total(r, &size, &err), APR_INCOMPLETE);
    ck_assert_msg(strstr(err.msg, "known once it was read to its end") != NULL, "%s", err.msg);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_SUCCESS);
    ck_assert_int_eq(source_size(r, &size), APR_INCOMPLETE);
    while (source_read(r, buf, sizeof buf, &got, &err) == APR_SUCCESS)
        ;
    ck_assert_int_eq(source_total(r, &size, &err), APR_SUCCESS);
    ck_assert_uint_eq(size, len);
    source_close(r);
    /* the archive's modification time dates year-less lines (syslog): the file's own */
    struct timeval tv[2] = {{1577836800, 0}, {1577836800, 0}}; /* 2020-01-01T00:00:00Z */
    int64_t mtime = 0;
    ck_assert_int_eq(utimes(path, tv), 0);
    ck_assert_int_eq(source_open(path, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_mtime(r, &mtime, &err), APR_SUCCESS);
    ck_assert_int_eq(mtime, 1577836800);
    source_close(r);
}
END_TEST

/* Opened at any offset, an archive gives the bytes from there (nothing past its end). */
START_TEST(open_at_any_offset)
{
    size_t len;
    const char *text = lines_text(20000, 1, &len);
    const char *path = put_archive(_i, "off", text, len, NULL);
    const uint64_t offs[] = {0, 1, 65535, 65536, 65537, len / 2, len - 1, len, len + 10};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        expect_text(path, offs[i], 65536, text, len);
}
END_TEST

/* The bytes before an open offset are decompressed at the first read, which a stopping
 * process ends (the flag is read between blocks). */
START_TEST(stop_flag_ends_the_way_to_the_offset)
{
    size_t len, got;
    const char *text = lines_text(20000, 0, &len);
    const char *path = put_archive(_i, "stop", text, len, NULL);
    volatile int stop = 1;
    source_reader_t *r;
    abbey_err_t err;
    char buf[4096];

    ck_assert_int_eq(source_open(path, len / 2, pool, &r, &err), APR_SUCCESS);
    source_set_stop(r, &stop);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_EINTR);
    ck_assert_uint_eq(got, 0);
    ck_assert_msg(strstr(err.msg, "the process is stopping") != NULL, "%s", err.msg);
    stop = 0;
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_SUCCESS);
    ck_assert(memcmp(buf, text + len / 2, got) == 0);
    source_close(r);
}
END_TEST

/* Members (gzip, as cat a.gz b.gz and pigz make) and frames (zstd, a skippable one among
 * them) follow each other: one stream, an empty member included. */
START_TEST(members_and_frames_in_a_row)
{
    size_t la, lb, n1, n2, n3;
    const char *a = lines_text(5000, 0, &la), *b = "v1 200\nv2 404\n";
    const char *path = tpath(apr_pstrcat(pool, "multi", ext[_i], NULL));
    char *z1 = pack(_i, a, la, &n1), *z2 = pack(_i, "", 0, &n2), *z3;
    FILE *f = fopen(path, "wb");
    const char *text;

    lb = strlen(b);
    z3 = pack(_i, b, lb, &n3);
    fwrite(z1, 1, n1, f);
    fwrite(z2, 1, n2, f);
    if (_i == ZST) { /* a skippable frame: magic 0x184D2A50, length 4, 4 bytes */
        static const unsigned char skip[] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
        fwrite(skip, 1, sizeof skip, f);
    }
    fwrite(z3, 1, n3, f);
    fwrite(z1, 1, n1, f);
    fclose(f);
    text = apr_pstrcat(pool, a, b, a, NULL);
    expect_text(path, 0, 65536, text, 2 * la + lb);
    expect_text(path, la + 3, 100, text, 2 * la + lb); /* an offset in the third member */
}
END_TEST

/* An archive cut at any point (truncated, or still being written) gives the bytes before the
 * cut, then the error with the file and the decompressed offset; never a crash or a hang. */
START_TEST(truncated_archives)
{
    size_t len, n;
    const char *text = lines_text(3000, 0, &len);
    char *z = pack(_i, text, len, &n);
    const size_t cuts[] = {1, 5, 10, 18, n / 3, n / 2, n - 9, n - 5, n - 1};
    const char *path = tpath(apr_pstrcat(pool, "cut", ext[_i], NULL));
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        put_file(path, z, cuts[i]);
        expect_damaged(path, text, len, "");
    }
    put_file(path, z, n / 2);
    expect_damaged(path, text, len, "the file ends inside a member");
}
END_TEST

/* A bad checksum is found at the member's end: the bytes before it (all of them for gzip;
 * zstd keeps its last block back), then the error. */
START_TEST(bad_checksum)
{
    size_t len, n;
    const char *text = lines_text(2000, 0, &len);
    char *z = pack(_i, text, len, &n);
    const char *path = tpath(apr_pstrcat(pool, "crc", ext[_i], NULL));
    z[n - (_i == GZ ? 8 : 4)] ^= 0x55; /* gzip: CRC-32 then ISIZE; zstd: the xxh64 part */
    put_file(path, z, n);
    n = expect_damaged(path, text, len, _i == GZ ? "incorrect data check" : "hecksum");
    if (_i == GZ)
        ck_assert_uint_eq(n, len);
}
END_TEST

/* Flipped bytes anywhere in the compressed data: the error, after a prefix of the text
 * (deflate may hand out wrong bytes before its CRC tells: only what it says is checked). */
START_TEST(corrupt_anywhere)
{
    size_t len, n;
    const char *text = lines_text(2000, 0, &len);
    char *z = pack(_i, text, len, &n), *bad = apr_palloc(pool, n);
    const char *path = tpath(apr_pstrcat(pool, "bad", ext[_i], NULL));
    for (size_t at = 0; at < n; at += n / 37 + 1) {
        abbey_err_t err;
        if (_i == GZ && at >= 4 && at < 10)
            continue; /* the gzip header's time, flags and OS: informative only */
        char *got;
        size_t m;
        memcpy(bad, z, n);
        bad[at] ^= 0xff;
        put_file(path, bad, n);
        ck_assert_int_eq(read_all(path, 0, 65536, &got, &m, &err), SOURCE_DAMAGED);
        ck_assert_msg(strstr(err.msg, "decompressed byte") != NULL, "%s", err.msg);
        free(got);
    }
}
END_TEST

/* A 0-byte archive is damaged; an archive of nothing is an empty stream, of size 0. */
START_TEST(empty_archives)
{
    const char *path = tpath(apr_pstrcat(pool, "zero", ext[_i], NULL));
    source_reader_t *r;
    abbey_err_t err;
    uint64_t size;
    char buf[16];
    size_t got;

    put_file(path, "", 0);
    expect_damaged(path, "", 0, "an empty file");
    path = put_archive(_i, "nothing", "", 0, NULL);
    ck_assert_int_eq(source_open(path, 0, pool, &r, &err), APR_SUCCESS);
    ck_assert_int_eq(source_read(r, buf, sizeof buf, &got, &err), APR_EOF);
    ck_assert_int_eq(source_total(r, &size, &err), APR_SUCCESS);
    ck_assert_uint_eq(size, 0);
    source_close(r);
}
END_TEST

/* Plain text named .gz/.zst, and a member followed by bytes that are not one: damaged. */
START_TEST(not_what_the_name_says)
{
    const char *text = "u1 200\nu2 200\n";
    const char *path = tpath(apr_pstrcat(pool, "plain", ext[_i], NULL));
    size_t n;
    char *z = pack(_i, text, 14, &n), *buf;

    put_file(path, text, 14);
    expect_damaged(path, text, 14, _i == GZ ? "incorrect header check" : "nknown frame");
    buf = apr_palloc(pool, n + 16);
    memcpy(buf, z, n);
    memcpy(buf + n, "garbage after it", 16);
    put_file(path, buf, n + 16);
    ck_assert_uint_eq(expect_damaged(path, text, 14, ""), 14);
}
END_TEST

/* Found by fuzz_archive: libzstd's failing call moves the output position over bytes it never
 * wrote; the reader hands out none of them, whatever the read size. */
START_TEST(zstd_failure_hands_out_nothing_unwritten)
{
    static const char frames[] = {0x27, (char)0xb5, 0x2f, (char)0xfd, 0x04,       (char)0xfd,
                                  0x04, 0x00,       0x71, 0x00,       (char)0xf9, 0x26,
                                  0x00, 0x71,       0x00, (char)0xf9, 0x26,       0x00};
    const char *path = tpath("fuzz.zst");
    const size_t steps[] = {1, 3, 4096};
    put_file(path, frames, sizeof frames);
    for (size_t i = 0; i < 3; i++) {
        abbey_err_t err;
        char *got;
        size_t n;
        ck_assert_int_eq(read_all(path, 0, steps[i], &got, &n, &err), SOURCE_DAMAGED);
        ck_assert_uint_eq(n, 0);
        ck_assert_msg(strstr(err.msg, "Unsupported frame parameter") != NULL, "%s", err.msg);
        free(got);
    }
}
END_TEST

/* A job "<user> <status>" with max_line as given. */
static rules_config_t *job(const char *max_line)
{
    const char *yaml = apr_psprintf(pool,
                                    "jobs:\n  - name: t\n    sources: [/dev/null]\n"
                                    "    max_line: %s\n"
                                    "    format: {split: \" \", fields: [user, status:int]}\n"
                                    "    groups:\n      - name: g\n        entries:\n"
                                    "          - {name: s, key: [status], values: {n: count}}\n",
                                    max_line);
    rules_config_t *cfg;
    abbey_err_t err;
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &cfg, &err) == APR_SUCCESS,
                  "%s", err.msg);
    return cfg;
}

/* 256 MiB of one byte from a tiny archive: one bad line "line too long" (the reader's memory
 * is its block, whatever the ratio), then the good line after it. */
START_TEST(big_ratio_bounded_by_max_line)
{
    const size_t big = (size_t)256 << 20, chunk = 16u << 20;
    const char *path = tpath(apr_pstrcat(pool, "bomb", ext[_i], NULL));
    rules_config_t *cfg = job("1MiB");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = {.buf = apr_palloc(pool, 4u << 20), .size = 4u << 20};
    char *x = malloc(chunk);
    FILE *f = fopen(path, "wb");
    abbey_err_t err;
    uint64_t done;
    size_t n;

    char *z;

    memset(x, 'x', chunk);
    z = pack(_i, x, chunk, &n);
    free(x);
    for (size_t i = 0; i < big / chunk; i++) /* one member (frame) per 16 MiB */
        fwrite(z, 1, n, f);
    z = pack(_i, "\nu1 200\n", 8, &n);
    fwrite(z, 1, n, f);
    ck_assert_int_lt(ftell(f), 512 << 10); /* over 500:1 */
    fclose(f);
    ck_assert_int_eq(task_run_file(e, path, 0, UINT64_MAX, 1, &io, p, NULL, &done, pool, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(done, big + 8);
    ck_assert_uint_eq(p->lines, 2);
    ck_assert_uint_eq(p->bad_lines, 1);
    ck_assert_uint_eq(p->bytes, big + 8);
}
END_TEST

/* Leases of any cap over an archive, as the slave reads them (at_eof_final, a finite end):
 * whole lines only, never inside one, the unended last line counted at the end, every line
 * once; and the end is not a truncation. */
START_TEST(leases_of_any_cap)
{
    size_t len;
    const char *text = lines_text(40, 1, &len);
    const char *path = put_archive(_i, "lease", text, len, NULL);
    rules_config_t *cfg = job("64");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = {.buf = apr_palloc(pool, 128), .size = 128};
    abbey_err_t err;

    for (uint64_t cap = 1; cap <= len + 1; cap += cap < 40 ? 1 : 37) {
        uint64_t start = 0, done;
        int n = 0;
        partial_clear(p);
        while (start < len && n++ < 1000) {
            ck_assert_int_eq(
                task_run_file(e, path, start, start + cap, 1, &io, p, NULL, &done, pool, &err),
                APR_SUCCESS);
            if (done == start) /* a line longer than the cap: one block */
                ck_assert_int_eq(task_run_file(e, path, start, start + io.size, 1, &io, p, NULL,
                                               &done, pool, &err),
                                 APR_SUCCESS);
            ck_assert_msg(done > start, "cap %" PRIu64 ": no progress at %" PRIu64, cap, start);
            ck_assert_msg(done == len || text[done - 1] == '\n',
                          "cap %" PRIu64 ": a lease ends at %" PRIu64 ", inside a line", cap, done);
            start = done;
        }
        ck_assert_uint_eq(start, len);
        ck_assert_uint_eq(p->lines, 41);
        ck_assert_uint_eq(p->bad_lines, 0);
        ck_assert_uint_eq(p->bytes, len);
    }
}
END_TEST

/* Damaged data in a task: the lines before it count, the error names file and offset. */
START_TEST(task_counts_the_lines_before_the_damage)
{
    size_t len, n;
    const char *text = lines_text(30000, 0, &len); /* zstd blocks are 128 KiB: several */
    char *z = pack(_i, text, len, &n);
    const char *path = tpath(apr_pstrcat(pool, "half", ext[_i], NULL));
    rules_config_t *cfg = job("64");
    engine_t *e = engine_create(&cfg->jobs[0], pool);
    partial_t *p = partial_create(&cfg->jobs[0], pool);
    task_io_t io = {.buf = apr_palloc(pool, 4096), .size = 4096};
    abbey_err_t err;
    uint64_t done, lines = 0;

    put_file(path, z, n / 2);
    ck_assert_int_eq(task_run_file(e, path, 0, UINT64_MAX, 1, &io, p, NULL, &done, pool, &err),
                     SOURCE_DAMAGED);
    ck_assert_uint_gt(done, 0);
    ck_assert_uint_lt(done, len);
    ck_assert_int_eq(text[done - 1], '\n');
    for (uint64_t i = 0; i < done; i++)
        lines += text[i] == '\n';
    ck_assert_uint_eq(p->lines, lines);
    ck_assert_uint_eq(p->bytes, done);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "decompressed byte"), "%s", err.msg);
}
END_TEST

/* Which paths are streams: by suffix (any case), "-" (stdin), and an open descriptor's path by
 * its file's name, even once the file is deleted; a URL never. */
START_TEST(streams_by_name_and_descriptor)
{
    const char *text = "u1 200\nu2 404\n";
    const char *path = put_archive(_i, "fd", text, 14, NULL);
    int fd = open(path, O_RDONLY);
    const char *fdp = apr_psprintf(pool, "/proc/self/fd/%d", fd);

    ck_assert_int_eq(source_path_is_stream("/var/log/a.log.1.gz"), 1);
    ck_assert_int_eq(source_path_is_stream("/var/log/A.LOG.GZ"), 1);
    ck_assert_int_eq(source_path_is_stream("/var/log/a.log.2.zst"), 1);
    ck_assert_int_eq(source_path_is_stream(SOURCE_STDIN), 1);
    ck_assert_int_eq(source_path_is_stream("/var/log/a.log"), 0);
    ck_assert_int_eq(source_path_is_stream("/var/log/gz"), 0);
    ck_assert_int_eq(source_path_is_stream("http://h/a.log.gz"), 0);
    ck_assert_int_eq(source_path_is_stream(tpath("fd.log")), 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(source_path_is_stream(fdp), 1);
    expect_text(fdp, 0, 100, text, 14);
    unlink(path); /* "/proc/self/fd/N" now reads ".../fd.gz (deleted)" */
    ck_assert_int_eq(source_path_is_stream(fdp), 1);
    expect_text(fdp, 7, 100, text, 14);
    close(fd);
}
END_TEST

/* An archive is never split, its head is its decompressed start, and instance.c never takes
 * it for truncated when the committed offset is past its compressed size. */
START_TEST(never_split_nor_truncated)
{
    size_t len, n, got;
    const char *text = lines_text(20000, 0, &len);
    const char *path = put_archive(_i, "one", text, len, &n);
    uint64_t offs[9];
    instance_plan_t plan;
    abbey_err_t err;
    char head[100];
    int parts;

    ck_assert_int_eq(source_split(path, len, 8, offs, &parts, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(parts, 1);
    ck_assert_uint_eq(offs[0], 0);
    ck_assert_uint_eq(offs[1], len);
    ck_assert_int_eq(source_head(path, head, sizeof head, &got, pool, &err), APR_SUCCESS);
    ck_assert_uint_eq(got, sizeof head);
    ck_assert(memcmp(head, text, sizeof head) == 0);
    ck_assert_uint_lt(n, len / 2);
    ck_assert_int_eq(instance_plan(path, "", len - 10, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_int_eq(instance_plan(path, apr_pstrdup(pool, plan.instance), len, pool, &plan, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_int_eq(source_path_is_stream(plan.read_path), 1);
}
END_TEST

/* Standard input ("-"): read as it comes from a pipe, from an offset by reading up to it,
 * sized at its end. */
/* A glob's files: a plain file and its archive have the same head fingerprint (the hash of
 * the first 4 KiB the test wrote); an archive not readable that far has none yet; a head
 * without a whole line gives none; a FIFO is refused. A file is located by its identity at
 * its path, renamed in its directory, cut below the offset (a plain file only) or gone. */
START_TEST(glob_files_identified_and_located)
{
    size_t len, n;
    const char *text = lines_text(2000, 0, &len);
    const char *plain = tpath("x.log"), *arch = put_archive(_i, "x.log.1", text, len, &n);
    instance_file_t fp, fa;
    instance_plan_t plan;
    abbey_err_t err;
    struct stat st;

    put_file(plain, text, len);
    ck_assert_int_eq(instance_identify(plain, pool, &fp, &err), APR_SUCCESS);
    ck_assert_int_eq(instance_identify(arch, pool, &fa, &err), APR_SUCCESS);
    ck_assert_int_eq(stat(plain, &st), 0);
    ck_assert_uint_eq(fp.dev, (uint64_t)st.st_dev);
    ck_assert_uint_eq(fp.ino, (uint64_t)st.st_ino);
    ck_assert_uint_eq(fp.size, len);
    ck_assert_uint_eq(fa.size, n); /* (compressed) */
    ck_assert(fp.has_head && fa.has_head);
    ck_assert_uint_eq(fp.head_len, INSTANCE_HEAD);
    ck_assert_uint_eq(fa.head_len, INSTANCE_HEAD);
    ck_assert_uint_eq(fp.head_hash, value_hash_bytes(text, INSTANCE_HEAD));
    ck_assert_uint_eq(fa.head_hash, fp.head_hash);
    /* small: the whole file; an archive cut short before 4 KiB: no head yet */
    put_archive(_i, "small", text, 100, NULL);
    ck_assert_int_eq(
        instance_identify(tpath(apr_pstrcat(pool, "small", ext[_i], NULL)), pool, &fa, &err),
        APR_SUCCESS);
    ck_assert_uint_eq(fa.head_len, 100);
    ck_assert_uint_eq(fa.head_hash, value_hash_bytes(text, 100));
    ck_assert_int_eq(truncate(arch, 12), 0);
    ck_assert_int_eq(instance_identify(arch, pool, &fa, &err), APR_SUCCESS);
    ck_assert_int_eq(fa.has_head, 0);
    put_file(tpath("noline.log"), "no whole line", 13);
    ck_assert_int_eq(instance_identify(tpath("noline.log"), pool, &fa, &err), APR_SUCCESS);
    ck_assert(fa.has_head && fa.head_len == 0);
    ck_assert_int_eq(mkfifo(tpath("fifo.log"), 0600), 0);
    ck_assert_int_eq(instance_identify(tpath("fifo.log"), pool, &fa, &err), APR_EBADPATH);
    ck_assert_ptr_nonnull(strstr(err.msg, "FIFO"));

    ck_assert_int_eq(instance_locate(plain, fp.dev, fp.ino, 10, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_uint_eq(plan.size, len);
    ck_assert_int_eq(rename(plain, tpath("x.log.0")), 0);
    put_file(plain, "another file\n", 13);
    ck_assert_int_eq(instance_locate(plain, fp.dev, fp.ino, 10, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_str_eq(plan.found, tpath("x.log.0"));
    expect_text(plan.read_path, 0, len, text, len);
    ck_assert_int_eq(instance_locate(plain, fp.dev, fp.ino, len + 1, pool, &plan, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_TRUNCATED);
    ck_assert_int_eq(stat(arch, &st), 0); /* an archive: never cut */
    ck_assert_int_eq(
        instance_locate(arch, (uint64_t)st.st_dev, (uint64_t)st.st_ino, len + 1, pool, &plan, &err),
        APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_SAME);
    ck_assert_int_eq(unlink(tpath("x.log.0")), 0);
    ck_assert_int_eq(instance_locate(plain, fp.dev, fp.ino, 10, pool, &plan, &err), APR_SUCCESS);
    ck_assert_int_eq(plan.kind, INSTANCE_GONE);
}
END_TEST

START_TEST(standard_input)
{
    size_t len, n;
    const char *text = lines_text(20000, 1, &len);
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) { /* the writer: the whole text, in pieces */
        close(fds[0]);
        for (size_t at = 0; at < len; at += n) {
            ssize_t w = write(fds[1], text + at, len - at < 7777 ? len - at : 7777);
            if (w <= 0)
                _exit(1);
            n = (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    ck_assert_int_eq(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    expect_text(SOURCE_STDIN, 5, 65536, text, len);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("source_archive");
    TCase *tc = tcase_create("archive");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, read_whole_size_at_the_end, GZ, ZST + 1);
    tcase_add_loop_test(tc, open_at_any_offset, GZ, ZST + 1);
    tcase_add_loop_test(tc, stop_flag_ends_the_way_to_the_offset, GZ, ZST + 1);
    tcase_add_loop_test(tc, members_and_frames_in_a_row, GZ, ZST + 1);
    tcase_add_loop_test(tc, truncated_archives, GZ, ZST + 1);
    tcase_add_loop_test(tc, bad_checksum, GZ, ZST + 1);
    tcase_add_loop_test(tc, corrupt_anywhere, GZ, ZST + 1);
    tcase_add_loop_test(tc, empty_archives, GZ, ZST + 1);
    tcase_add_loop_test(tc, not_what_the_name_says, GZ, ZST + 1);
    tcase_add_loop_test(tc, big_ratio_bounded_by_max_line, GZ, ZST + 1);
    tcase_add_loop_test(tc, leases_of_any_cap, GZ, ZST + 1);
    tcase_add_loop_test(tc, task_counts_the_lines_before_the_damage, GZ, ZST + 1);
    tcase_add_loop_test(tc, streams_by_name_and_descriptor, GZ, ZST + 1);
    tcase_add_loop_test(tc, never_split_nor_truncated, GZ, ZST + 1);
    tcase_add_loop_test(tc, glob_files_identified_and_located, GZ, ZST + 1);
    tcase_add_test(tc, zstd_failure_hands_out_nothing_unwritten);
    tcase_add_test(tc, standard_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite()) ? 1 : 0;
}
