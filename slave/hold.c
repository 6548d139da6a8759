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
 * renews all it holds in one call; after a pass with nothing to report (its
 * workers busy with all it holds) it asks for the news alone, so it hears of
 * leases asked back within a round. A lease asked back that no worker has
 * started (waiting, or queued) is released at once in the next report, never
 * read; one being read once its completion is accepted; on stop, everything is.
 * One-shot leases in a lease answer (repairs, or every lease from an older
 * primary) are queued as they come and completed by the worker itself. A
 * worker that read a sticky lease may take further queued ones of the same job
 * and round at once (hold_take_more) to send them in one frame (combine.c).
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
#include <time.h>

#include "hold_int.h"
#include "invariant.h"
#include "jsonio.h"
#include "log.h"
#include "mem.h"
#include "source.h"
#include "spool.h"

int64_t hold_mono_ms(void)
{
    struct timespec t; /* (never set back: the deltas are what count) */
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
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

void hold_item_free(hold_item_t *it)
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
void hold_enqueue(hold_t *h, hold_item_t *it)
{
    if (it->l.sticky) /* its frames and rejects belong to the round this check is of */
        it->l.round = it->claim;
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
void hold_item_drop(hold_t *h, int i)
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
    hold_item_free(it);
}

void hold_give_back(hold_t *h, int i)
{
    json_array_append_new(h->released, json_integer((json_int_t)h->items[i]->l.id));
    hold_item_drop(h, i);
}

int hold_item_index(hold_t *h, uint64_t id)
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
        ABBEY_ASSERT(!it->release); /* (one asked back left the queue then) */
        h->qhead = it->qnext;
        if (!h->qhead)
            h->qtail = NULL;
        it->state = H_RUNNING;
    }
    apr_thread_mutex_unlock(h->lock);
    return it;
}

hold_item_t *hold_take_more(hold_t *h, const char *job, int64_t round, const char *config)
{
    hold_item_t *it = NULL, *prev = NULL;
    apr_thread_mutex_lock(h->lock);
    if (!h->closing && strcmp(h->config, config) == 0)
        for (it = h->qhead; it; prev = it, it = it->qnext)
            if (it->l.sticky && it->l.kind == SLAVE_LEASE_READ && it->l.round == round &&
                strcmp(it->l.job, job) == 0)
                break;
    if (it) {
        ABBEY_ASSERT(!it->release); /* (one asked back left the queue then) */
        if (prev)
            prev->qnext = it->qnext;
        else
            h->qhead = it->qnext;
        if (h->qtail == it)
            h->qtail = prev;
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
        hold_item_free(it);
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
json_t *hold_post(hold_t *h, const char *url, json_t *root)
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
    h->heard = hold_mono_ms();
    return answer;
}

/* What every answer of the batched calls says: the clock, the rounds, more,
 * leases asked back, the config. A lease asked back that no worker runs and no report
 * holds (it waits for its next check, or is queued: not started) is given back at once;
 * the others when their read's completion is accepted (settle). */
void hold_take_news(hold_t *h, const json_t *a, int64_t arrived)
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
        int k = json_is_integer(v) ? hold_item_index(h, (uint64_t)json_integer_value(v)) : -1;
        hold_item_t *it = k >= 0 ? h->items[k] : NULL;
        if (!it || it->release)
            continue;
        int unread = it->state == H_WAIT || it->state == H_QUEUED;
        log_msg("lease %" PRIu64 " (%s %s): the primary asks for it back%s", it->l.id, it->l.job,
                it->l.source, unread ? ": given back unread" : " (once its read is done)");
        it->release = 1;
        if (unread)
            hold_give_back(h, k);
    }
    apr_thread_mutex_unlock(h->lock);
}

/* Drop the items the primary says are not ours any more. */
void hold_take_gone(hold_t *h, const json_t *gone)
{
    json_t *v;
    size_t i;
    apr_thread_mutex_lock(h->lock);
    json_array_foreach(gone, i, v)
    {
        int k = json_is_integer(v) ? hold_item_index(h, (uint64_t)json_integer_value(v)) : -1;
        if (k >= 0) {
            log_msg("lease %" PRIu64 " (%s %s): gone at the primary (expired or taken back)",
                    h->items[k]->l.id, h->items[k]->l.job, h->items[k]->l.source);
            hold_item_drop(h, k);
        }
    }
    apr_thread_mutex_unlock(h->lock);
}

/* The round a check of job made now is of: the next one once the primary's clock
 * (as its last answer said, plus our time since) reached its start. */
int64_t hold_claim(hold_t *h, const char *job, int64_t now, int64_t fallback)
{
    for (int i = 0; i < h->nrounds; i++)
        if (strcmp(h->rounds[i].job, job) == 0)
            return h->base_ms + (now - h->base_mono) >= h->rounds[i].next_ms ? h->rounds[i].next
                                                                             : h->rounds[i].round;
    return fallback;
}

/* The spool's backlog into a request, for the primary's status. */
void hold_put_spool(hold_t *h, json_t *root)
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
    hold_put_spool(h, root);
    h->last_ask = now;
    json_t *a = hold_post(h, s->lease_url, root), *lo;
    if (!a)
        return;
    hold_take_news(h, a, hold_mono_ms());
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
            it->claim = hold_claim(h, l.job, hold_mono_ms(), l.round);
            added++;
            if (it->claim >= l.round) /* it owes a round started: read it at once */
                hold_enqueue(h, it);
        } else {
            slave_lease_track(s, l.id, l.expires_ms, slave_now_ms()); /* the renewer's */
            hold_enqueue(h, it);
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
    json_t *a = hold_post(h, h->s->renew_url,
                          json_pack("{s:s, s:o}", "slave", h->s->opts.name, "leases", ids));
    if (!a)
        return;
    hold_take_news(h, a, hold_mono_ms());
    hold_take_gone(h, json_object_get(a, "gone"));
    json_decref(a);
}

/* POST /v1/complete with no completion (a batch all the same): the news alone (leases
 * asked back, more). */
static void news(hold_t *h)
{
    h->news_asked = h->pass_at;
    json_t *a = hold_post(h, h->s->complete_url,
                          json_pack("{s:s, s:[]}", "slave", h->s->opts.name, "completions"));
    if (!a)
        return;
    hold_take_news(h, a, hold_mono_ms());
    hold_take_gone(h, json_object_get(a, "gone"));
    json_decref(a);
}

/* ---- the thread ---- */

/* The config the primary names, fetched as soon as it is named (the workers take it for
 * their next lease): a slave whose sources are idle has it all the same. */
static void follow_config(hold_t *h, int64_t now)
{
    char want[SLAVE_HASH_MAX];
    abbey_err_t err;
    hold_config(h, want);
    slave_cfg_t *c = slave_config_acquire(h->s);
    int have = c && strcmp(c->hash, want) == 0;
    slave_config_release(h->s, c);
    if (have || !want[0] || now - h->config_tried < 1000)
        return;
    h->config_tried = now;
    if (slave_config_update(h->s, h->hc, want, &err) != APR_SUCCESS)
        log_msg("config %s: cannot fetch it: %s (tried again in a second)", want, err.msg);
}

static void turn(hold_t *h)
{
    slave_t *s = h->s;
    int64_t now = hold_mono_ms();
    follow_config(h, now);
    if ((h->more || !h->nitems) && now - h->last_ask >= (h->more ? 0 : s->opts.poll_ms))
        ask(h, now);
    if (now >= h->next_pass)
        hold_pass(h, now);
    hold_collect(h, now);
    apr_thread_mutex_lock(h->lock);
    int busy = h->nbusy;
    apr_thread_mutex_unlock(h->lock);
    /* the pass's "nothing new" goes at once; completions wait a little for others */
    if ((h->nidle && !h->npend) || json_array_size(h->released) ||
        (h->npend && (!busy || now - h->first_result >= FLUSH_MS)))
        hold_report(h);
    int64_t life = h->life_ms > 0 ? h->life_ms : 30000;
    if (now - h->last_renew >= life / 3)
        renew(h, now);
    /* a pass that had nothing to report (the workers busy with all it holds) still hears
     * the news once: leases asked back go within a round, not at the next renewal */
    else if (h->nitems && !h->npend && h->heard < h->pass_at && h->news_asked < h->pass_at)
        news(h);
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
    hold_collect(h, hold_mono_ms());
    hold_report(h);
    apr_thread_mutex_lock(h->lock);
    int n = h->nitems;
    for (int i = 0; i < h->nitems; i++)
        json_array_append_new(h->released, json_integer((json_int_t)h->items[i]->l.id));
    apr_thread_mutex_unlock(h->lock);
    hold_report(h);
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
            hold_item_free(it);
    }
    h->qhead = h->qtail = NULL;
    for (int i = 0; i < h->npend; i++)
        if (h->pend[i]->dropped) /* (out of the items already) */
            hold_item_free(h->pend[i]);
    for (int i = 0; i < h->nitems; i++)
        hold_item_free(h->items[i]);
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
    h->hc = s->primary_hc; /* the slave's one connection to the primary (slave.h) */
    buf_init(&h->body);
    buf_init(&h->resp.body);
    h->released = json_array();
    h->last_ask = h->config_tried = INT64_MIN / 2;
    h->last_renew = hold_mono_ms();
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
