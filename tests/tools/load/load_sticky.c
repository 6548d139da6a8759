/* load_sticky.c - abbey-load's slaves on sticky leases (docs/CLUSTER.md "Sticky leases";
 * see load.h).
 *
 * A simulated slave asks for a batch (POST /v1/lease, "sticky": true, max --max,
 * "workers" --workers), again at once while the answer says "more", and holds
 * what it gets. Once per round of each job it holds leases of (at the round's
 * start on the primary's clock, as the answers give it, plus a spread of up to
 * 300 ms by slave), it checks them and reports in one POST /v1/complete: a read
 * lease with new bytes (--grow) as a completion of [offset, size) with the
 * round, else in "idle"; a glob's listing for its first three rounds, before
 * the report, as completions of its own (in parts when big), then in "idle"; the
 * leases the
 * primary asked back in "released". What the answer says is gone or wanted
 * back is dropped; a completion refused (409) ends its lease. Every report
 * renews what it lists, so rounds must be shorter than a third of the lease
 * lifetime (30 s). */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPREAD_MS 300 /* reports of the slaves spread over this much of a round */
#define LISTINGS 3    /* a glob's listing is sent this many rounds in a row, then idle */

static void lease_call(load_t *L, load_sim_t *sim)
{
    load_buf_reset(&sim->body);
    load_buf_printf(&sim->body,
                    "{\"slave\":\"%s\",\"labels\":%s,\"max\":%d,\"sticky\":true,\"workers\":%d}",
                    sim->name, L->o.labels, L->o.max, L->o.workers);
    sim->want_more = 0;
    load_post(L, sim, CALL_LEASE, L->lease_url);
}

static load_rounds_t *rounds_of(load_sim_t *sim, const char *job, int make)
{
    for (int i = 0; i < sim->nrounds; i++)
        if (strcmp(sim->rounds[i].job, job) == 0)
            return &sim->rounds[i];
    if (!make || sim->nrounds == LOAD_JOB_MAX)
        return NULL;
    load_rounds_t *r = &sim->rounds[sim->nrounds++];
    memset(r, 0, sizeof *r);
    snprintf(r->job, sizeof r->job, "%s", job);
    return r;
}

/* An answer's "rounds" and "now_ms": each job's round and when the next starts here. */
static void rounds_update(load_sim_t *sim, json_t *root)
{
    json_t *rs = json_object_get(root, "rounds"), *v;
    int64_t now_ms = json_integer_value(json_object_get(root, "now_ms")), here = load_now_ms();
    const char *job;
    json_object_foreach(rs, job, v)
    {
        load_rounds_t *r = rounds_of(sim, job, 1);
        if (!r)
            continue;
        r->round = json_integer_value(json_object_get(v, "round"));
        r->next = json_integer_value(json_object_get(v, "next"));
        r->next_local_ms = here + json_integer_value(json_object_get(v, "next_ms")) - now_ms;
        r->round_ms = r->next > 0 ? json_integer_value(json_object_get(v, "next_ms")) / r->next : 0;
    }
}

static load_lease_t *held_find(load_sim_t *sim, uint64_t id)
{
    for (int i = 0; i < sim->nheld; i++)
        if (sim->held[i].id == id && !sim->held[i].gone)
            return &sim->held[i];
    return NULL;
}

/* Drop the leases listed at key of root ("gone", or "release": then released next). */
static void drop_listed(load_t *L, load_sim_t *sim, json_t *root, const char *key, int release)
{
    json_t *a = json_object_get(root, key), *v;
    size_t i;
    json_array_foreach(a, i, v)
    {
        load_lease_t *l = held_find(sim, (uint64_t)json_integer_value(v));
        if (!l)
            continue;
        l->gone = 1;
        if (release) {
            sim->released = realloc(sim->released, sizeof *sim->released * (sim->nreleased + 1));
            sim->released[sim->nreleased++] = l->id;
            L->st.released++;
        } else {
            L->st.gone++;
        }
    }
}

/* The next check: the earliest next round start of a job held, plus this slave's spread. */
static void schedule(load_sim_t *sim)
{
    int64_t next = 0, spread = 0;
    for (int i = 0; i < sim->nrounds; i++) {
        const load_rounds_t *r = &sim->rounds[i];
        int held = 0;
        for (int k = 0; k < sim->nheld && !held; k++)
            held = !sim->held[k].gone && strcmp(sim->held[k].job, r->job) == 0;
        if (held && r->next_local_ms && (!next || r->next_local_ms < next)) {
            next = r->next_local_ms;
            int64_t room = r->round_ms / 2 < SPREAD_MS ? r->round_ms / 2 : SPREAD_MS;
            spread = room > 0 ? (sim->index * 7919) % room : 0;
        }
    }
    sim->next_check_ms = next ? next + spread : load_now_ms() + 1000;
    sim->wake_ms = sim->want_more || sim->fresh ? load_now_ms() : sim->next_check_ms;
}

/* The round a check of job made now is for. */
static int64_t check_round(load_sim_t *sim, const char *job)
{
    load_rounds_t *r = rounds_of(sim, job, 0);
    if (!r)
        return 0;
    return load_now_ms() >= r->next_local_ms ? r->next : r->round;
}

/* A glob held whose listing is due: send it (in parts when big, each a completion
 * of its own with the round) before the report, which so stays small. */
static int big_listing(load_t *L, load_sim_t *sim)
{
    for (int i = 0; i < sim->nheld; i++) {
        load_lease_t *l = &sim->held[i];
        if (l->gone || l->kind != 'e' || l->listings >= LISTINGS)
            continue;
        const load_listing_t *g = load_listing(l->source, L->o.files);
        l->listings++;
        sim->up = (load_upload_t){1, l->id, check_round(sim, l->job), g, 0};
        load_send_part(L, sim);
        return 1;
    }
    return 0;
}

/* One report of every lease held: completions, idle by job, released. */
static void report(load_t *L, load_sim_t *sim)
{
    load_buf_t *b = &sim->body;
    int ncomp = 0, nidle = 0;
    load_buf_reset(b);
    load_buf_printf(b, "{\"slave\":\"%s\",\"completions\":[", sim->name);
    for (int i = 0; i < sim->nheld; i++) {
        load_lease_t *l = &sim->held[i];
        int64_t end = l->start, size = l->start, round = check_round(sim, l->job);
        if (l->gone)
            continue;
        if (l->kind == 'r')
            load_range(L, l->start, l->cap, &end, &size);
        if (l->kind == 'r' && end > l->start) {
            load_buf_printf(b, "%s{\"lease\":%llu,\"round\":%lld,\"instance\":", ncomp++ ? "," : "",
                            (unsigned long long)l->id, (long long)round);
            load_buf_json_str(b, l->instance);
            load_buf_printf(
                b,
                ",\"start\":%lld,\"end\":%lld,\"at_end\":%s,\"size\":%lld,\"lines\":%lld,"
                "\"bad_lines\":0,\"bytes\":%lld}",
                (long long)l->start, (long long)end, end == size ? "true" : "false",
                (long long)size, (long long)(end - l->start) / 100, (long long)(end - l->start));
            l->start = end;
            L->st.ranges++;
        }
    }
    load_buf_printf(b, "],\"idle\":[");
    for (int j = 0; j < sim->nrounds; j++) {
        int n = 0;
        for (int i = 0; i < sim->nheld; i++) {
            load_lease_t *l = &sim->held[i];
            int64_t end = l->start, size;
            if (l->gone || strcmp(l->job, sim->rounds[j].job) != 0 ||
                (l->kind == 'e' && l->listings < LISTINGS))
                continue;
            if (l->kind == 'r')
                load_range(L, l->start, l->cap, &end, &size);
            if (end > l->start)
                continue; /* (grown since the completions above: next round) */
            if (!n++)
                load_buf_printf(b, "%s{\"job\":\"%s\",\"round\":%lld,\"leases\":[",
                                nidle++ ? "," : "", sim->rounds[j].job,
                                (long long)check_round(sim, sim->rounds[j].job));
            load_buf_printf(b, "%s%llu", n > 1 ? "," : "", (unsigned long long)l->id);
            L->st.idle_reported++;
        }
        if (n)
            load_buf_add(b, "]}", 2);
    }
    load_buf_printf(b, "],\"released\":[");
    for (int i = 0; i < sim->nreleased; i++)
        load_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)sim->released[i]);
    load_buf_add(b, "]}", 2);
    sim->nreleased = 0;
    load_post(L, sim, CALL_REPORT, L->complete_url);
}

/* Forget the leases dropped (compact the array). */
static void held_compact(load_sim_t *sim)
{
    int k = 0;
    for (int i = 0; i < sim->nheld; i++) {
        if (sim->held[i].gone)
            free(sim->held[i].source);
        else
            sim->held[k++] = sim->held[i];
    }
    sim->nheld = k;
}

void sticky_start(load_t *L, load_sim_t *sim)
{
    if (sim->want_more || !sim->nheld) {
        lease_call(L, sim);
        return;
    }
    sim->fresh = 0;
    if (big_listing(L, sim))
        return;
    report(L, sim);
}

/* A lease answer: hold what it granted. */
static void leases_taken(load_t *L, load_sim_t *sim, json_t *root)
{
    json_t *leases = json_object_get(root, "leases"), *o;
    size_t i;
    if (!json_array_size(leases))
        L->st.lease_empty++;
    else if (sim->first_ms < 0)
        sim->first_ms = load_now_ms() - L->t0_ms;
    json_array_foreach(leases, i, o)
    {
        load_lease_t l;
        if (load_lease_parse(L, o, &l) != 0)
            continue;
        L->st.leases_read += l.kind == 'r';
        L->st.leases_expand += l.kind == 'e';
        L->st.leases_repair += l.kind == 'p';
        if (l.kind == 'p') { /* (not simulated: left to expire) */
            free(l.source);
            continue;
        }
        sim->fresh = 1;
        if (sim->nheld == sim->capheld) {
            sim->capheld = sim->capheld ? sim->capheld * 2 : 64;
            sim->held = realloc(sim->held, sizeof *sim->held * (size_t)sim->capheld);
        }
        sim->held[sim->nheld++] = l;
    }
}

/* A report's answer: refused completions end their leases. */
static void results_taken(load_t *L, load_sim_t *sim, json_t *root)
{
    json_t *rs = json_object_get(root, "results"), *r;
    size_t i;
    json_array_foreach(rs, i, r)
    {
        if (json_integer_value(json_object_get(r, "status")) == 200)
            continue;
        load_lease_t *l = held_find(sim, (uint64_t)json_integer_value(json_object_get(r, "lease")));
        if (l)
            l->gone = 1;
        L->st.status_409++;
        load_error(L, "%s: a completion refused: %s", sim->name,
                   json_string_value(json_object_get(r, "error")));
    }
}

void sticky_answer(load_t *L, load_sim_t *sim, long status, json_t *root)
{
    if (sim->call == CALL_PART) {
        if (status != 200)
            sim->up.active = 0;
        if (sim->up.active)
            load_send_part(L, sim);
        else if (!big_listing(L, sim))
            report(L, sim);
        return;
    }
    if (status != 200 || !root) {
        sim->wake_ms = load_now_ms() + L->o.poll_ms;
        return;
    }
    rounds_update(sim, root);
    if (sim->call == CALL_LEASE)
        leases_taken(L, sim, root);
    else
        results_taken(L, sim, root);
    drop_listed(L, sim, root, "gone", 0);
    drop_listed(L, sim, root, "release", 1);
    held_compact(sim);
    sim->want_more = json_is_true(json_object_get(root, "more"));
    if (sim->call == CALL_LEASE && !json_array_size(json_object_get(root, "leases")))
        sim->want_more = 0; /* nothing to take: wait for the next round */
    schedule(sim);
    if (!sim->nheld && !sim->want_more)
        sim->wake_ms = load_now_ms() + L->o.poll_ms;
}

void sticky_free(load_sim_t *sim)
{
    for (int i = 0; i < sim->nheld; i++)
        free(sim->held[i].source);
    free(sim->held);
    free(sim->released);
    sim->held = NULL;
    sim->released = NULL;
    sim->nheld = 0;
}
