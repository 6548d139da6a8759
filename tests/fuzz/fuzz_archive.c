/* fuzz_archive.c - libFuzzer target for the archive reader (source/source_archive.c over the
 * gz and zst codecs), on arbitrary compressed bytes.
 *
 * zlib and libzstd are fuzzed upstream; this target is about abbey's reader around them:
 * the input window and its refills, members and frames one after the other, the end of the
 * stream, damaged data kept and returned again, and reaching an offset by decompressing.
 * The compressed file is served from memory by a stand-in for the file kind (defined here:
 * the reader reaches its file only through source_file_kind), in pieces of a size the input
 * picks, so window boundaries fall everywhere. The first input byte picks the codec (bit 0),
 * the read size (bits 1-3) and the piece size (bits 4-7); the second the offset of a second
 * reader (a fraction of what the first one read). Traps when a read hands out nothing or
 * more than asked, when the second reader's bytes differ from the first's from its offset,
 * when the two do not end the same way (at a clean end, at the same byte; libzstd finds some
 * damage only with some output room, so with zstd a clean end may meet damaged data), when a
 * clean end's size differs from the bytes read, when a failure or the end is not returned
 * again, or on a damaged-data message without the file's name.
 * Output is capped at 4 MiB per reader (a high ratio only makes a run slow). */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../source/source_archive.c"
#include "../../source/source_gz.c"
#include "../../source/source_zst.c"

#define OUT_CAP (4u << 20)

static const uint8_t *in_data; /* the compressed "file" */
static size_t in_len, in_piece;

typedef struct mem_file_t {
    size_t pos;
} mem_file_t;

static apr_status_t mem_open(source_reader_t *r, uint64_t offset, abbey_err_t *err)
{
    mem_file_t *m = apr_pcalloc(r->pool, sizeof *m);
    m->pos = offset < in_len ? (size_t)offset : in_len;
    r->state = m;
    return APR_SUCCESS;
}

static apr_status_t mem_read(source_reader_t *r, void *buf, size_t max, size_t *got,
                             abbey_err_t *err)
{
    mem_file_t *m = r->state;
    size_t n = in_len - m->pos;
    if (n > max)
        n = max;
    if (n > in_piece)
        n = in_piece;
    *got = n;
    if (!n)
        return APR_EOF;
    memcpy(buf, in_data + m->pos, n);
    m->pos += n;
    return APR_SUCCESS;
}

static void mem_close(source_reader_t *r)
{
}

const source_kind_t source_file_kind = {
    .name = "file", .rules_kind = -1, .open = mem_open, .read = mem_read, .close = mem_close};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_initialize();
    return 0;
}

/* Read kind's stream of the input from offset in reads of step bytes into out (up to
 * OUT_CAP bytes, *n of them); returns how it ended (APR_SUCCESS: at the cap). */
static apr_status_t read_stream(const source_kind_t *kind, uint64_t offset, size_t step,
                                uint8_t *out, size_t *n, apr_pool_t *pool)
{
    source_reader_t r = {.kind = kind, .path = "fuzz.z", .name = "fuzz.z", .pool = pool};
    apr_status_t rv, again;
    abbey_err_t err;
    uint64_t size;
    size_t got;

    *n = 0;
    if ((rv = kind->open(&r, offset, &err)) != APR_SUCCESS) {
        if (rv == SOURCE_DAMAGED && strncmp(err.msg, "fuzz.z: ", 8) != 0)
            __builtin_trap();
        return rv;
    }
    while (*n < OUT_CAP) {
        size_t want = OUT_CAP - *n < step ? OUT_CAP - *n : step;
        rv = kind->read(&r, out + *n, want, &got, &err);
        if (rv != APR_SUCCESS)
            break;
        if (got == 0 || got > want)
            __builtin_trap();
        *n += got;
    }
    if (rv == APR_SUCCESS) {
        kind->close(&r);
        return rv;
    }
    if (rv == SOURCE_DAMAGED && strncmp(err.msg, "fuzz.z: ", 8) != 0)
        __builtin_trap();
    if (kind->read(&r, out, 1, &got, &err) != rv || got) /* a failure or the end is kept */
        __builtin_trap();
    again = kind->total(&r, &size, &err);
    if (rv == APR_EOF && (again != APR_SUCCESS || size != (size < offset ? size : offset + *n)))
        __builtin_trap(); /* (a stream shorter than offset reads nothing) */
    kind->close(&r);
    kind->close(&r);
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t steps[] = {1, 7, 100, 4096, 65536, 1 << 20, 4 << 20, 3};
    static uint8_t *a, *b;
    const source_kind_t *kind;
    apr_status_t ra, rb;
    apr_pool_t *pool;
    size_t na, nb;
    uint64_t off;

    if (size < 2)
        return 0;
    if (!a && (!(a = malloc(OUT_CAP)) || !(b = malloc(OUT_CAP))))
        abort();
    kind = data[0] & 1 ? &source_zst_kind : &source_gz_kind;
    in_piece = (size_t)1 << ((data[0] >> 4) + 4); /* 16 bytes to 512 KiB */
    in_data = data + 2;
    in_len = size - 2;
    apr_pool_create(&pool, NULL);
    ra = read_stream(kind, 0, steps[(data[0] >> 1) & 7], a, &na, pool);
    off = na * data[1] / 255;
    rb = read_stream(kind, off, steps[(data[1] >> 3) & 7], b, &nb, pool);
    /* the end, or the failure, is the same; but whether libzstd finds some damage (a frame
     * shorter than its header says) depends on the room it is given: with zstd, a clean end
     * and damaged data may meet, as long as the bytes handed out agree */
    if (ra != APR_SUCCESS && rb != APR_SUCCESS && rb != ra &&
        !(kind == &source_zst_kind && (ra == SOURCE_DAMAGED || rb == SOURCE_DAMAGED) &&
          (ra == APR_EOF || rb == APR_EOF)))
        __builtin_trap();
    if (ra == APR_EOF && rb == APR_EOF && off + nb != na) /* a clean end is at the same byte */
        __builtin_trap();
    if (nb > na - off)
        nb = na - off;
    if (memcmp(a + off, b, nb) != 0)
        __builtin_trap();
    apr_pool_destroy(pool);
    return 0;
}
