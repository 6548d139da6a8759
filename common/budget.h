/* budget.h - a process's memory budget (--memory-limit): its size, the readings, the decisions.
 *
 * What is counted: the accounted bytes of the tables the process keeps
 * (ptable_bytes: rows, keys, states with their heap parts, slot arrays;
 * partial_bytes sums a partial's) plus a fixed allowance for everything else
 * it holds (code, libraries, pools, threads, the read block buffers). The
 * decisions are taken on these accounted bytes, never on the resident set:
 * RSS does not fall when tables are freed (malloc and APR keep freed memory
 * for reuse), so a decision taken on it would stay "over" after the memory
 * was given back, and a master would refuse a job's frames for good;
 * accounted bytes fall as soon as a table goes, cost nothing to read, and are
 * the same in every run. RSS (budget_rss) is shown beside them (status,
 * metrics, logs) so that an operator sees what the accounting misses.
 *
 * Thresholds, of the limit L: near = L - L/8 (a slave cuts its partial and
 * delivers, a standalone worker flushes into the totals, a master refuses the
 * frames of the jobs that hold the memory), clear = L - L/4 (below it a job a
 * master refused takes frames again: the gap keeps it from flapping).
 *
 * The decisions are pure functions of their readings (limit, bytes, the
 * clock), so tests give them as parameters; budget_t adds the shared slots
 * through which threads publish what they hold (atomics: thread-safe). */
#ifndef ABBEY_BUDGET_H
#define ABBEY_BUDGET_H

#include <apr_pools.h>
#include <stdint.h>

#include "error.h"

/* The fixed allowance of every process: code, libraries, APR pools, HTTP
 * threads and connections (an idle master or slave is about 14 MiB). A
 * slave and standalone add their workers' block buffers (budget_allowance). */
#define BUDGET_BASE (32ull << 20)

/* Parse a size: digits with an optional unit, B, k or KiB, M or MiB, G or
 * GiB, T or TiB (k, M, G, T are powers of 1024, as KiB... are), e.g. 512MiB,
 * 2G. 0, or -1 with "FLAG: 'TEXT' is not a size ..." in err (flag names the
 * option) for anything else: no digits, an unknown unit (MB, GB: say MiB,
 * GiB), zero, or more than 2^50 bytes. */
int budget_parse_size(const char *flag, const char *text, uint64_t *out, abbey_err_t *err);

/* The allowance of a process with workers threads that each hold a read
 * buffer of block bytes (0 workers: a master's merger, BUDGET_BASE). */
uint64_t budget_allowance(int workers, uint64_t block);

/* 0 when limit leaves room for tables above allowance (near(limit) >
 * allowance); else -1 with "FLAG SIZE leaves no room for tables: ... give at
 * least N" in err. */
int budget_check_limit(const char *flag, uint64_t limit, uint64_t allowance, abbey_err_t *err);

uint64_t budget_near(uint64_t limit);  /* limit - limit / 8 */
uint64_t budget_clear(uint64_t limit); /* limit - limit / 4 */

/* 1 when a process holding used accounted bytes (allowance included) is
 * near its limit: a slave cuts its partial, a standalone worker flushes.
 * Always 0 for limit 0 (no budget). */
int budget_is_near(uint64_t limit, uint64_t used);

/* The process's resident set in bytes (/proc/self/statm); 0 when it cannot
 * be read. A read of a small file: for status and logs, not per line. */
uint64_t budget_rss(void);

/* "512.0 MiB", "3.2 GiB", "900 B" into out (size >= 16). Returns out. */
const char *budget_text(uint64_t bytes, char *out, size_t size);

/* ---- a master's jobs ----------------------------------------------------- */

/* What a master reads when it decides: its limit, its accounted bytes
 * (allowance + tables) and the tables' share, and its number of jobs. */
typedef struct budget_reading_t {
    uint64_t limit; /* 0: no budget */
    uint64_t used;  /* allowance + tables */
    uint64_t tables;
    int njobs;
} budget_reading_t;

/* One job's standing at a master. */
typedef struct budget_state_t {
    int over;         /* its new frames are refused */
    int64_t since_ms; /* when over last changed (0: never) */
} budget_state_t;

typedef enum budget_change_t {
    BUDGET_SAME,    /* no change */
    BUDGET_ENTERED, /* the job is over budget from now on (log it, loudly) */
    BUDGET_LEFT     /* the job takes frames again (log it) */
} budget_change_t;

/* Step job's state s on reading r, the job holding job_bytes of r->tables,
 * at now_ms (kept in s->since_ms on a change). A job holding at least an
 * even share of the tables (job_bytes >= tables / njobs: "the job holding
 * the memory") is over from near(limit) on and until the memory falls under
 * clear(limit) or its share under even; any other job is over from the limit
 * itself on and until the memory falls under near(limit): the jobs that hold
 * the memory are refused first, the others go on until the limit, so the
 * accounted memory passes the limit by at most the frames being merged at
 * that moment. Never over without a limit. */
budget_change_t budget_job_step(budget_state_t *s, const budget_reading_t *r, uint64_t job_bytes,
                                int64_t now_ms);

/* ---- threads that publish what they hold --------------------------------- */

typedef struct budget_t budget_t;

/* A budget of limit bytes (> 0) with allowance, and nslots slots (>= 1), all
 * 0, in pool. Cannot fail. */
budget_t *budget_create(uint64_t limit, uint64_t allowance, int nslots, apr_pool_t *pool);

uint64_t budget_limit(const budget_t *b);
uint64_t budget_allowance_of(const budget_t *b);

/* Slot i (0 <= i < nslots) holds bytes from now on. Thread-safe. */
void budget_set(budget_t *b, int i, uint64_t bytes);

/* The allowance plus every slot. Thread-safe (each slot read atomically). */
uint64_t budget_used(const budget_t *b);

#endif
