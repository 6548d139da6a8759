/* hold_pass.c - the holder's pass over its sticky leases and its batched report (see
 * slave/hold.c, docs/CLUSTER.md "Sticky leases"; the holder's insides: hold_int.h).
 *
 * A pass checks each item that waits: a file by stat (as when it was last read to its
 * end, or its inode at the committed offset: nothing new), anything else is queued for
 * a worker. What the workers finish is taken in: a completion goes in the report, a read
 * that found nothing and a glob's listing sent 3 times alike are nothing new. A report
 * sends completions, nothing new by job and round, and the leases given back, in calls
 * kept under the primary's body limit; each accepted completion moves its item to where
 * the primary says it reads on. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hold_int.h"
#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "source.h"
#include "wirepath.h"

/* ---- a pass: one check of every item ---- */

static void stat_sig(const char *path, fsig_t *g)
{
    struct stat st;
    memset(g, 0, sizeof *g);
    if (stat(path, &st) != 0) {
        g->missing = 1;
        return;
    }
    g->dev = (uint64_t)st.st_dev;
    g->ino = (uint64_t)st.st_ino;
    g->size = (uint64_t)st.st_size;
    g->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int sig_same(const fsig_t *a, const fsig_t *b)
{
    return a->missing == b->missing && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

/* 1 when a check of file item it finds nothing new (it->seen: what stat says now). */
static int nothing_new(hold_item_t *it, apr_pool_t *tmp)
{
    const slave_lease_t *l = &it->l;
    const char *path = wirepath_decode(l->file ? l->file : l->source, tmp);
    uint64_t dev, ino;
    instance_id_t id;
    stat_sig(path, &it->seen);
    if (it->has_sig && sig_same(&it->sig, &it->seen))
        return 1; /* as when it was last read to its end */
    if (it->seen.missing || source_path_is_stream(path))
        return 0; /* (an archive's offsets are not its size) */
    if (l->file ? instance_file_parse(l->file_id ? l->file_id : "", &dev, &ino) != 0
                : instance_parse(l->instance, &id) != 0)
        return 0; /* (a new task: read) */
    if (!l->file) {
        dev = id.dev;
        ino = id.ino;
    }
    return it->seen.dev == dev && it->seen.ino == ino && it->seen.size == l->start;
}

static void idle_add(hold_t *h, hold_item_t *it)
{
    idle_group_t *g = NULL;
    for (int i = 0; i < h->nidle && !g; i++)
        if (h->idle[i].round == it->claim && strcmp(h->idle[i].job, it->l.job) == 0)
            g = &h->idle[i];
    if (!g) {
        if (h->nidle == h->idle_cap) {
            h->idle_cap = h->idle_cap ? 2 * h->idle_cap : 4;
            h->idle = mem_xrealloc(h->idle, sizeof *h->idle * (size_t)h->idle_cap);
        }
        g = &h->idle[h->nidle++];
        g->job = mem_xstrdup(it->l.job);
        g->round = it->claim;
        g->leases = json_array();
    }
    json_array_append_new(g->leases, json_integer((json_int_t)it->l.id));
}

void hold_pass(hold_t *h, int64_t now)
{
    apr_pool_t *tmp = mem_xpool(h->s->pool);
    apr_thread_mutex_lock(h->lock);
    h->lagging = 0;
    h->pass_at = now;
    for (int i = 0; i < h->nitems; i++) {
        hold_item_t *it = h->items[i];
        if (it->state == H_QUEUED || it->state == H_RUNNING)
            /* still on a round older than the one this pass checks: we cannot keep up */
            h->lagging |= it->claim < hold_claim(h, it->l.job, now, it->claim);
        if (it->state != H_WAIT)
            continue;
        if (it->release) { /* given back in this report */
            hold_give_back(h, i--);
            continue;
        }
        it->claim = hold_claim(h, it->l.job, now, it->l.round);
        if (it->l.kind == SLAVE_LEASE_READ && !source_is_http(it->l.source) &&
            nothing_new(it, tmp)) {
            it->sig = it->seen;
            it->has_sig = 1;
            idle_add(h, it);
        } else {
            hold_enqueue(h, it); /* (it->seen is kept for when its read ends) */
        }
    }
    apr_thread_mutex_unlock(h->lock);
    apr_pool_destroy(tmp);
    /* the next pass: when the next round of any job starts, on the primary's clock */
    int64_t next = now + h->s->opts.poll_ms;
    for (int i = 0; i < h->nrounds; i++) {
        int64_t at = h->base_mono + (h->rounds[i].next_ms - h->base_ms) + 1;
        if (at > now && at < next)
            next = at;
    }
    h->next_pass = next;
}

/* ---- the report ---- */

/* 1 when listing a (the "paths" and "files" of a completion) is b's: the same
 * paths, files and heads, no size smaller. */
static int listing_same(const json_t *a, const json_t *b)
{
    json_t *fa = json_object_get(a, "files"), *fb = json_object_get(b, "files"), *x;
    size_t i;
    if (!b || !json_equal(json_object_get(a, "paths"), json_object_get(b, "paths")) ||
        json_array_size(fa) != json_array_size(fb))
        return 0;
    json_array_foreach(fa, i, x)
    {
        json_t *y = json_array_get(fb, i), *sx = json_object_get(x, "size"),
               *sy = json_object_get(y, "size");
        if (json_integer_value(sx) < json_integer_value(sy))
            return 0;
        json_t *cx = json_copy(x), *cy = json_copy(y);
        json_object_del(cx, "size");
        json_object_del(cy, "size");
        int same = json_equal(cx, cy);
        json_decref(cx);
        json_decref(cy);
        if (!same)
            return 0;
    }
    return 1;
}

/* A read that found nothing (no range, no move, no error): nothing new. */
static int empty_read(const json_t *c)
{
    const char *next = json_string_value(json_object_get(c, "next_instance"));
    return json_integer_value(json_object_get(c, "start")) ==
               json_integer_value(json_object_get(c, "end")) &&
           json_is_true(json_object_get(c, "at_end")) && (!next || !*next) &&
           !json_object_get(c, "error");
}

/* Take in what the workers finished: completions for the report, or nothing new. */
void hold_collect(hold_t *h, int64_t now)
{
    apr_thread_mutex_lock(h->lock);
    for (int i = 0; h->nfinished > 0 && i < h->nitems; i++) {
        hold_item_t *it = h->items[i];
        if (it->state != H_DONE)
            continue;
        h->nfinished--;
        json_t *c = it->result;
        if (!c) { /* not completed (logged): checked again next round */
            it->state = H_WAIT;
        } else if (it->l.kind == SLAVE_LEASE_EXPAND
                       ? it->same >= LISTINGS_SAME && listing_same(c, it->listing)
                       : empty_read(c)) {
            if (it->l.kind == SLAVE_LEASE_READ) {
                it->sig = it->seen;
                it->has_sig = 1;
            }
            json_decref(c);
            it->result = NULL;
            it->state = H_WAIT;
            idle_add(h, it);
        } else {
            it->state = H_SENT;
            if (h->npend == h->pend_cap) {
                h->pend_cap = h->pend_cap ? 2 * h->pend_cap : 16;
                h->pend = mem_xrealloc(h->pend, sizeof *h->pend * (size_t)h->pend_cap);
            }
            h->pend[h->npend++] = it;
            if (!h->first_result)
                h->first_result = now;
        }
    }
    apr_thread_mutex_unlock(h->lock);
}

/* The primary's answer to completion of it (result r of the report). */
static void settle(hold_t *h, hold_item_t *it, const json_t *r)
{
    int status = (int)json_integer_value(json_object_get(r, "status"));
    json_t *c = it->result;
    if (it->dropped) { /* gone at the primary meanwhile */
        hold_item_free(it);
        return;
    }
    it->result = NULL;
    if (status == 200) {
        const char *inst = json_string_value(json_object_get(r, "instance"));
        json_t *start = json_object_get(r, "start");
        if (inst && json_is_integer(start)) { /* where the primary says it reads on */
            free((char *)it->l.instance);
            it->l.instance = mem_xstrdup(inst);
            it->l.start = (uint64_t)json_integer_value(start);
        }
        if (it->release) { /* asked back: given back now, not read on */
            it->state = H_WAIT;
            hold_give_back(h, hold_item_index(h, it->l.id));
        } else if (it->l.kind == SLAVE_LEASE_EXPAND) {
            it->same = listing_same(c, it->listing) ? it->same + 1 : 1;
            json_decref(it->listing);
            it->listing = json_pack("{s:O, s:O}", "paths", json_object_get(c, "paths"), "files",
                                    json_object_get(c, "files"));
            it->state = H_WAIT;
        } else if (!json_is_true(json_object_get(c, "at_end")) && !h->closing) {
            hold_enqueue(h, it); /* the byte cap, or a new instance with data: read on */
        } else {
            it->state = H_WAIT;
            it->sig = it->seen; /* (as stat saw it before this last read) */
            it->has_sig = !json_is_string(json_object_get(c, "next_instance")) ||
                          !*json_string_value(json_object_get(c, "next_instance"));
        }
    } else {
        it->state = H_WAIT;
        it->has_sig = 0;
        json_decref(it->listing); /* (a glob sends its whole listing again) */
        it->listing = NULL;
        it->same = 0;
        log_msg("lease %" PRIu64 " (%s %s): completion refused: HTTP %d: %s%s", it->l.id, it->l.job,
                it->l.source, status,
                json_string_value(json_object_get(r, "error"))
                    ? json_string_value(json_object_get(r, "error"))
                    : "",
                status == 409 || status == 400 ? "; the lease is given up"
                                               : "; read again next round");
        if (status == 409 || status == 400) {
            if (status == 400) /* (the primary keeps it: give it back) */
                json_array_append_new(h->released, json_integer((json_int_t)it->l.id));
            hold_item_drop(h, hold_item_index(h, it->l.id));
        }
    }
    json_decref(c);
}

/* Send what the report holds (as many calls as its size needs). */
/* The glob listings too big for a report go first, each in parts of its own
 * (slave_listing_send, with its round), settled by the last part's answer (no
 * answer: as a 503, the whole listing is sent again next round). */
static void big_listings(hold_t *h)
{
    for (int i = 0; i < h->npend;) {
        hold_item_t *it = h->pend[i];
        json_t *c = it->result, *paths = json_object_get(c, "paths"),
               *files = json_object_get(c, "files");
        if (it->l.kind != SLAVE_LEASE_EXPAND || !json_is_array(paths) ||
            slave_listing_bytes(paths, files) <= SLAVE_LISTING_PART) {
            i++;
            continue;
        }
        abbey_err_t err;
        long st = slave_listing_send(h->s, h->hc, it->l.id,
                                     json_integer_value(json_object_get(c, "round")), paths, files,
                                     &h->body, &h->resp, &err);
        json_t *r = json_pack("{s:i, s:s}", "status", st ? (int)st : 503, "error",
                              st == 200 ? "" : err.msg);
        apr_thread_mutex_lock(h->lock);
        settle(h, it, r);
        memmove(h->pend + i, h->pend + i + 1, sizeof *h->pend * (size_t)(h->npend - i - 1));
        h->npend--;
        apr_thread_mutex_unlock(h->lock);
        json_decref(r);
    }
}

void hold_report(hold_t *h)
{
    slave_t *s = h->s;
    big_listings(h);
    while (h->npend || h->nidle || json_array_size(h->released)) {
        json_t *cs = json_array(), *idle = json_array();
        size_t bytes = 0;
        int n = 0;
        while (n < h->npend && (n == 0 || bytes < REPORT_BYTES_MAX)) {
            bytes += json_dumpb(h->pend[n]->result, NULL, 0, JSON_COMPACT);
            json_array_append(cs, h->pend[n++]->result);
        }
        for (int i = 0; i < h->nidle; i++)
            json_array_append_new(idle, json_pack("{s:s, s:I, s:O}", "job", h->idle[i].job, "round",
                                                  (json_int_t)h->idle[i].round, "leases",
                                                  h->idle[i].leases));
        json_t *root = json_pack("{s:s, s:o, s:o, s:o, s:b}", "slave", s->opts.name, "completions",
                                 cs, "idle", idle, "released", h->released, "lagging", h->lagging);
        h->released = json_array(); /* (the report took the list) */
        hold_put_spool(h, root);
        for (int i = 0; i < h->nidle; i++) {
            json_decref(h->idle[i].leases);
            free(h->idle[i].job);
        }
        h->nidle = 0;
        json_t *a = hold_post(h, s->complete_url, root);
        if (!a) /* no answer: the completions are sent again, the rest is next round's */
            return;
        int64_t arrived = hold_mono_ms();
        json_t *results = json_object_get(a, "results");
        apr_thread_mutex_lock(h->lock);
        for (int i = 0; i < n; i++)
            settle(h, h->pend[i], json_array_get(results, (size_t)i));
        if (n) {
            memmove(h->pend, h->pend + n, sizeof *h->pend * (size_t)(h->npend - n));
            h->npend -= n;
        }
        apr_thread_mutex_unlock(h->lock);
        hold_take_news(h, a, arrived);
        hold_take_gone(h, json_object_get(a, "gone"));
        json_decref(a);
    }
    h->first_result = 0;
}
