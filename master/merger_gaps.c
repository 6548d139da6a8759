/* merger_gaps.c - what closed rounds list that this master never got (see merger.h).
 *
 * A round's closed ranges are what the slaves completed; this master had a
 * frame for each of them coming (an empty one when it owns nothing there).
 * A part still missing well after the round's deadline was lost on the way
 * (a damaged spool file, a journal frame corrupted on disk): gap repair asks
 * the primary to have it read again. */
#include "merger_int.h"

#define GAP_PARTS 64 /* missing parts taken from one closed range */

int merger_gaps(merger_t *m, int64_t now_ms, int64_t after_ms, int max, merger_gap_fn fn,
                void *ctx)
{
    uint64_t parts[GAP_PARTS][2];
    int n = 0;

    apr_thread_mutex_lock(m->lock);
    for (int k = 0; k < m->cfg->njobs && n < max; k++) {
        mjob_t *j = &m->jobs[k];
        for (int i = 0; i < j->nrounds && n < max; i++) {
            const mround_t *rd = j->rounds[i];
            if (!rd->closed || rd->deadline_ms > now_ms - after_ms)
                continue;
            for (size_t x = 0; x < rd->nranges && n < max; x++) {
                const merger_range_t *r = &rd->ranges[x];
                const ranges_t *have = merger_source_ranges(j, r->source);
                size_t np = have ? ranges_missing(have, r->start, r->end, parts, GAP_PARTS) : 1;
                if (!have) {
                    parts[0][0] = r->start;
                    parts[0][1] = r->end;
                }
                for (size_t p = 0; p < np && n < max; p++, n++) {
                    merger_gap_t g = {j->job->name, rd->r, r->source, parts[p][0], parts[p][1]};
                    fn(ctx, &g);
                }
            }
        }
    }
    apr_thread_mutex_unlock(m->lock);
    return n;
}
