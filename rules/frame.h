/* frame.h - the frame: one partial result for one source range, on the wire and on disk.
 *
 * The same bytes are the body of POST /v1/partials, a master journal record
 * and a slave spool record. Layout (integers little-endian):
 *
 *   0   magic "ABBF"                      4 bytes
 *   4   version (1 or 2)                  1
 *   5   flags (0, or FRAME_FLAG_RECORD)   1
 *   6   reserved (0)                      2
 *   8   header length H                   4   (<= FRAME_MAX_HEADER)
 *   12  payload length Z (compressed)     4   (<= FRAME_MAX_PAYLOAD)
 *   16  payload length U (uncompressed)   4   (<= FRAME_MAX_RAW)
 *   20  header                            H   (fields below, in order)
 *   20+H payload, zlib (1) or zstd (2)    Z   (U <= Z * 1032)
 *   20+H+Z CRC32 of bytes [0, 20+H+Z)     4
 *
 * Header: config_hash u64, round u64, lease u64, start u64, end u64, lines
 * varint, bad_lines varint, bytes varint, then strings (varint length + bytes):
 * job, source, slave, master, then, only when it is not zero, regex_limit_hits
 * varint (a frame without it, as every frame before it existed, decodes with
 * 0; a frame with it is refused by a decoder that predates it), then, only
 * when some bad line has a reason (and regex_limit_hits is then written even
 * when 0), the bad lines by reason: varint count n (<= PARTIAL_REASONS_MAX),
 * then n times the reason's name (string, partial_reason_name, at most
 * PARTIAL_REASON_NAME_MAX bytes, each name once) and its varint count, names
 * never numbers, so that builds with more or fewer reasons agree. A decoder
 * counts a name it does not know, and the bad lines no reason accounts for
 * (every frame from before reasons), under "unknown"; reasons adding up to
 * more than bad_lines make the frame corrupt. Then, only in a frame of
 * several ranges (docs/CLUSTER.md "Frames of several ranges"; regex_limit_hits
 * and the reasons are then written even when 0), the range list: varint n
 * (2 to FRAME_MAX_RANGES), then n times: source (string, 1 to
 * FRAME_SOURCE_MAX - 1 bytes, no NUL), lease, start, end, lines, bad_lines,
 * bytes (varints). The header's lease, start, end and source are then the
 * first range's, and its lines, bad_lines, bytes, regex_limit_hits and
 * reasons the whole frame's. A list is corrupt when n is out of bounds, a
 * range is empty (start >= end), the first range is not the header's, two
 * ranges of one source overlap, or the ranges' lines, bad_lines and bytes do
 * not add up to the header's. A frame of one range has no list (nranges 1);
 * a decoder that predates lists refuses one ("unexpected bytes after the
 * fields"). The header is the same in both versions.
 *
 * Payload, version 1: varint group count, then per group:
 * group name, varint entry count, per entry: entry name, varint value count,
 * one byte agg kind per value (followed by p as f64 for percentile, by the
 * cap as varint for distinct_exact), varint row count, per row: key (string),
 * then each value's agg_encode bytes. The values are the entry's states
 * (rules.h specs: its values, then the hidden line count of an entry without
 * a count value and without `top:`); a frame from before the hidden count
 * carries the values only, and is read with those rows' lines 0. An entry
 * with `top:` (a summary, ptable_top.h) has, after its row count, varint m
 * (the rows it keeps: the rules' capacity, and at most m rows) and its floor
 * (agg_encode of the ranked value's kind), and after each row's values the
 * row's error (the same); it has no hidden count and never an overflow row.
 * Then, only when some entry of the frame has an overflow row (ptable.h,
 * max_keys): varint n, and n times the entry's name (string, an entry of the
 * frame without `top:`, once), its overflow row's states (agg_encode each, as
 * a row's) and its folded keys (agg_encode of a distinct state). A frame
 * without them reads as before; a decoder that predates them refuses a frame
 * with them ("unexpected bytes after the last group"), as it refuses the
 * hidden count ("has N+1 values"): upgrade masters before slaves. An entry
 * with neither `top:` nor a hidden count is written as before both.
 *
 * Payload, version 2 (what frame_encode writes; see agg.h, "the frame
 * dictionary"): the frame dictionary (every 64-bit hash the frame's sets hold,
 * once), then the groups and the overflow rows as in version 1 (every state,
 * a summary's m, floor and errors, the folded keys), except that an entry's
 * rows are in the order of their key bytes, each key written as varint bytes
 * shared with the previous key and the rest (string), and each state (the
 * folded keys too) as agg_encode_dict (or, for a row's state, agg_encode_derived)
 * bytes: sets as indices into the dictionary, a distinct that a distinct_exact
 * of the row determines as a reference to it, whole-number percentile extremes
 * as integers. Keys must be strictly increasing; an entry has all its states
 * (the hidden count included). What the payload may make a decoder allocate (hashes, set
 * members, registers, key bytes; agg.h's budget) is bounded by what a version
 * 1 payload of the same compressed size could hold, Z * 1032 / 8 units of 8
 * bytes (and FRAME_MAX_RAW / 8): a frame claiming more is corrupt, and
 * frame_encode writes version 1 for a partial that would (so compressible
 * that a decoder could not tell it from a bomb), and for one whose version 2
 * payload would exceed FRAME_MAX_RAW.
 *
 * A record frame (flags = FRAME_FLAG_RECORD) has the same layout and header,
 * but its payload is the zlib (version 1, what frame_encode_record writes) or
 * zstd (version 2) of opaque bytes (a master's state record or
 * checkpoint metadata, JSON by convention), never a partial: frame_decode
 * refuses it, frame_record reads it. Masters refuse record frames on
 * POST /v1/partials.
 *
 * Decoders bound every length before trusting it, check the CRC before
 * inflating, never read outside the buffer, and decode all-or-nothing. */
#ifndef ABBEY_FRAME_H
#define ABBEY_FRAME_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "partial.h"

#define FRAME_MAGIC "ABBF"
/* frame_encode writes version 2 (version 1 for a partial too compressible for it);
 * frame_encode_record writes version 1 (a record's payload is the same in both, only
 * its compression differs); the decoders read both. */
#define FRAME_VERSION 2
#define FRAME_VERSION_MIN 1
#define FRAME_RECORD_VERSION 1
#define FRAME_FIXED 20               /* bytes before the header */
#define FRAME_MAX_HEADER (32u << 10) /* 4 KiB before range lists: 16 of the longest sources */
#define FRAME_MAX_PAYLOAD (64u << 20)
#define FRAME_MAX_RAW (256u << 20)
#define FRAME_NAME_MAX 64      /* job, slave, master names (with NUL) */
#define FRAME_SOURCE_MAX 1024  /* source instance id (with NUL) */
#define FRAME_FLAG_RECORD 0x01 /* payload: opaque bytes, not a partial */
#define FRAME_MAX_RANGES 16    /* ranges of one frame */

struct rules_job_t;

/* One byte range a frame covers: of a source instance, read by a lease. */
typedef struct frame_range_t {
    char source[FRAME_SOURCE_MAX]; /* "<path or url>#<instance>" */
    uint64_t lease;
    uint64_t start, end; /* [start, end), start < end */
    uint64_t lines, bad_lines, bytes;
} frame_range_t;

/* The ranges of a frame: n of them, 1 (a frame of one range) to FRAME_MAX_RANGES. */
typedef struct frame_ranges_t {
    uint32_t n;
    frame_range_t r[FRAME_MAX_RANGES];
} frame_ranges_t;

typedef struct frame_header_t {
    uint64_t config_hash;
    uint64_t round;
    uint64_t lease;
    uint64_t start, end; /* byte range [start, end) of the source instance */
    uint64_t lines, bad_lines, bytes;
    uint64_t regex_limit_hits;      /* partial_t's; written only when not 0 */
    uint64_t bad_by[PARTIAL_BAD_N]; /* bad lines per reason (partial.h): written when one is
                                       not 0; decoded, they add up to bad_lines */
    char job[FRAME_NAME_MAX];
    char source[FRAME_SOURCE_MAX];
    char slave[FRAME_NAME_MAX];
    char master[FRAME_NAME_MAX];
    uint8_t flags;    /* frame_peek fills it; the encoders ignore it */
    uint8_t version;  /* frame_peek fills it (1 or 2); the encoders ignore it */
    uint32_t nranges; /* frame_peek fills it: 1, or the ranges of a list (frame_peek_ranges
                         reads them); the encoders ignore it */
    /* frame_encode: NULL, or a list of 2 or more ranges (one range: ignored); the header's
     * lease, start, end and source are then taken from its first range, and lines,
     * bad_lines and bytes must be the ranges' sums. frame_peek sets it to NULL. */
    const frame_ranges_t *ranges;
} frame_header_t;

/* Copy p's line counters (lines, bad_lines, bytes, regex_limit_hits,
 * bad_by) into h. Cannot fail. */
void frame_header_counts(frame_header_t *h, const partial_t *p);

/* Append one frame to out: header h (with h->ranges, a range list), and the
 * tables of p's entries whose group g has groups[g] != 0 (groups NULL: every
 * group). A frame with no groups selected is valid ("empty": the ranges, and
 * nothing for this master). Returns APR_SUCCESS, or APR_EINVAL when a header
 * string is too long, h->ranges is not a list a decoder takes (its reason), an
 * entry of a selected group failed in p (out of memory: partial_fail), or the
 * payload would exceed FRAME_MAX_RAW / FRAME_MAX_PAYLOAD, or APR_ENOMEM when
 * the dictionary or the rows' order could not be allocated (mem.h); out is
 * then unchanged. p is not changed. */
apr_status_t frame_encode(const frame_header_t *h, const partial_t *p, const uint8_t *groups,
                          buf_t *out, abbey_err_t *err);

/* Append one record frame to out: header h (flags set to FRAME_FLAG_RECORD)
 * and a payload of the len bytes of data, compressed. Returns APR_SUCCESS, or
 * APR_EINVAL when a header string is too long or len exceeds FRAME_MAX_RAW or
 * the compressed payload FRAME_MAX_PAYLOAD (out is unchanged). */
apr_status_t frame_encode_record(const frame_header_t *h, const void *data, size_t len, buf_t *out,
                                 abbey_err_t *err);

/* frame_peek, then require FRAME_FLAG_RECORD and inflate the payload (bounded
 * by the frame's own U <= FRAME_MAX_RAW; the inflated length must equal U)
 * into memory from pool: *data (NUL-terminated for convenience, not counted)
 * and *data_len. APR_EINVAL with the reason for a partial frame or a corrupt
 * one, APR_INCOMPLETE for a torn one. *frame_len as frame_peek. */
apr_status_t frame_record(const uint8_t *buf, size_t len, apr_pool_t *pool, frame_header_t *h,
                          uint8_t **data, size_t *data_len, size_t *frame_len, abbey_err_t *err);

/* Check the frame at buf[0..len): magic, version, lengths, CRC; decode the header.
 * Returns APR_SUCCESS and *frame_len (total bytes of this frame; h->flags is
 * the flags byte: 0 or FRAME_FLAG_RECORD, anything else is corrupt);
 * APR_INCOMPLETE when buf holds only a prefix of a possibly valid frame (a torn
 * tail); APR_EINVAL (corrupt) with the reason. Does not inflate the payload. */
apr_status_t frame_peek(const uint8_t *buf, size_t len, frame_header_t *h, size_t *frame_len,
                        abbey_err_t *err);

/* frame_peek, and the frame's ranges into *ranges (may be NULL): the list of
 * a frame of several, or the header's one range (its counters the header's).
 * The list was checked as frame.h says (frame_peek checks it too). */
apr_status_t frame_peek_ranges(const uint8_t *buf, size_t len, frame_header_t *h,
                               frame_ranges_t *ranges, size_t *frame_len, abbey_err_t *err);

/* The ranges of r as text for logs, "src [a, b)" or "3 ranges: src [a, b),
 * src2 [c, d), ...", cut to fit out (size > 0). Cannot fail. */
void frame_ranges_text(const frame_ranges_t *r, char *out, size_t size);

/* frame_peek, then (refusing a record frame: "a state record, not a
 * partial") inflate and decode the payload against job (group, entry
 * and aggregate kinds must match it) and merge it into into (a partial of
 * job). All-or-nothing: on any error into is unchanged (APR_ENOMEM while
 * decoding included), except APR_ENOMEM while merging: then the entry of into
 * that could not grow failed (partial_merge) and the rest is merged. Rows are
 * merged (the frame's rows are decoded as they are; into's key limit folds
 * what does not fit, ptable_merge), overflow rows into overflow rows, and h's
 * line counters (regex_limit_hits and bad_by too) are added to into's. */
apr_status_t frame_decode(const uint8_t *buf, size_t len, const struct rules_job_t *job,
                          frame_header_t *h, partial_t *into, size_t *frame_len, abbey_err_t *err);

/* Offset of the next FRAME_MAGIC at or after from (len when none): where a
 * reader resumes after a corrupt frame. */
size_t frame_resync(const uint8_t *buf, size_t len, size_t from);

#endif
