/* assign.c - hunger-weight placement of rule groups on masters (see assign.h).
 *
 * Groups are visited heaviest first (ties: name ascending). Each goes to the
 * master with the smallest hunger after eating it, (load + w) / master weight,
 * compared exactly by cross-multiplication in 128-bit integers; ties go to the
 * larger master weight, then the smaller name. Loads are sums of int weights,
 * so they fit in int64 for any realistic count; the products fit in 128 bits. */
#include "assign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 assign_wide_t;

/* Is master i a better home than master j for a group of weight w?
 * Hunger (load[i] + w) / mw_i < (load[j] + w) / mw_j, exactly. */
static int better(const assign_item_t *masters, const int64_t *load, int64_t w, int i, int j)
{
    assign_wide_t lhs = (assign_wide_t)(load[i] + w) * masters[j].weight;
    assign_wide_t rhs = (assign_wide_t)(load[j] + w) * masters[i].weight;
    if (lhs != rhs)
        return lhs < rhs;
    if (masters[i].weight != masters[j].weight)
        return masters[i].weight > masters[j].weight;
    return strcmp(masters[i].name, masters[j].name) < 0;
}

/* Visiting order of groups: weight descending, then name ascending. An
 * insertion sort of indexes: no global comparator state (reentrant), and a
 * rules file has few groups. */
static void order_groups(const assign_item_t *groups, int n, int *order)
{
    for (int i = 0; i < n; i++) {
        int k = i;
        order[i] = i;
        while (k > 0) {
            const assign_item_t *a = &groups[order[k - 1]], *b = &groups[order[k]];
            int swap =
                a->weight < b->weight || (a->weight == b->weight && strcmp(a->name, b->name) > 0);
            if (!swap)
                break;
            int t = order[k - 1];
            order[k - 1] = order[k];
            order[k] = t;
            k--;
        }
    }
}

int assign_hunger(const assign_item_t *groups, int ngroups, const assign_item_t *masters,
                  int nmasters, int *out)
{
    int *order;
    int64_t *load;

    if (nmasters < 1 || ngroups < 0 || !masters)
        return -1;
    for (int m = 0; m < nmasters; m++)
        if (masters[m].weight < 1 || !masters[m].name)
            return -1;
    for (int g = 0; g < ngroups; g++)
        if (groups[g].weight < 1 || !groups[g].name)
            return -1;
    if (ngroups == 0)
        return 0;

    order = malloc(sizeof *order * (size_t)ngroups);
    load = calloc((size_t)nmasters, sizeof *load);
    if (!order || !load) {
        free(order);
        free(load);
        return -1;
    }
    order_groups(groups, ngroups, order);
    for (int k = 0; k < ngroups; k++) {
        int g = order[k], best = 0;
        int64_t w = groups[g].weight;
        for (int m = 1; m < nmasters; m++)
            if (better(masters, load, w, m, best))
                best = m;
        out[g] = best;
        load[best] += w;
    }
    free(order);
    free(load);
    return 0;
}
