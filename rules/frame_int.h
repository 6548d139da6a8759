/* frame_int.h - the partial's payload inside a frame, shared by frame.c (the container:
 * fixed part, header, compression, CRC) and frame_payload.c (groups, entries, rows and
 * states, in both versions, see frame.h). Not a public header. */
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

#endif
