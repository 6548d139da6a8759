/* load_single.c - abbey-load's slaves on the one-lease-per-call protocol (see load.h):
 * what every abbey-slave before sticky leases does, one worker's loop per simulated
 * slave: POST /v1/lease (max --max), complete each lease granted (POST /v1/complete;
 * a glob's listing in parts when it is big), ask again at once; an empty answer
 * waits --poll-ms. A read lease reads [start, size) of the made-up file
 * (load_range: nothing with --grow 0). */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lease_call(load_t *L, load_sim_t *sim)
{
    load_buf_reset(&sim->body);
    load_buf_printf(&sim->body, "{\"slave\":\"%s\",\"labels\":%s,\"max\":%d}", sim->name,
                    L->o.labels, L->o.max);
    load_post(L, sim, CALL_LEASE, L->lease_url);
}

void load_send_part(load_t *L, load_sim_t *sim)
{
    load_upload_t *u = &sim->up;
    int last = u->part == u->listing->nparts - 1;
    load_buf_reset(&sim->body);
    load_buf_printf(&sim->body, "{\"slave\":\"%s\",\"lease\":%llu,\"offset\":%d,\"more\":%s,",
                    sim->name, (unsigned long long)u->lease, u->listing->offsets[u->part],
                    last ? "false" : "true");
    if (u->round >= 0)
        load_buf_printf(&sim->body, "\"round\":%lld,", (long long)u->round);
    load_buf_printf(&sim->body, "%s}", u->listing->parts[u->part]);
    u->part++;
    u->active = !last;
    L->st.parts++;
    load_post(L, sim, CALL_PART, L->complete_url);
}

/* The completion of lease l (a part of its listing first, when it is big). */
static void complete(load_t *L, load_sim_t *sim, const load_lease_t *l)
{
    load_buf_t *b = &sim->body;
    load_buf_reset(b);
    if (l->kind == 'e') {
        const load_listing_t *g = load_listing(l->source, L->o.files);
        if (g->nparts > 1) {
            sim->up = (load_upload_t){1, l->id, -1, g, 0};
            load_send_part(L, sim);
            return;
        }
        load_buf_printf(b,
                        "{\"slave\":\"%s\",\"lease\":%llu,\"instance\":\"\",\"start\":0,"
                        "\"end\":0,\"at_end\":true,%s}",
                        sim->name, (unsigned long long)l->id, g->parts[0]);
    } else if (l->kind == 'p') {
        load_buf_printf(b,
                        "{\"slave\":\"%s\",\"lease\":%llu,\"repair\":true,"
                        "\"error\":\"abbey-load: a simulated slave has no data\"}",
                        sim->name, (unsigned long long)l->id);
    } else {
        int64_t end, size;
        load_range(L, l->start, l->cap, &end, &size);
        L->st.ranges += end > l->start;
        load_buf_printf(b, "{\"slave\":\"%s\",\"lease\":%llu,\"instance\":", sim->name,
                        (unsigned long long)l->id);
        load_buf_json_str(b, l->instance);
        load_buf_printf(b,
                        ",\"start\":%lld,\"end\":%lld,\"at_end\":%s,\"size\":%lld,\"lines\":%lld,"
                        "\"bad_lines\":0,\"bytes\":%lld}",
                        (long long)l->start, (long long)end, end == size ? "true" : "false",
                        (long long)size, (long long)(end - l->start) / 100,
                        (long long)(end - l->start));
    }
    load_post(L, sim, CALL_COMPLETE, L->complete_url);
}

static void todo_clear(load_sim_t *sim)
{
    for (int i = 0; i < sim->ntodo; i++)
        free(sim->todo[i].source);
    free(sim->todo);
    sim->todo = NULL;
    sim->ntodo = sim->todo_next = 0;
}

/* The next call: a part, a completion, or leases again. */
static void next_step(load_t *L, load_sim_t *sim)
{
    if (sim->up.active) {
        load_send_part(L, sim);
        return;
    }
    if (sim->todo_next < sim->ntodo) {
        complete(L, sim, &sim->todo[sim->todo_next++]);
        return;
    }
    todo_clear(sim);
    lease_call(L, sim);
}

void single_start(load_t *L, load_sim_t *sim)
{
    lease_call(L, sim);
}

void single_answer(load_t *L, load_sim_t *sim, long status, json_t *root)
{
    if (sim->call != CALL_LEASE) {
        if (sim->call == CALL_PART && status != 200)
            sim->up.active = 0; /* refused: the lease expires, as abbey-slave leaves it */
        next_step(L, sim);
        return;
    }
    json_t *leases = root ? json_object_get(root, "leases") : NULL, *o;
    size_t i;
    if (status != 200 || !json_is_array(leases)) {
        sim->wake_ms = load_now_ms() + L->o.poll_ms;
        return;
    }
    sim->todo = calloc(json_array_size(leases) + 1, sizeof *sim->todo);
    json_array_foreach(leases, i, o)
    {
        load_lease_t *l = &sim->todo[sim->ntodo];
        if (load_lease_parse(L, o, l) != 0)
            continue;
        sim->ntodo++;
        L->st.leases_read += l->kind == 'r';
        L->st.leases_expand += l->kind == 'e';
        L->st.leases_repair += l->kind == 'p';
    }
    if (!sim->ntodo) {
        L->st.lease_empty++;
        todo_clear(sim);
        sim->wake_ms = load_now_ms() + L->o.poll_ms;
        return;
    }
    if (sim->first_ms < 0)
        sim->first_ms = load_now_ms() - L->t0_ms;
    next_step(L, sim);
}

void single_free(load_sim_t *sim)
{
    todo_clear(sim);
}
