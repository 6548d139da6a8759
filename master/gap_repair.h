/* gap_repair.h - a master asking for the ranges it never got (gap repair).
 *
 * Every REPAIR_CHECK_MS the master's main loop calls gap_repair_tick: the gaps
 * of rounds closed more than after_ms past their deadline (merger_gaps) are
 * asked of the primary, each at most once per after_ms (a repair takes a
 * lease, a read and a delivery; asking again sooner would only queue
 * duplicates). The primary queues a repair lease per gap (sched_repair);
 * a slave reads the range again and sends it to this master alone. On the
 * primary the request is a direct call; a secondary POSTs /v1/repair. Each
 * request is logged with the ranges it names. Main thread only. */
#ifndef ABBEY_GAP_REPAIR_H
#define ABBEY_GAP_REPAIR_H

#include <apr_pools.h>
#include <stdint.h>

#include "hclient.h"
#include "merger.h"
#include "scheduler.h"

#define REPAIR_CHECK_MS 5000
#define REPAIR_MAX 256 /* gaps asked for per check */

typedef struct gap_repair_t gap_repair_t;

/* For master self: through sched (the primary's own scheduler) when not
 * NULL, else through client to primary_url. after_ms > 0. */
gap_repair_t *gap_repair_create(merger_t *m, const char *self, sched_t *sched, hclient_t *client,
                                const char *primary_url, int64_t after_ms, apr_pool_t *pool);

/* Ask for the gaps due at now_ms (does nothing between checks). */
void gap_repair_tick(gap_repair_t *r, int64_t now_ms);

#endif
