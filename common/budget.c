/* budget.c - the memory budget's size text, thresholds, RSS and decisions (see budget.h). */
#include "budget.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUDGET_MAX (1ull << 50) /* 1 PiB: larger limits are typos */

struct budget_t {
    uint64_t limit, allowance;
    int nslots;
    uint64_t *slots; /* read and written atomically */
};

/* The unit after the digits: its shift, or -1 when it is not one of ours. */
static int unit_shift(const char *u)
{
    static const struct {
        const char *name;
        int shift;
    } units[] = {{"", 0},     {"B", 0},  {"k", 10},   {"K", 10}, {"KiB", 10}, {"M", 20},
                 {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i].name) == 0)
            return units[i].shift;
    return -1;
}

int budget_parse_size(const char *flag, const char *text, uint64_t *out, abbey_err_t *err)
{
    const char *p = text;
    uint64_t n = 0;
    int shift;

    while (*p >= '0' && *p <= '9' && n <= BUDGET_MAX)
        n = n * 10 + (uint64_t)(*p++ - '0');
    shift = p > text ? unit_shift(p) : -1;
    if (shift < 0 || n == 0 || n > BUDGET_MAX >> shift) {
        abbey_err_set(err,
                      "%s: '%s' is not a size: give a whole number of bytes above 0 with an "
                      "optional unit k, M, G, T or KiB, MiB, GiB, TiB (powers of 1024), "
                      "e.g. 512MiB or 2G",
                      flag, text);
        return -1;
    }
    *out = n << shift;
    return 0;
}

uint64_t budget_allowance(int workers, uint64_t block)
{
    return BUDGET_BASE + (workers > 0 ? (uint64_t)workers * block : 0);
}

uint64_t budget_near(uint64_t limit)
{
    return limit - limit / 8;
}

uint64_t budget_clear(uint64_t limit)
{
    return limit - limit / 4;
}

int budget_check_limit(const char *flag, uint64_t limit, uint64_t allowance, abbey_err_t *err)
{
    char a[32], l[32];
    uint64_t least = (allowance + allowance / 7 + (2u << 20)) >> 20; /* MiB: near(least) > it */

    if (budget_near(limit) > allowance)
        return 0;
    abbey_err_set(err,
                  "%s %s leaves no room for tables: the process needs %s before any (code, "
                  "libraries, buffers: docs/CLUSTER.md, \"Memory budget\"); give at least "
                  "%lluMiB",
                  flag, budget_text(limit, l, sizeof l), budget_text(allowance, a, sizeof a),
                  (unsigned long long)least);
    return -1;
}

int budget_is_near(uint64_t limit, uint64_t used)
{
    return limit && used >= budget_near(limit);
}

uint64_t budget_rss(void)
{
    char text[128];
    unsigned long long size, resident;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;

    if (fd >= 0)
        close(fd);
    if (n <= 0 || page <= 0)
        return 0;
    text[n] = 0;
    if (sscanf(text, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)page;
}

const char *budget_text(uint64_t bytes, char *out, size_t size)
{
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = -1;

    if (bytes < 1024) {
        snprintf(out, size, "%llu B", (unsigned long long)bytes);
        return out;
    }
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, size, "%.1f %s", v, units[u]);
    return out;
}

budget_change_t budget_job_step(budget_state_t *s, const budget_reading_t *r, uint64_t job_bytes,
                                int64_t now_ms)
{
    int holder = r->njobs > 0 && job_bytes >= r->tables / (uint64_t)r->njobs;
    int over;

    if (!r->limit)
        over = 0;
    else if (!s->over)
        over = (holder && r->used >= budget_near(r->limit)) || r->used >= r->limit;
    else
        over = (holder && r->used >= budget_clear(r->limit)) || r->used >= budget_near(r->limit);
    if (over == s->over)
        return BUDGET_SAME;
    s->over = over;
    s->since_ms = now_ms;
    return over ? BUDGET_ENTERED : BUDGET_LEFT;
}

budget_t *budget_create(uint64_t limit, uint64_t allowance, int nslots, apr_pool_t *pool)
{
    budget_t *b = apr_pcalloc(pool, sizeof *b);
    b->limit = limit;
    b->allowance = allowance;
    b->nslots = nslots > 0 ? nslots : 1;
    b->slots = apr_pcalloc(pool, sizeof *b->slots * (size_t)b->nslots);
    return b;
}

uint64_t budget_limit(const budget_t *b)
{
    return b->limit;
}

uint64_t budget_allowance_of(const budget_t *b)
{
    return b->allowance;
}

void budget_set(budget_t *b, int i, uint64_t bytes)
{
    if (i >= 0 && i < b->nslots)
        __atomic_store_n(&b->slots[i], bytes, __ATOMIC_RELAXED);
}

uint64_t budget_used(const budget_t *b)
{
    uint64_t used = b->allowance;
    for (int i = 0; i < b->nslots; i++)
        used += __atomic_load_n(&b->slots[i], __ATOMIC_RELAXED);
    return used;
}
