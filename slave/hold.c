/* hold.c - the slave's sticky leases (docs/CLUSTER.md "Sticky leases"; see slave.h).
 *
 * The holder thread asks the primary for batches of sticky leases and keeps
 * them as items. Once a round (the primary's answers say when the next round
 * starts, on its clock: a pass starts that many milliseconds after the
 * answer arrived, so it is a check of the new round whatever the two
 * clocks say) it checks each item it holds: a file by stat (the same file
 * and size as when it was last read to its end, or the same inode with its
 * size at the committed offset: nothing new), an http(s) source and a glob by
 * running it. What must be read is queued for the worker threads (hold_take,
 * hold_done). Their completions (hold_result) and the "nothing new" of the
 * pass go to the primary in one batched report; an accepted completion moves
 * the item's offset and instance to what the primary committed, one that
 * stopped at the byte cap is read on at once, a refused one (the lease is
 * gone) drops the item; a read that found nothing is reported as nothing new,
 * and a glob's listing equal to the last one sent is, once 3 identical
 * listings were sent in a row. Every third of the lease lifetime the holder
 * renews all it holds in one call. Leases the primary asks back are released
 * in the next report once their reading is done; on stop, everything is.
 * One-shot leases in a lease answer (repairs, or every lease from an older
 * primary) are queued as they come and completed by the worker itself.
 *
 * Locking: h->lock guards the queue, the items' states and results and the
 * config hash; the holder thread alone touches the rest (its HTTP client,
 * the round information, the report being built), and changes an item's
 * lease only when no worker runs it. */
#include <apr_strings.h>
#include <apr_time.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "instance.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "slave.h"
#include "source.h"
#include "spool.h"
#include "wirepath.h"

#define ASK_MAX 1024                  /* leases asked for in one call */
#define FLUSH_MS 20                   /* a completion waits at most this for others to join it */
#define REPORT_BYTES_MAX (768u << 10) /* a report stays below the primary's 1 MiB */
#define LISTINGS_SAME 3               /* identical listings sent before "nothing new" */
#define WAIT_MAX_MS 100

enum { H_WAIT, H_QUEUED, H_RUNNING, H_DONE, H_SENT };

/* What stat said of a file. */
typedef struct fsig_t {
    int missing;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} fsig_t;

typedef struct hold_item_t {
    slave_lease_t l; /* first: hold_result finds the item from its lease */
    hold_t *h;
    int state;
    int dropped;     /* gone at the primary while a worker ran it: freed when it is done */
    int release;     /* the primary asked for it back */
    int64_t claim;   /* the round (of its job) its current check is of */
    json_t *result;  /* H_DONE, H_SENT: the completion its run made (NULL: none) */
    json_t *listing; /* a glob's: its last listing sent, {"paths", "files"} */
    int same;        /* identical listings sent in a row */
    int has_sig;
    fsig_t sig, seen; /* as stat saw it when last read to its end; at this check */
    struct hold_item_t *qnext;
} hold_item_t;

typedef struct round_info_t {
    char *job;
    int64_t round, next, next_ms;
} round_info_t;

/* "nothing new" of one job and round, for the report. */
typedef struct idle_group_t {
    char *job;
    int64_t round;
    json_t *leases;
} idle_group_t;

struct hold_t {
    slave_t *s;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *work; /* a lease is queued, or the holder stops */
    apr_thread_cond_t *done; /* a worker finished one */
    hold_item_t **items;     /* the sticky leases held */
    int nitems, cap;
    hold_item_t *qhead, *qtail;
    int nbusy;     /* queued or running */
    int nfinished; /* done, not yet taken in by the holder */
    int closing;   /* no more queueing: workers take nothing more */
    char config[SLAVE_HASH_MAX];
    /* the holder thread's own */
    apr_thread_t *thread;
    int stop; /* (atomic) */
    hclient_t *hc;
    hclient_resp_t resp;
    buf_t body;
    round_info_t *rounds;
    int nrounds;
    int64_t base_ms, base_mono; /* the primary's now_ms, and when (ours) it arrived */
    int more, lagging, pass_busy;
    int64_t life_ms; /* the lease lifetime */
    int64_t next_pass, last_ask, last_renew, first_result;
    /* the report being built */
    hold_item_t **pend; /* items whose completion goes in it (H_SENT) */
    int npend, pend_cap;
    idle_group_t *idle;
    int nidle, idle_cap;
    json_t *released;
};

static int64_t mono_ms(void)
{
    return (int64_t)(apr_time_now() / 1000); /* (APR's clock: the deltas are what count) */
}

/* ---- items ---- */

static char *dup_or_null(const char *s)
{
    return s ? mem_xstrdup(s) : NULL;
}

static hold_item_t *item_new(hold_t *h, const slave_lease_t *l)
{
    hold_item_t *it = mem_xcalloc(1, sizeof *it);
    it->l = *l;
    it->l.job = mem_xstrdup(l->job);
    it->l.source = mem_xstrdup(l->source);
    it->l.instance = mem_xstrdup(l->instance);
    it->l.file = dup_or_null(l->file);
    it->l.file_id = dup_or_null(l->file_id);
    it->l.master = dup_or_null(l->master);
    it->h = h;
    it->claim = l->round;
    return it;
}

static void item_free(hold_item_t *it)
{
    free((char *)it->l.job);
    free((char *)it->l.source);
    free((char *)it->l.instance);
    free((char *)it->l.file);
    free((char *)it->l.file_id);
    free((char *)it->l.master);
    json_decref(it->result);
    json_decref(it->listing);
    free(it);
}

/* With the lock: put it at the queue's end for a worker. */
static void enqueue(hold_t *h, hold_item_t *it)
{
    it->state = H_QUEUED;
    it->qnext = NULL;
    if (h->qtail)
        h->qtail->qnext = it;
    else
        h->qhead = it;
    h->qtail = it;
    h->nbusy++;
    apr_thread_cond_signal(h->work);
}

/* With the lock: it leaves the items (freed now, or by hold_done when running). */
static void item_drop(hold_t *h, int i)
{
    hold_item_t *it = h->items[i];
    h->items[i] = h->items[--h->nitems];
    if (it->state == H_QUEUED) {
        hold_item_t **pp = &h->qhead, *prev = NULL;
        while (*pp != it) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        *pp = it->qnext;
        if (h->qtail == it)
            h->qtail = prev;
        h->nbusy--;
    }
    if (it->state == H_RUNNING || it->state == H_SENT) { /* freed by hold_done, settle */
        it->dropped = 1;
        return;
    }
    if (it->state == H_DONE)
        h->nfinished--;
    item_free(it);
}

static int item_index(hold_t *h, uint64_t id)
{
    for (int i = 0; i < h->nitems; i++)
        if (h->items[i]->l.id == id)
            return i;
    return -1;
}

/* ---- the workers' side ---- */

hold_item_t *hold_take(hold_t *h, int64_t wait_ms)
{
    hold_item_t *it = NULL;
    apr_thread_mutex_lock(h->lock);
    if (!h->qhead && !h->closing && wait_ms > 0)
        apr_thread_cond_timedwait(h->work, h->lock, (apr_interval_time_t)wait_ms * 1000);
    if (h->qhead && !h->closing) {
        it = h->qhead;
        h->qhead = it->qnext;
        if (!h->qhead)
            h->qtail = NULL;
        it->state = H_RUNNING;
    }
    apr_thread_mutex_unlock(h->lock);
    return it;
}

void hold_done(hold_t *h, hold_item_t *it)
{
    apr_thread_mutex_lock(h->lock);
    h->nbusy--;
    if (it->dropped || !it->l.sticky) { /* gone meanwhile, or one-shot: completed by the worker */
        item_free(it);
    } else {
        it->state = H_DONE;
        h->nfinished++;
        apr_thread_cond_signal(h->done);
    }
    apr_thread_mutex_unlock(h->lock);
}

const slave_lease_t *hold_lease(const hold_item_t *it)
{
    return &it->l;
}

void hold_config(hold_t *h, char *out)
{
    apr_thread_mutex_lock(h->lock);
    memcpy(out, h->config, SLAVE_HASH_MAX);
    apr_thread_mutex_unlock(h->lock);
}

void hold_result(const slave_lease_t *l, json_t *root)
{
    hold_item_t *it = (hold_item_t *)l; /* (the lease is the item's first member) */
    json_object_set_new(root, "round", json_integer((json_int_t)it->claim));
    json_object_del(root, "slave"); /* (the report names it once) */
    json_decref(it->result);
    it->result = root;
}

/* ---- calls to the primary ---- */

/* POST root (released) to url; the answer parsed (a new reference), or NULL
 * (logged once per outage). */
static json_t *post(hold_t *h, const char *url, json_t *root)
{
    abbey_err_t err;
    slave_t *s = h->s;
    buf_reset(&h->body);
    jsonio_dump_buf(root, &h->body);
    json_decref(root);
    apr_status_t rv = hclient_request(h->hc, "POST", url, "application/json", h->body.data,
                                      h->body.len, NULL, &h->resp, &err);
    json_t *answer = NULL;
    if (rv == APR_SUCCESS && h->resp.status == 200)
        answer = json_loadb((const char *)h->resp.body.data, h->resp.body.len, 0, NULL);
    if (!answer) {
        if (!__atomic_exchange_n(&s->primary_down, 1, __ATOMIC_ACQ_REL))
            log_msg("primary: POST %s: %s (retrying)", url,
                    rv != APR_SUCCESS ? err.msg
                                      : apr_psprintf(s->pool, "HTTP %ld", h->resp.status));
        return NULL;
    }
    if (__atomic_exchange_n(&s->primary_down, 0, __ATOMIC_ACQ_REL))
        log_msg("primary: answering again");
    return answer;
}

/* What every answer of the batched calls says: the clock, the rounds, more,
 * leases asked back, the config. */
static void take_news(hold_t *h, const json_t *a, int64_t arrived)
{
    json_t *rounds = json_object_get(a, "rounds"), *v, *rel = json_object_get(a, "release");
    const char *job, *cfg = json_string_value(json_object_get(a, "config"));
    size_t i;
    if (json_is_integer(json_object_get(a, "now_ms"))) {
        h->base_ms = json_integer_value(json_object_get(a, "now_ms"));
        h->base_mono = arrived;
    }
    if (json_is_object(rounds)) {
        for (int k = 0; k < h->nrounds; k++)
            free(h->rounds[k].job);
        h->rounds = mem_xrealloc(h->rounds, sizeof *h->rounds * (json_object_size(rounds) + 1));
        h->nrounds = 0;
        json_object_foreach(rounds, job, v)
        {
            round_info_t *r = &h->rounds[h->nrounds++];
            r->job = mem_xstrdup(job);
            r->round = json_integer_value(json_object_get(v, "round"));
            r->next = json_integer_value(json_object_get(v, "next"));
            r->next_ms = json_integer_value(json_object_get(v, "next_ms"));
        }
    }
    h->more = json_is_true(json_object_get(a, "more"));
    apr_thread_mutex_lock(h->lock);
    if (cfg)
        snprintf(h->config, sizeof h->config, "%s", cfg);
    json_array_foreach(rel, i, v)
    {
        int k = json_is_integer(v) ? item_index(h, (uint64_t)json_integer_value(v)) : -1;
        if (k >= 0 && !h->items[k]->release) {
            h->items[k]->release = 1;
            log_msg("lease %" PRIu64 " (%s %s): the primary asks for it back", h->items[k]->l.id,
                    h->items[k]->l.job, h->items[k]->l.source);
        }
    }
    apr_thread_mutex_unlock(h->lock);
}

/* Drop the items the primary says are not ours any more. */
static void take_gone(hold_t *h, const json_t *gone)
{
    json_t *v;
    size_t i;
    apr_thread_mutex_lock(h->lock);
    json_array_foreach(gone, i, v)
    {
        int k = json_is_integer(v) ? item_index(h, (uint64_t)json_integer_value(v)) : -1;
        if (k >= 0) {
            log_msg("lease %" PRIu64 " (%s %s): gone at the primary (expired or taken back)",
                    h->items[k]->l.id, h->items[k]->l.job, h->items[k]->l.source);
            item_drop(h, k);
        }
    }
    apr_thread_mutex_unlock(h->lock);
}

/* The round a check of job made now is of: the next one once the primary's clock
 * (as its last answer said, plus our time since) reached its start. */
static int64_t claim_of(hold_t *h, const char *job, int64_t now, int64_t fallback)
{
    for (int i = 0; i < h->nrounds; i++)
        if (strcmp(h->rounds[i].job, job) == 0)
            return h->base_ms + (now - h->base_mono) >= h->rounds[i].next_ms ? h->rounds[i].next
                                                                             : h->rounds[i].round;
    return fallback;
}

/* The spool's backlog into a request, for the primary's status. */
static void put_spool(hold_t *h, json_t *root)
{
    spool_backlog_t b;
    if (!h->s->spool)
        return;
    spool_backlog(h->s->spool, slave_now_ms(), &b);
    json_object_set_new(root, "spool",
                        json_pack("{s:I, s:I, s:I}", "frames", (json_int_t)b.frames, "bytes",
                                  (json_int_t)b.bytes, "oldest_ms", (json_int_t)b.oldest_ms));
}

/* POST /v1/lease for a batch of sticky leases. */
static void ask(hold_t *h, int64_t now)
{
    slave_t *s = h->s;
    json_t *labels = json_array();
    for (int k = 0; k < s->opts.nlabels; k++)
        json_array_append_new(labels, json_string(s->opts.labels[k]));
    json_t *root =
        json_pack("{s:s, s:o, s:i, s:b, s:i, s:b}", "slave", s->opts.name, "labels", labels, "max",
                  ASK_MAX, "sticky", 1, "workers", s->opts.workers, "lagging", h->lagging);
    put_spool(h, root);
    h->last_ask = now;
    json_t *a = post(h, s->lease_url, root), *lo;
    if (!a)
        return;
    take_news(h, a, mono_ms());
    apr_pool_t *tmp = mem_xpool(s->pool);
    size_t i;
    int added = 0;
    json_array_foreach(json_object_get(a, "leases"), i, lo)
    {
        slave_lease_t l;
        abbey_err_t err;
        if (worker_parse_lease(lo, tmp, &l, &err) != 0) {
            log_msg("primary: %s", err.msg);
            continue;
        }
        int64_t life = l.expires_ms - json_integer_value(json_object_get(a, "now_ms"));
        if (life > 0 && (!h->life_ms || life < h->life_ms))
            h->life_ms = life;
        hold_item_t *it = item_new(h, &l);
        apr_thread_mutex_lock(h->lock);
        if (l.sticky) {
            if (h->nitems == h->cap) {
                h->cap = h->cap ? 2 * h->cap : 64;
                h->items = mem_xrealloc(h->items, sizeof *h->items * (size_t)h->cap);
            }
            h->items[h->nitems++] = it;
            it->claim = claim_of(h, l.job, mono_ms(), l.round);
            added++;
            if (it->claim >= l.round) /* it owes a round started: read it at once */
                enqueue(h, it);
        } else {
            slave_lease_track(s, l.id, l.expires_ms, slave_now_ms()); /* the renewer's */
            enqueue(h, it);
        }
        apr_thread_mutex_unlock(h->lock);
    }
    apr_pool_destroy(tmp);
    if (added)
        log_msg("holding %d sticky lease(s) (%d new)", h->nitems, added);
    json_decref(a);
}

/* POST /v1/lease/renew with every sticky lease held. */
static void renew(hold_t *h, int64_t now)
{
    json_t *ids = json_array();
    h->last_renew = now;
    apr_thread_mutex_lock(h->lock);
    for (int i = 0; i < h->nitems; i++)
        json_array_append_new(ids, json_integer((json_int_t)h->items[i]->l.id));
    apr_thread_mutex_unlock(h->lock);
    if (!json_array_size(ids)) {
        json_decref(ids);
        return;
    }
    json_t *a =
        post(h, h->s->renew_url, json_pack("{s:s, s:o}", "slave", h->s->opts.name, "leases", ids));
    if (!a)
        return;
    take_news(h, a, mono_ms());
    take_gone(h, json_object_get(a, "gone"));
    json_decref(a);
}

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

static void pass(hold_t *h, int64_t now)
{
    apr_pool_t *tmp = mem_xpool(h->s->pool);
    apr_thread_mutex_lock(h->lock);
    h->lagging = h->nbusy > 0; /* the last pass is not done: we cannot keep up */
    for (int i = 0; i < h->nitems; i++) {
        hold_item_t *it = h->items[i];
        if (it->state != H_WAIT)
            continue;
        if (it->release) { /* given back in this report */
            json_array_append_new(h->released, json_integer((json_int_t)it->l.id));
            item_drop(h, i--);
            continue;
        }
        it->claim = claim_of(h, it->l.job, now, it->l.round);
        if (it->l.kind == SLAVE_LEASE_READ && !source_is_http(it->l.source) &&
            nothing_new(it, tmp)) {
            it->sig = it->seen;
            it->has_sig = 1;
            idle_add(h, it);
        } else {
            enqueue(h, it); /* (it->seen is kept for when its read ends) */
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
static void collect(hold_t *h, int64_t now)
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
        item_free(it);
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
        if (it->l.kind == SLAVE_LEASE_EXPAND) {
            it->same = listing_same(c, it->listing) ? it->same + 1 : 1;
            json_decref(it->listing);
            it->listing = json_pack("{s:O, s:O}", "paths", json_object_get(c, "paths"), "files",
                                    json_object_get(c, "files"));
            it->state = H_WAIT;
        } else if (!json_is_true(json_object_get(c, "at_end")) && !h->closing) {
            enqueue(h, it); /* the byte cap, or a new instance with data: read on */
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
            item_drop(h, item_index(h, it->l.id));
        }
    }
    json_decref(c);
}

/* Send what the report holds (as many calls as its size needs). */
static void report(hold_t *h)
{
    slave_t *s = h->s;
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
        put_spool(h, root);
        for (int i = 0; i < h->nidle; i++) {
            json_decref(h->idle[i].leases);
            free(h->idle[i].job);
        }
        h->nidle = 0;
        json_t *a = post(h, s->complete_url, root);
        if (!a) /* no answer: the completions are sent again, the rest is next round's */
            return;
        int64_t arrived = mono_ms();
        json_t *results = json_object_get(a, "results");
        apr_thread_mutex_lock(h->lock);
        for (int i = 0; i < n; i++)
            settle(h, h->pend[i], json_array_get(results, (size_t)i));
        memmove(h->pend, h->pend + n, sizeof *h->pend * (size_t)(h->npend - n));
        h->npend -= n;
        apr_thread_mutex_unlock(h->lock);
        take_news(h, a, arrived);
        take_gone(h, json_object_get(a, "gone"));
        json_decref(a);
    }
    h->first_result = 0;
}

/* ---- the thread ---- */

static void turn(hold_t *h)
{
    slave_t *s = h->s;
    int64_t now = mono_ms();
    if ((h->more || !h->nitems) && now - h->last_ask >= (h->more ? 0 : s->opts.poll_ms))
        ask(h, now);
    if (now >= h->next_pass)
        pass(h, now);
    collect(h, now);
    apr_thread_mutex_lock(h->lock);
    int busy = h->nbusy;
    apr_thread_mutex_unlock(h->lock);
    /* the pass's "nothing new" goes at once; completions wait a little for others */
    if ((h->nidle && !h->npend) || json_array_size(h->released) ||
        (h->npend && (!busy || now - h->first_result >= FLUSH_MS)))
        report(h);
    int64_t life = h->life_ms > 0 ? h->life_ms : 30000;
    if (now - h->last_renew >= life / 3)
        renew(h, now);
    int64_t wait = h->next_pass - now;
    if (h->npend && FLUSH_MS < wait)
        wait = FLUSH_MS;
    if (wait > WAIT_MAX_MS)
        wait = WAIT_MAX_MS;
    apr_thread_mutex_lock(h->lock);
    if (wait > 0 && !h->nfinished && !__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
        apr_thread_cond_timedwait(h->done, h->lock, (apr_interval_time_t)wait * 1000);
    apr_thread_mutex_unlock(h->lock);
}

static void *APR_THREAD_FUNC hold_thread(apr_thread_t *t, void *data)
{
    hold_t *h = data;
    (void)t;
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
        turn(h);
    /* the workers are done: report what they read, then give everything back */
    collect(h, mono_ms());
    report(h);
    apr_thread_mutex_lock(h->lock);
    int n = h->nitems;
    for (int i = 0; i < h->nitems; i++)
        json_array_append_new(h->released, json_integer((json_int_t)h->items[i]->l.id));
    apr_thread_mutex_unlock(h->lock);
    report(h);
    if (n)
        log_msg("stopping: %d sticky lease(s) given back", n);
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

static apr_status_t hold_cleanup(void *data)
{
    hold_t *h = data; /* (every thread has stopped) */
    for (hold_item_t *it = h->qhead, *next; it; it = next) {
        next = it->qnext;
        if (!it->l.sticky) /* (one-shot: in no other list) */
            item_free(it);
    }
    h->qhead = h->qtail = NULL;
    for (int i = 0; i < h->npend; i++)
        if (h->pend[i]->dropped) /* (out of the items already) */
            item_free(h->pend[i]);
    for (int i = 0; i < h->nitems; i++)
        item_free(h->items[i]);
    h->nitems = h->npend = 0;
    for (int i = 0; i < h->nrounds; i++)
        free(h->rounds[i].job);
    free(h->rounds);
    for (int i = 0; i < h->nidle; i++) {
        json_decref(h->idle[i].leases);
        free(h->idle[i].job);
    }
    free(h->idle);
    free(h->items);
    free(h->pend);
    json_decref(h->released);
    buf_free(&h->body);
    buf_free(&h->resp.body);
    return APR_SUCCESS;
}

hold_t *hold_create(slave_t *s)
{
    hold_t *h = apr_pcalloc(s->pool, sizeof *h);
    h->s = s;
    apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, s->pool);
    apr_thread_cond_create(&h->work, s->pool);
    apr_thread_cond_create(&h->done, s->pool);
    h->hc = hclient_create(s->opts.token, s->opts.connect_ms, s->opts.timeout_ms, s->pool);
    buf_init(&h->body);
    buf_init(&h->resp.body);
    h->released = json_array();
    h->last_ask = INT64_MIN / 2;
    h->last_renew = mono_ms();
    apr_pool_cleanup_register(s->pool, h, hold_cleanup, apr_pool_cleanup_null);
    return h;
}

apr_status_t hold_start(hold_t *h, abbey_err_t *err)
{
    slave_cfg_t *c = slave_config_acquire(h->s);
    if (c) /* the config the workers start with */
        snprintf(h->config, sizeof h->config, "%s", c->hash);
    slave_config_release(h->s, c);
    apr_status_t rv = apr_thread_create(&h->thread, NULL, hold_thread, h, h->s->pool);
    if (rv != APR_SUCCESS)
        abbey_err_set(err, "cannot start the holder thread");
    return rv;
}

void hold_stop(hold_t *h)
{
    apr_status_t trv;
    apr_thread_mutex_lock(h->lock);
    h->closing = 1;
    apr_thread_cond_broadcast(h->work);
    apr_thread_mutex_unlock(h->lock);
    if (!h->thread)
        return;
    __atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
    apr_thread_mutex_lock(h->lock);
    apr_thread_cond_broadcast(h->done);
    apr_thread_mutex_unlock(h->lock);
    apr_thread_join(&trv, h->thread);
    h->thread = NULL;
}
