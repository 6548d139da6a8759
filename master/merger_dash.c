/* merger_dash.c - what the dashboard needs to know of a job's figures: which
 * round and period they come from, and whether those are incomplete (see
 * merger_freshness_json in merger.h). A snapshot under the state lock. */
#include "merger_int.h"

json_t *merger_freshness_json(merger_t *m, const char *job)
{
    json_t *o = json_object(), *round = json_null(), *period = json_null();
    mjob_t *j;

    apr_thread_mutex_lock(m->lock);
    j = merger_job_locked(m, job);
    if (!j) {
        apr_thread_mutex_unlock(m->lock);
        json_decref(o);
        return json_null();
    }
    for (int i = 0; j->any_exported && i < j->nrounds; i++) {
        const mround_t *rd = j->rounds[i];
        if (rd->r == j->last_exported)
            round = json_pack("{s:I, s:I, s:b, s:I}", "round", (json_int_t)rd->r, "start_ms",
                              (json_int_t)((int64_t)rd->r * j->round_ms), "incomplete",
                              rd->export_incomplete, "missing", (json_int_t)rd->export_missing);
    }
    if (j->nperiods > 0) {
        int64_t id = j->periods[j->nperiods - 1].id;
        json_int_t incomplete = 0;
        for (int i = 0; i < j->nrounds; i++)
            if (j->rounds[i]->exported && j->rounds[i]->export_incomplete &&
                merger_period_of(j, j->rounds[i]->r) == id)
                incomplete++;
        period = json_pack("{s:o, s:I}", "start_ms",
                           j->period_ms ? json_integer(merger_period_start_ms(j, id)) : json_null(),
                           "rounds_incomplete", incomplete);
    }
    json_object_set_new(o, "round", round);
    json_object_set_new(o, "period", period);
    json_object_set_new(o, "rounds_incomplete", json_integer((json_int_t)j->rounds_incomplete));
    json_object_set_new(o, "lines", json_integer((json_int_t)j->lines));
    json_object_set_new(o, "bad_lines", json_integer((json_int_t)j->bad_lines));
    json_object_set_new(o, "counting_since_ms", json_integer(j->since_ms));
    apr_thread_mutex_unlock(m->lock);
    return o;
}
