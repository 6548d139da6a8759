/* assign.h - hunger-weight placement of rule groups on masters.
 *
 * Groups are taken heaviest first (ties: name ascending); each goes to the
 * master that is least hungry after eating it: smallest
 * (assigned weight + group weight) / master weight, ties broken by larger
 * master weight, then name ascending. Pure and deterministic: the result
 * depends only on the (name, weight) sets, not on their order. */
#ifndef ABBEY_ASSIGN_H
#define ABBEY_ASSIGN_H

typedef struct assign_item_t {
    const char *name; /* unique within its list */
    int weight;       /* >= 1 */
} assign_item_t;

/* out[g] = index into masters of the master that owns groups[g].
 * nmasters >= 1. Uses exact rational comparison (no floating point).
 * Returns 0, or -1 when nmasters < 1 or a weight is < 1. */
int assign_hunger(const assign_item_t *groups, int ngroups, const assign_item_t *masters,
                  int nmasters, int *out);

#endif
