/* check_assign.c - unit tests for the hunger-weight placement (rules/assign.c).
 *
 * Hand-worked cases (derivations in comments), tie rules, order independence
 * over every permutation, invalid input, weights large enough to overflow a
 * 64-bit cross-multiplication, and a brute-force replay that checks every step
 * of random placements picked a least-hungry master (computed independently
 * with plain division on small weights, where doubles are exact enough). */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "assign.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Place and return the master name for each group (in input order). */
static void place(const assign_item_t *g, int ng, const assign_item_t *m, int nm,
                  const char **names)
{
    int out[64];
    for (int i = 0; i < ng; i++)
        out[i] = -1;
    ck_assert_int_eq(assign_hunger(g, ng, m, nm, out), 0);
    for (int i = 0; i < ng; i++) {
        ck_assert_int_ge(out[i], 0);
        ck_assert_int_lt(out[i], nm);
        names[i] = m[out[i]].name;
    }
}

START_TEST(test_design_example)
{
    /* masters m1 w2, m2 w1; groups traffic w3, clients w1.
     * traffic (heaviest) first: m1 (0+3)/2 = 1.5, m2 (0+3)/1 = 3   -> m1 (load 3)
     * clients:                  m1 (3+1)/2 = 2,   m2 (0+1)/1 = 1   -> m2 */
    assign_item_t m[] = {{"m1", 2}, {"m2", 1}};
    assign_item_t g[] = {{"clients", 1}, {"traffic", 3}};
    const char *got[2];
    place(g, 2, m, 2, got);
    ck_assert_str_eq(got[0], "m2");
    ck_assert_str_eq(got[1], "m1");
}
END_TEST

START_TEST(test_three_equal_masters)
{
    /* masters a, b, c all w1; groups g1..g5 weights 5..1, visited g1..g5.
     * g1: a 5, b 5, c 5 (all tied, equal weights) -> a by name   loads a5 b0 c0
     * g2: a 9, b 4, c 4 -> b by name                           loads a5 b4 c0
     * g3: a 8, b 7, c 3 -> c                                   loads a5 b4 c3
     * g4: a 7, b 6, c 5 -> c                                   loads a5 b4 c5
     * g5: a 6, b 5, c 6 -> b                                   loads a5 b5 c5 */
    assign_item_t m[] = {{"c", 1}, {"a", 1}, {"b", 1}};
    assign_item_t g[] = {{"g3", 3}, {"g5", 1}, {"g1", 5}, {"g4", 2}, {"g2", 4}};
    const char *got[5];
    place(g, 5, m, 3, got);
    ck_assert_str_eq(got[0], "c");
    ck_assert_str_eq(got[1], "b");
    ck_assert_str_eq(got[2], "a");
    ck_assert_str_eq(got[3], "c");
    ck_assert_str_eq(got[4], "b");
}
END_TEST

START_TEST(test_tie_larger_weight_wins)
{
    /* masters a w1, b w2 (name order would prefer a); groups g1, g2, g3 all w2.
     * g1: a (0+2)/1 = 2, b (0+2)/2 = 1             -> b   loads a0 b2
     * g2: a (0+2)/1 = 2, b (2+2)/2 = 2  tie        -> b (larger weight)  loads a0 b4
     * g3: a (0+2)/1 = 2, b (4+2)/2 = 3             -> a */
    assign_item_t m[] = {{"a", 1}, {"b", 2}};
    assign_item_t g[] = {{"g1", 2}, {"g2", 2}, {"g3", 2}};
    const char *got[3];
    place(g, 3, m, 2, got);
    ck_assert_str_eq(got[0], "b");
    ck_assert_str_eq(got[1], "b");
    ck_assert_str_eq(got[2], "a");
}
END_TEST

START_TEST(test_tie_name_wins)
{
    /* equal weights and hunger: the smaller name wins, whatever the index.
     * masters zeta w1 (index 0), alpha w1 (index 1); group "only" w1 -> alpha. */
    assign_item_t m[] = {{"zeta", 1}, {"alpha", 1}};
    assign_item_t g[] = {{"only", 1}};
    int out[1] = {-1};
    ck_assert_int_eq(assign_hunger(g, 1, m, 2, out), 0);
    ck_assert_int_eq(out[0], 1);
}
END_TEST

START_TEST(test_group_ties_by_name)
{
    /* groups of equal weight are visited by name: x before y.
     * masters a w1, b w1. x: a 1, b 1 -> a; y: a 2, b 1 -> b.
     * Input order [y, x] gives out = [b, a]. */
    assign_item_t m[] = {{"a", 1}, {"b", 1}};
    assign_item_t g[] = {{"y", 1}, {"x", 1}};
    int out[2] = {-1, -1};
    ck_assert_int_eq(assign_hunger(g, 2, m, 2, out), 0);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], 0);
}
END_TEST

START_TEST(test_one_master)
{
    assign_item_t m[] = {{"solo", 7}};
    assign_item_t g[] = {{"a", 1}, {"b", 100}, {"c", 3}, {"d", 1}};
    int out[4] = {-1, -1, -1, -1};
    ck_assert_int_eq(assign_hunger(g, 4, m, 1, out), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(out[i], 0);
}
END_TEST

START_TEST(test_more_masters_than_groups)
{
    /* masters a w1, b w3, c w2; groups big w2, small w1.
     * big:   a 2/1 = 2, b 2/3, c 2/2 = 1 -> b (load 2)
     * small: a 1/1 = 1, b (2+1)/3 = 1, c 1/2 -> c.  a gets nothing. */
    assign_item_t m[] = {{"a", 1}, {"b", 3}, {"c", 2}};
    assign_item_t g[] = {{"small", 1}, {"big", 2}};
    const char *got[2];
    place(g, 2, m, 3, got);
    ck_assert_str_eq(got[0], "c");
    ck_assert_str_eq(got[1], "b");
    /* no groups at all: nothing to do, still success */
    ck_assert_int_eq(assign_hunger(NULL, 0, m, 3, NULL), 0);
}
END_TEST

START_TEST(test_huge_weights_exact)
{
    /* M = INT_MAX. masters a w M, b w M-1; groups g1..g4 all w M (by name).
     * g1: a M/M = 1,      b M/(M-1) > 1       -> a   loads a=M
     * g2: a 2M/M = 2,     b M/(M-1) ~ 1       -> b   loads b=M
     * g3: a 2M/M = 2,     b 2M/(M-1) > 2      -> a   loads a=2M
     * g4: a 3M/M = 3,     b 2M/(M-1) ~ 2      -> b
     * g4's cross products (3M*(M-1) ~ 1.4e19) overflow int64. */
    const int M = INT_MAX;
    assign_item_t m[] = {{"a", M}, {"b", M - 1}};
    assign_item_t g[] = {{"g1", M}, {"g2", M}, {"g3", M}, {"g4", M}};
    const char *got[4];
    place(g, 4, m, 2, got);
    ck_assert_str_eq(got[0], "a");
    ck_assert_str_eq(got[1], "b");
    ck_assert_str_eq(got[2], "a");
    ck_assert_str_eq(got[3], "b");
}
END_TEST

START_TEST(test_invalid)
{
    assign_item_t m[] = {{"a", 1}, {"b", 2}};
    assign_item_t m0[] = {{"a", 1}, {"b", 0}};
    assign_item_t mneg[] = {{"a", -3}};
    assign_item_t g[] = {{"x", 1}, {"y", 2}};
    assign_item_t g0[] = {{"x", 1}, {"y", 0}};
    assign_item_t gneg[] = {{"x", -1}};
    int out[2];
    ck_assert_int_eq(assign_hunger(g, 2, m, 0, out), -1);
    ck_assert_int_eq(assign_hunger(g, 2, m, -1, out), -1);
    ck_assert_int_eq(assign_hunger(g, 2, m0, 2, out), -1);
    ck_assert_int_eq(assign_hunger(g, 2, mneg, 1, out), -1);
    ck_assert_int_eq(assign_hunger(g0, 2, m, 2, out), -1);
    ck_assert_int_eq(assign_hunger(gneg, 1, m, 2, out), -1);
    ck_assert_int_eq(assign_hunger(g, -1, m, 2, out), -1);
}
END_TEST

/* ---- order independence: every permutation of 5 groups x 3 masters ---- */

static const assign_item_t perm_groups[5] = {
    {"alpha", 4}, {"beta", 2}, {"gamma", 2}, {"delta", 1}, {"eps", 3}};
static const assign_item_t perm_masters[3] = {{"m1", 2}, {"m2", 1}, {"m3", 2}};

/* name->name map of one placement, as master names in perm_groups order */
static void perm_map(const int *gp, const int *mp, const char **map)
{
    assign_item_t g[5], m[3];
    int out[5];
    for (int i = 0; i < 5; i++)
        g[i] = perm_groups[gp[i]];
    for (int i = 0; i < 3; i++)
        m[i] = perm_masters[mp[i]];
    ck_assert_int_eq(assign_hunger(g, 5, m, 3, out), 0);
    for (int i = 0; i < 5; i++)
        map[gp[i]] = m[out[i]].name;
}

static int next_perm(int *a, int n)
{
    int i = n - 2, j = n - 1;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return 0;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

START_TEST(test_every_permutation)
{
    /* Hand-worked base: visit alpha 4, eps 3, beta 2, gamma 2, delta 1.
     * masters m1 w2, m2 w1, m3 w2 (ties: weight, then name).
     * alpha: m1 4/2=2, m2 4/1=4, m3 4/2=2  -> m1 (name)     loads 4 0 0
     * eps:   m1 7/2,   m2 3,     m3 3/2    -> m3            loads 4 0 3
     * beta:  m1 6/2=3, m2 2,     m3 5/2    -> m2            loads 4 2 3
     * gamma: m1 3,     m2 4,     m3 5/2    -> m3            loads 4 2 5
     * delta: m1 5/2,   m2 3,     m3 3      -> m1 */
    const char *expect[5] = {"m1", "m2", "m3", "m1", "m3"};
    int gp[5] = {0, 1, 2, 3, 4};
    int count = 0;
    do {
        int mp[3] = {0, 1, 2};
        do {
            const char *map[5];
            perm_map(gp, mp, map);
            for (int i = 0; i < 5; i++)
                ck_assert_str_eq(map[i], expect[i]);
            count++;
        } while (next_perm(mp, 3));
    } while (next_perm(gp, 5));
    ck_assert_int_eq(count, 120 * 6);
}
END_TEST

/* ---- brute force: every step takes a least-hungry master ---- */

static unsigned rng_state = 12345u;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static const assign_item_t *bf_groups;
static int bf_cmp(const void *pa, const void *pb)
{
    const assign_item_t *a = &bf_groups[*(const int *)pa], *b = &bf_groups[*(const int *)pb];
    if (a->weight != b->weight)
        return b->weight - a->weight;
    return strcmp(a->name, b->name);
}

START_TEST(test_brute_force_steps)
{
    char gname[40][8], mname[8][8];
    for (int trial = 0; trial < 2000; trial++) {
        int ng = (int)rnd(40), nm = 1 + (int)rnd(8), order[40], out[40];
        assign_item_t g[40], m[8];
        double load[8] = {0};
        for (int i = 0; i < ng; i++) {
            /* names in an order unrelated to indexes (7 is prime to 40) */
            snprintf(gname[i], sizeof gname[i], "g%02d", (i * 7 + 3) % 40);
            g[i].name = gname[i];
            g[i].weight = 1 + (int)rnd(6);
            order[i] = i;
            out[i] = -1;
        }
        for (int i = 0; i < nm; i++) {
            /* names in scrambled order relative to indexes */
            snprintf(mname[i], sizeof mname[i], "m%d", (i * 5 + 3) % 8);
            m[i].name = mname[i];
            m[i].weight = 1 + (int)rnd(4);
        }
        ck_assert_int_eq(assign_hunger(g, ng, m, nm, out), 0);
        bf_groups = g;
        qsort(order, (size_t)ng, sizeof order[0], bf_cmp);
        for (int k = 0; k < ng; k++) {
            int gi = order[k], got = out[gi];
            double best = 1e300;
            ck_assert_int_ge(got, 0);
            ck_assert_int_lt(got, nm);
            for (int j = 0; j < nm; j++) {
                double h = (load[j] + g[gi].weight) / m[j].weight;
                if (h < best)
                    best = h;
            }
            double hg = (load[got] + g[gi].weight) / m[got].weight;
            ck_assert(hg == best);
            /* among the least hungry, the chosen one has the largest weight,
             * and the smallest name among those */
            for (int j = 0; j < nm; j++) {
                double h = (load[j] + g[gi].weight) / m[j].weight;
                if (j == got || h != best)
                    continue;
                ck_assert_int_le(m[j].weight, m[got].weight);
                if (m[j].weight == m[got].weight)
                    ck_assert_int_gt(strcmp(m[j].name, m[got].name), 0);
            }
            load[got] += g[gi].weight;
        }
    }
}
END_TEST

static Suite *assign_suite(void)
{
    Suite *s = suite_create("assign");
    TCase *tc = tcase_create("hand");
    tcase_add_test(tc, test_design_example);
    tcase_add_test(tc, test_three_equal_masters);
    tcase_add_test(tc, test_one_master);
    tcase_add_test(tc, test_more_masters_than_groups);
    tcase_add_test(tc, test_huge_weights_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("ties");
    tcase_add_test(tc, test_tie_larger_weight_wins);
    tcase_add_test(tc, test_tie_name_wins);
    tcase_add_test(tc, test_group_ties_by_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("invalid");
    tcase_add_test(tc, test_invalid);
    suite_add_tcase(s, tc);
    tc = tcase_create("properties");
    tcase_add_test(tc, test_every_permutation);
    tcase_add_test(tc, test_brute_force_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed;
    failed = check_run(assign_suite());
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
