/* span.h - byte-range arithmetic over plain lists of [a, b) pairs.
 *
 * The slave's side of the exactly-once rule: a master that answers 409
 * lists the ranges it already has of a source instance, and the slave needs
 * the parts of its own range the master lacks, to re-read just those. The
 * list comes off the wire, so it may be unsorted, overlapping or contain
 * empty or inverted pairs; span_missing copes with all of that. Pure
 * functions, thread-safe, no allocation. (The masters' own persistent set is
 * master/ranges.h.) */
#ifndef ABBEY_SPAN_H
#define ABBEY_SPAN_H

#include <stddef.h>
#include <stdint.h>

/* Sort have[0..n) by start (in place) and return how many pairs remain
 * after dropping empty/inverted ones and coalescing the overlapping or
 * adjacent ones (the first ones of the array). Cannot fail. */
size_t span_normalize(uint64_t (*have)[2], size_t n);

/* The parts of [a, b) covered by no pair of have[0..n), in ascending order,
 * at most max of them, into out; returns how many were written (0 when
 * a >= b or [a, b) is covered). Reorders have (span_normalize). A caller
 * that gets max back may have lost parts: size out by n + 1, which always
 * suffices. */
size_t span_missing(uint64_t (*have)[2], size_t n, uint64_t a, uint64_t b, uint64_t (*out)[2],
                    size_t max);

#endif
