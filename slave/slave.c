/* slave.c - what the slave's threads share: config, leases in progress, renewer, stop (slave.h).
 *
 * The current config is swapped under the lock and reference counted, so a
 * worker keeps the one its engines were built for until it switches
 * between leases; the last reference frees it. Config fetches are
 * serialized by fetch_lock (not the main lock), so the renewer is never
 * held up by a slow primary. The re-delivery thread runs spool passes with
 * the current config (for the masters' URLs) until slave_join stops it. */
#include "slave.h"

#include <apr_allocator.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "log.h"
#include "mem.h"
#include "rejects.h"
#include "spool.h"

#define RENEW_SLEEP_MAX 200 /* ms: the renewer looks at least this often */

int64_t slave_now_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

static apr_status_t active_cleanup(void *data)
{
    slave_t *s = data;
    free(s->active);
    s->active = NULL;
    return APR_SUCCESS;
}

uint64_t slave_allowance(int workers, size_t block)
{
    return budget_allowance(workers, block ? block : TASK_BLOCK);
}

slave_t *slave_create(const slave_opts_t *opts, apr_pool_t *pool)
{
    slave_t *s = apr_pcalloc(pool, sizeof *s);
    s->opts = *opts;
    s->pool = pool;
    apr_thread_mutex_create(&s->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    apr_thread_mutex_create(&s->fetch_lock, APR_THREAD_MUTEX_DEFAULT, pool);
    apr_thread_cond_create(&s->wake, pool);
    s->config_url = apr_pstrcat(pool, opts->primary, "/v1/config", NULL);
    s->lease_url = apr_pstrcat(pool, opts->primary, "/v1/lease", NULL);
    s->renew_url = apr_pstrcat(pool, opts->primary, "/v1/lease/renew", NULL);
    s->complete_url = apr_pstrcat(pool, opts->primary, "/v1/complete", NULL);
    s->primary_hc = hclient_create(opts->token, opts->connect_ms, opts->timeout_ms, pool);
    apr_pool_cleanup_register(pool, s, active_cleanup, apr_pool_cleanup_null);
    s->rejects = rejects_create(pool);
    if (opts->memory_limit) /* a slot per worker: what its partials hold */
        s->budget = budget_create(opts->memory_limit, slave_allowance(opts->workers, opts->block),
                                  opts->workers, pool);
    return s;
}

/* --- config --------------------------------------------------------------- */

static void cfg_free(slave_cfg_t *c)
{
    apr_pool_destroy(c->pool); /* the config's memory, c itself included */
}

/* Load text as the new current config (hash: the ETag, or the rules' own). */
static apr_status_t cfg_install(slave_t *s, const char *text, size_t len, const char *etag,
                                abbey_err_t *err)
{
    apr_allocator_t *a;
    apr_pool_t *pool;
    slave_cfg_t *c, *old;
    apr_status_t rv;

    apr_allocator_create(&a);
    apr_pool_create_ex(&pool, NULL, NULL, a);
    apr_allocator_owner_set(a, pool);
    c = apr_pcalloc(pool, sizeof *c);
    c->pool = pool;
    rv = rules_load_buffer(text, len, s->config_url, pool, &c->rules, err);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return rv;
    }
    snprintf(c->hash, sizeof c->hash, "%s", etag && *etag ? etag : c->rules->hash_hex);
    c->refs = 1; /* the slave's own */
    apr_thread_mutex_lock(s->lock);
    old = s->cfg;
    s->cfg = c;
    if (old && --old->refs > 0)
        old = NULL;
    apr_thread_mutex_unlock(s->lock);
    if (old)
        cfg_free(old);
    log_msg("config %s loaded: %d job(s), %d master(s)", c->hash, c->rules->njobs,
            c->rules->nmasters);
    return APR_SUCCESS;
}

apr_status_t slave_config_update(slave_t *s, hclient_t *hc, const char *want, abbey_err_t *err)
{
    char have[SLAVE_HASH_MAX] = "";
    hclient_resp_t resp;
    const char *url = s->config_url;
    apr_status_t rv;

    apr_thread_mutex_lock(s->fetch_lock);
    apr_thread_mutex_lock(s->lock);
    if (s->cfg)
        snprintf(have, sizeof have, "%s", s->cfg->hash);
    apr_thread_mutex_unlock(s->lock);
    if (have[0] && want && strcmp(have, want) == 0) { /* another worker fetched it */
        apr_thread_mutex_unlock(s->fetch_lock);
        return APR_SUCCESS;
    }
    buf_init(&resp.body);
    rv = hclient_request(hc, "GET", url, NULL, NULL, 0, have[0] ? have : NULL, &resp, err);
    if (rv == APR_SUCCESS) {
        if (resp.status == 200) {
            rv = cfg_install(s, (const char *)resp.body.data, resp.body.len, resp.etag, err);
            if (rv == APR_SUCCESS && want && strcmp(s->cfg->hash, want) != 0)
                log_msg("config: the primary serves %s but its leases name %s", s->cfg->hash, want);
        } else if (resp.status != 304) {
            abbey_err_set(err, "GET %s: HTTP %ld", url, resp.status);
            rv = APR_EGENERAL;
        }
    }
    buf_free(&resp.body);
    apr_thread_mutex_unlock(s->fetch_lock);
    return rv;
}

slave_cfg_t *slave_config_acquire(slave_t *s)
{
    slave_cfg_t *c;
    apr_thread_mutex_lock(s->lock);
    c = s->cfg;
    if (c)
        c->refs++;
    apr_thread_mutex_unlock(s->lock);
    return c;
}

void slave_config_release(slave_t *s, slave_cfg_t *c)
{
    int last;
    if (!c)
        return;
    apr_thread_mutex_lock(s->lock);
    last = --c->refs == 0;
    apr_thread_mutex_unlock(s->lock);
    if (last)
        cfg_free(c);
}

/* --- leases in progress ---------------------------------------------------- */

void slave_lease_track(slave_t *s, uint64_t id, int64_t expires_ms, int64_t now_ms)
{
    int64_t life = expires_ms - now_ms;
    slave_active_t *a;

    if (life <= 0) /* clocks apart: assume the documented default */
        life = 30000;
    if (life < 300)
        life = 300;
    apr_thread_mutex_lock(s->lock);
    if (s->nactive == s->maxactive) {
        int n = s->maxactive ? s->maxactive * 2 : 16;
        s->active = mem_xrealloc(s->active, sizeof *s->active * (size_t)n);
        s->maxactive = n;
    }
    a = &s->active[s->nactive++];
    a->id = id;
    a->lease_ms = life;
    a->next_ms = now_ms + life / 3;
    a->gone = 0;
    apr_thread_mutex_unlock(s->lock);
}

static slave_active_t *find_active(slave_t *s, uint64_t id)
{
    for (int i = 0; i < s->nactive; i++)
        if (s->active[i].id == id)
            return &s->active[i];
    return NULL;
}

void slave_lease_untrack(slave_t *s, uint64_t id)
{
    slave_active_t *a;
    apr_thread_mutex_lock(s->lock);
    if ((a = find_active(s, id)) != NULL)
        *a = s->active[--s->nactive];
    apr_thread_mutex_unlock(s->lock);
}

int slave_lease_gone(slave_t *s, uint64_t id)
{
    slave_active_t *a;
    int gone;
    apr_thread_mutex_lock(s->lock);
    a = find_active(s, id);
    gone = a && a->gone;
    apr_thread_mutex_unlock(s->lock);
    return gone;
}

/* One renewal; the answer's effect is applied under the lock (the lease may
 * have been completed meanwhile: then nothing is done). */
static void renew_one(slave_t *s, hclient_t *hc, uint64_t id, int64_t now_ms)
{
    const char *url = s->renew_url;
    hclient_resp_t resp;
    abbey_err_t err;
    slave_active_t *a;
    int64_t expires = 0;
    char *body;
    json_t *o;
    apr_status_t rv;

    body = json_dumps(o = json_pack("{s:s, s:I}", "slave", s->opts.name, "lease", (json_int_t)id),
                      JSON_COMPACT);
    json_decref(o);
    buf_init(&resp.body);
    rv =
        hclient_request(hc, "POST", url, "application/json", body, strlen(body), NULL, &resp, &err);
    free(body);
    if (rv == APR_SUCCESS && resp.status == 200) {
        json_t *root = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
        json_t *e = root ? json_object_get(root, "expires_ms") : NULL;
        if (json_is_integer(e))
            expires = (int64_t)json_integer_value(e);
        json_decref(root);
    }
    buf_free(&resp.body);
    apr_thread_mutex_lock(s->lock);
    if ((a = find_active(s, id)) != NULL) {
        if (rv != APR_SUCCESS || resp.status >= 500 || (resp.status == 200 && !expires)) {
            a->next_ms = now_ms + a->lease_ms / 6; /* try again sooner */
            log_msg("lease %" PRIu64 ": renewal failed: %s", id,
                    rv != APR_SUCCESS ? err.msg : "bad answer");
        } else if (resp.status == 200) {
            a->next_ms = now_ms + a->lease_ms / 3;
        } else if (!a->gone) {
            a->gone = 1;
            log_msg("lease %" PRIu64 ": the primary says it is gone (HTTP %ld); the range will "
                    "be read again by whoever takes the task",
                    id, resp.status);
        }
    }
    apr_thread_mutex_unlock(s->lock);
}

int64_t slave_renew_pass(slave_t *s, hclient_t *hc, int64_t now_ms)
{
    uint64_t due[32];
    int ndue = 0;
    int64_t next = now_ms + RENEW_SLEEP_MAX;

    apr_thread_mutex_lock(s->lock);
    for (int i = 0; i < s->nactive; i++) {
        const slave_active_t *a = &s->active[i];
        if (a->gone)
            continue;
        if (a->next_ms <= now_ms && ndue < (int)(sizeof due / sizeof due[0]))
            due[ndue++] = a->id;
        else if (a->next_ms < next)
            next = a->next_ms;
    }
    apr_thread_mutex_unlock(s->lock);
    for (int i = 0; i < ndue; i++)
        renew_one(s, hc, due[i], now_ms);
    return ndue ? 0 : next - now_ms;
}

/* --- threads and stopping ------------------------------------------------- */

int slave_sleep(slave_t *s, int64_t ms)
{
    int stop;
    apr_thread_mutex_lock(s->lock);
    if (!s->stop && ms > 0)
        apr_thread_cond_timedwait(s->wake, s->lock, (apr_interval_time_t)ms * 1000);
    stop = s->stop;
    apr_thread_mutex_unlock(s->lock);
    return stop;
}

void slave_request_stop(slave_t *s)
{
    apr_thread_mutex_lock(s->lock);
    s->stop = 1;
    apr_thread_cond_broadcast(s->wake);
    apr_thread_mutex_unlock(s->lock);
}

int slave_stopping(slave_t *s)
{
    int stop;
    apr_thread_mutex_lock(s->lock);
    stop = s->stop;
    apr_thread_mutex_unlock(s->lock);
    return stop;
}

/* Run what the holder queues (one lease per request with --single-leases). */
static void *APR_THREAD_FUNC worker_thread(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    char hash[SLAVE_HASH_MAX];
    while (!slave_stopping(w->s)) {
        if (w->s->hold) {
            struct hold_item_t *it = hold_take(w->s->hold, 200);
            if (!it)
                continue;
            hold_config(w->s->hold, hash);
            worker_run_items(w, w->s->hold, it, hash);
            continue;
        }
        int ran = worker_once(w);
        if (ran <= 0)
            slave_sleep(w->s, w->s->opts.poll_ms);
    }
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

/* The renewer stops after the workers: renewing goes on until slave_join says so. */
static void *APR_THREAD_FUNC renewer_thread(apr_thread_t *t, void *data)
{
    slave_t *s = data;
    while (!__atomic_load_n(&s->renew_stop, __ATOMIC_ACQUIRE)) {
        int64_t wait = slave_renew_pass(s, s->primary_hc, slave_now_ms());
        if (wait > 0)
            apr_sleep((apr_interval_time_t)(wait < 50 ? wait : 50) * 1000);
    }
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

#define REDELIVER_BATCH 64 /* frames per pass: the stop flag is looked at between passes */

static void *APR_THREAD_FUNC redeliver_thread(apr_thread_t *t, void *data)
{
    slave_t *s = data;
    hclient_t *hc;
    apr_pool_t *pool;

    pool = mem_xpool(NULL);
    hc = hclient_create(s->opts.token, s->opts.connect_ms, s->opts.timeout_ms, pool);
    hclient_via(hc, s->opts.primary, s->primary_hc); /* the primary, as a master: one connection */
    while (!__atomic_load_n(&s->redeliver_stop, __ATOMIC_ACQUIRE)) {
        slave_cfg_t *c = slave_config_acquire(s);
        int64_t wait = 200;
        if (c)
            wait = spool_redeliver_pass(s->spool, hc, c->rules, s->opts.primary, REDELIVER_BATCH,
                                        slave_now_ms());
        slave_config_release(s, c);
        for (; wait > 0 && !__atomic_load_n(&s->redeliver_stop, __ATOMIC_ACQUIRE); wait -= 50)
            apr_sleep((apr_interval_time_t)(wait < 50 ? wait : 50) * 1000);
    }
    apr_pool_destroy(pool);
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

apr_status_t slave_spool_open(slave_t *s, abbey_err_t *err)
{
    if (!s->opts.spool_dir)
        return APR_SUCCESS;
    return spool_open(s->opts.spool_dir, 0, slave_now_ms(), s->pool, &s->spool, err);
}

apr_status_t slave_start(slave_t *s, abbey_err_t *err)
{
    apr_status_t rv;
    int n = s->opts.workers;

    __atomic_store_n(&s->renew_stop, 0, __ATOMIC_RELEASE);
    s->threads = apr_pcalloc(s->pool, sizeof *s->threads * (size_t)n);
    s->workers = apr_pcalloc(s->pool, sizeof *s->workers * (size_t)n);
    if ((rv = apr_thread_create(&s->renewer, NULL, renewer_thread, s, s->pool)) != APR_SUCCESS) {
        abbey_err_set(err, "cannot start the renewer thread");
        return rv;
    }
    __atomic_store_n(&s->redeliver_stop, 0, __ATOMIC_RELEASE);
    if (s->spool && (rv = apr_thread_create(&s->redeliverer, NULL, redeliver_thread, s, s->pool)) !=
                        APR_SUCCESS) {
        abbey_err_set(err, "cannot start the spool's re-delivery thread");
        s->opts.workers = 0; /* nothing else to join */
        return rv;
    }
    if (!s->opts.single && (rv = hold_start(s->hold = hold_create(s), err)) != APR_SUCCESS) {
        s->opts.workers = 0;
        return rv;
    }
    for (int i = 0; i < n; i++) {
        s->workers[i] = worker_create(s, i);
        hclient_via(s->workers[i]->hc, s->opts.primary, s->primary_hc);
        if ((rv = apr_thread_create(&s->threads[i], NULL, worker_thread, s->workers[i], s->pool)) !=
            APR_SUCCESS) {
            abbey_err_set(err, "cannot start worker thread %d", i);
            slave_request_stop(s);
            s->opts.workers = i; /* join what started */
            worker_destroy(s->workers[i]);
            return rv;
        }
    }
    return APR_SUCCESS;
}

void slave_join(slave_t *s)
{
    apr_status_t trv;
    for (int i = 0; i < s->opts.workers; i++) {
        if (s->threads && s->threads[i]) {
            apr_thread_join(&trv, s->threads[i]);
            worker_destroy(s->workers[i]);
            s->threads[i] = NULL;
        }
    }
    if (s->hold) /* after the workers: it reports what they read, and gives all back */
        hold_stop(s->hold);
    if (s->renewer) {
        __atomic_store_n(&s->renew_stop, 1, __ATOMIC_RELEASE);
        apr_thread_join(&trv, s->renewer);
        s->renewer = NULL;
    }
    if (s->redeliverer) {
        __atomic_store_n(&s->redeliver_stop, 1, __ATOMIC_RELEASE);
        apr_thread_join(&trv, s->redeliverer);
        s->redeliverer = NULL;
    }
    apr_thread_mutex_lock(s->lock);
    if (s->cfg && --s->cfg->refs == 0)
        cfg_free(s->cfg);
    s->cfg = NULL;
    apr_thread_mutex_unlock(s->lock);
}
