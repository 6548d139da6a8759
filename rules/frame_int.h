/* frame_int.h - the partial's payload inside a frame, shared by frame.c (the container:
 * fixed part, header, compression, CRC) and frame_payload.c (groups, entries, rows and
 * states, in both versions, see frame.h); and the header's range list (frame_ranges.c).
 * Not a public header. */
#ifndef ABBEY_FRAME_INT_H
#define ABBEY_FRAME_INT_H

#include <stdint.h>

#include "frame.h"

/* Append p's payload for groups (NULL: all) in this version (1 or 2) to b. *weight is
 * what a version 2 payload will cost its decoder (agg_dict_weight; 0 for version 1).
 * APR_SUCCESS, or APR_ENOMEM with the reason (version 2's dictionary or row order
 * could not be allocated; b may hold part of the payload). Entries must not be failed. */
apr_status_t frame_payload_put(buf_t *b, const partial_t *p, const uint8_t *groups, int version,
                               uint64_t *weight, abbey_err_t *err);

/* Decode the n bytes of a payload of this version against job into scratch (an empty
 * partial of job; nothing else is allocated from its pool). budget bounds what a version 2 payload
 * may make the decoder allocate (agg.h, "the frame dictionary"). APR_SUCCESS; APR_EINVAL with the
 * reason; APR_ENOMEM. */
apr_status_t frame_payload_get(const uint8_t *raw, size_t n, int version, uint64_t budget,
                               const struct rules_job_t *job, partial_t *scratch, abbey_err_t *err);

/* One range of a list as checked: its source points into the bytes it was read from
 * (not NUL-terminated). */
typedef struct frame_range_view_t {
    const uint8_t *src;
    size_t slen;
    uint64_t lease, start, end, lines, bad_lines, bytes;
} frame_range_view_t;

/* 0 when the n ranges v are a list a decoder takes for header h (frame.h: the count,
 * each source and range, the first range the header's, no overlap within a source, the
 * counters adding up); else -1 with the reason. */
int frame_ranges_check(const frame_range_view_t *v, uint32_t n, const frame_header_t *h,
                       abbey_err_t *err);

/* The views of r's ranges into v (room for FRAME_MAX_RANGES). */
void frame_ranges_view(const frame_ranges_t *r, frame_range_view_t *v);

/* Append r's list (count and ranges) to b; r must have passed frame_ranges_check. */
void frame_ranges_put(buf_t *b, const frame_ranges_t *r);

/* Read and check a list at rd for header h (its other fields read): 0 and *n, with the
 * ranges copied into out when it is not NULL; -1 with the reason. */
int frame_ranges_get(buf_reader_t *rd, const frame_header_t *h, frame_ranges_t *out, uint32_t *n,
                     abbey_err_t *err);

/* out: the one range of header h (a frame without a list). */
void frame_ranges_of_header(const frame_header_t *h, frame_ranges_t *out);

#endif
