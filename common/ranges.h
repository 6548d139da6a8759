/* ranges.h - a set of byte ranges [a, b) of one source instance, kept sorted and coalesced.
 *
 * What a master has merged of each source instance: the exactly-once rule
 * (docs/DESIGN.md, "Exactly-once by offset ranges") is decided here. A frame's range that is
 * covered is a duplicate; one that overlaps partly is a conflict; any other is new, and ranges_add
 * records it (adjacent and overlapping ranges coalesce, so the set stays small for a source read in
 * order). Not thread-safe.
 *
 * It is abbey's one range-gap algorithm: a slave that meets a conflict reads
 * the master's answer into a set (slave/partials.h) and re-reads what
 * ranges_missing gives. ranges_add takes pairs in any order, overlapping,
 * empty or inverted (those add nothing): a list off the wire needs no sort. */
#ifndef ABBEY_RANGES_H
#define ABBEY_RANGES_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ranges_t ranges_t;

typedef enum ranges_verdict_t {
    RANGES_NEW,     /* no byte of [a, b) is in the set */
    RANGES_COVERED, /* every byte of [a, b) is in the set */
    RANGES_OVERLAP  /* some are, some are not */
} ranges_verdict_t;

/* An empty set; its memory is released with pool. Cannot fail. */
ranges_t *ranges_create(apr_pool_t *pool);

/* Verdict for [a, b); a < b required (an empty range is COVERED). */
ranges_verdict_t ranges_check(const ranges_t *r, uint64_t a, uint64_t b);

/* Add [a, b), merging with neighbours it touches or overlaps; an empty or
 * inverted pair (a >= b) adds nothing. */
void ranges_add(ranges_t *r, uint64_t a, uint64_t b);

/* 1 when every byte of [a, b) is in the set. */
int ranges_covers(const ranges_t *r, uint64_t a, uint64_t b);

/* The set's ranges that overlap [a, b), at most max of them, into out;
 * returns how many were written. */
size_t ranges_overlapping(const ranges_t *r, uint64_t a, uint64_t b, uint64_t (*out)[2],
                          size_t max);

/* The parts of [a, b) not in the set, in ascending order, at most max of them,
 * into out; returns how many were written (0 when a >= b or all of [a, b) is
 * in the set). A caller that gets max back may have lost parts: room for
 * ranges_count + 1 always suffices. */
size_t ranges_missing(const ranges_t *r, uint64_t a, uint64_t b, uint64_t (*out)[2], size_t max);

size_t ranges_count(const ranges_t *r);
void ranges_get(const ranges_t *r, size_t i, uint64_t *a, uint64_t *b);

#endif
