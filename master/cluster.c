/* cluster.c - abbey-master as a cluster member: primary or secondary.
 *
 * Both roles serve HTTP (httpd.c) and run a merger (merger.c) for the rule
 * groups placed on them. The primary also loads the rules file, serves it at
 * GET /v1/config, and runs the scheduler (sched.c), whose closed rounds go
 * straight to its own merger. A secondary fetches the config from the
 * primary, and polls the primary's closed rounds for its merger. The main
 * thread ticks the state machines; a health thread watches the other masters.
 * Every export is also kept in the history database (export/history.h,
 * DATA_DIR/history.sqlite unless --history says otherwise), opened once the
 * data dir is locked.
 * Signals: SIGTERM/SIGINT stop, SIGHUP reloads the primary's rules file. */
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "dashboard.h"
#include "durable.h"
#include "hclient.h"
#include "httpd.h"
#include "log.h"
#include "master.h"
#include "mem.h"
#include "gap_repair.h"
#include "history.h"
#include "merger.h"
#include "scheduler.h"
#include "token.h"
#include "web.h"

#define TICK_MS 100
#define ROUNDS_POLL_MS 500
#define CONFIG_POLL_MS 2000
#define HEALTH_MS 2000

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_flag = 1;
    else
        stop_flag = 1;
}

typedef struct peer_t {
    const char *name, *url;
    int up;
    int64_t last_seen_ms;
} peer_t;

typedef struct cluster_t {
    const master_opts_t *opts;
    apr_pool_t *pool;
    const char *token;
    int primary;              /* this process is the primary */
    apr_thread_mutex_t *lock; /* guards cfg (swapped on reload) and peers */
    rules_config_t *cfg;      /* the config served / in use */
    merger_t *merger;
    sched_t *sched;
    durable_t *durable;   /* journals and checkpoints (durable.h) */
    gap_repair_t *repair; /* gap repair requests (gap_repair.h); NULL: off */
    history_t *history;   /* the history database (history.h); NULL: --history none */
    httpd_t *httpd;
    hclient_t *client;        /* main thread's */
    hclient_t *health_client; /* the health thread's (made before it starts) */
    peer_t *peers;
    int npeers;
    int64_t started_ms;
} cluster_t;

static int64_t now_ms(void)
{
    return (int64_t)(apr_time_now() / 1000);
}

/* GET /v1/config (primary): the rules text, ETag = its hash; 304 when unchanged. */
static void h_config(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    cluster_t *c = ctx;
    const char *inm = httpd_header(req, "If-None-Match");
    char etag[24];
    apr_thread_mutex_lock(c->lock);
    snprintf(etag, sizeof etag, "%s", c->cfg->hash_hex);
    if (inm && strstr(inm, etag)) {
        resp->status = 304;
    } else {
        resp->status = 200;
        buf_put(&resp->body, c->cfg->text, c->cfg->len);
    }
    apr_thread_mutex_unlock(c->lock);
    resp->content_type = "application/yaml";
    resp->etag = apr_pstrdup(req->pool, etag);
}

/* s as a JSON string literal. */
static void json_str(buf_t *b, const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    buf_printf(b, "%s", q ? q : "\"\"");
    free(q);
    json_decref(j);
}

/* GET /v1/status: this master, its peers, the scheduler (primary) and the merger. */
static void h_status(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    cluster_t *c = ctx;
    int64_t now = now_ms();
    buf_t *b = &resp->body;
    sched_status_query_t q; /* what the scheduler's part lists (job, offset, limit, laggiest) */
    abbey_err_t err;
    if (sched_status_query_parse(req, &q, &err) != 0) {
        httpd_error(resp, 400, "%s", err.msg);
        return;
    }
    buf_put(b, "{\"name\":", 8);
    json_str(b, c->opts->name);
    buf_printf(b, ",\"role\":\"%s\",\"config\":", c->primary ? "primary" : "secondary");
    apr_thread_mutex_lock(c->lock);
    json_str(b, c->cfg->hash_hex);
    buf_printf(b, ",\"uptime_s\":%lld,\"masters\":[", (long long)((now - c->started_ms) / 1000));
    for (int i = 0; i < c->npeers; i++) {
        buf_printf(b, "%s{\"name\":", i ? "," : "");
        json_str(b, c->peers[i].name);
        buf_put(b, ",\"url\":", 7);
        json_str(b, c->peers[i].url);
        buf_printf(b, ",\"up\":%s,\"last_seen_ms\":%lld}", c->peers[i].up ? "true" : "false",
                   (long long)c->peers[i].last_seen_ms);
    }
    apr_thread_mutex_unlock(c->lock);
    buf_put(b, "],\"merger\":", 11);
    merger_status_json(c->merger, b);
    buf_put(b, ",\"durability\":", 14);
    durable_status_json(c->durable, b);
    if (c->sched) {
        buf_put(b, ",\"scheduler\":", 13);
        sched_status_json_query(c->sched, &q, now, b);
    }
    if (c->history) {
        buf_put(b, ",\"history\":", 11);
        history_status_json(c->history, b);
    }
    buf_put(b, "}\n", 2);
    resp->content_type = "application/json";
}

/* GET /v1/dashboard: what this master shows (web.h, dashboard.h). */
static json_t *describe(void *ctx)
{
    cluster_t *c = ctx;
    const rules_config_t *cfg;
    apr_thread_mutex_lock(c->lock);
    cfg = c->cfg; /* configs are never freed: the pointer stays valid */
    apr_thread_mutex_unlock(c->lock);
    return dashboard_describe(cfg, c->opts->name, c->primary ? "primary" : "secondary", c->merger);
}

/* GET /metrics: Prometheus text. */
static void h_metrics(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    cluster_t *c = ctx;
    merger_metrics(c->merger, &resp->body);
    if (c->sched)
        sched_metrics(c->sched, &resp->body);
    apr_thread_mutex_lock(c->lock);
    if (c->npeers)
        buf_printf(&resp->body, "# HELP abbey_master_up 1 when the other master answered its "
                                "last health check.\n# TYPE abbey_master_up gauge\n");
    for (int i = 0; i < c->npeers; i++)
        buf_printf(&resp->body, "abbey_master_up{master=\"%s\"} %d\n", c->peers[i].name,
                   c->peers[i].up);
    apr_thread_mutex_unlock(c->lock);
    resp->content_type = "text/plain; version=0.0.4";
}

/* A closed round from the scheduler (primary) or from /v1/rounds (secondary). */
static void round_to_merger(void *ctx, const char *job, const sched_round_t *r)
{
    cluster_t *c = ctx;
    merger_range_t *ranges = mem_xcalloc((size_t)r->nranges + 1, sizeof *ranges);
    merger_round_t mr;
    for (int i = 0; i < r->nranges; i++) {
        ranges[i].source = r->ranges[i].source;
        ranges[i].start = r->ranges[i].start;
        ranges[i].end = r->ranges[i].end;
    }
    mr.round = (uint64_t)r->round;
    mr.start_ms = r->start_ms;
    mr.deadline_ms = r->deadline_ms;
    mr.incomplete = r->incomplete;
    mr.nranges = (size_t)r->nranges;
    mr.ranges = ranges;
    merger_round_closed(c->merger, job, &mr);
    free(ranges);
}

/* Secondary: fetch the closed rounds of job after the merger's last and hand them over. */
static void poll_rounds(cluster_t *c, const rules_job_t *job)
{
    const char *primary = c->opts->primary;
    hclient_resp_t resp;
    abbey_err_t err;
    json_error_t jerr;
    json_t *root, *rounds;
    json_int_t current;
    char url[2048];
    size_t i;

    snprintf(url, sizeof url, "%s/v1/rounds?job=%s&after=%llu&master=%s", primary, job->name,
             (unsigned long long)merger_last_closed_round(c->merger, job->name), c->opts->name);
    buf_init(&resp.body);
    if (hclient_request(c->client, "GET", url, NULL, NULL, 0, NULL, &resp, &err) != APR_SUCCESS ||
        resp.status != 200) {
        buf_free(&resp.body);
        return; /* the health thread reports an unreachable primary */
    }
    root = json_loadb((const char *)resp.body.data, resp.body.len, 0, &jerr);
    buf_free(&resp.body);
    rounds = root ? json_object_get(root, "rounds") : NULL;
    current = json_integer_value(json_object_get(root, "current_round")); /* 0: absent */
    if (current > 0)
        merger_set_current_round(c->merger, job->name, (uint64_t)current);
    if (!json_is_array(rounds)) {
        log_msg("primary sent rounds that are not {\"rounds\": [...]}: ignored");
        json_decref(root);
        return;
    }
    for (i = 0; i < json_array_size(rounds); i++) {
        json_t *r = json_array_get(rounds, i), *rs = json_object_get(r, "ranges");
        size_t n = json_is_array(rs) ? json_array_size(rs) : 0;
        sched_range_t *ranges = mem_xcalloc(n + 1, sizeof *ranges);
        sched_round_t sr;
        memset(&sr, 0, sizeof sr);
        sr.round = json_integer_value(json_object_get(r, "round"));
        sr.start_ms = json_integer_value(json_object_get(r, "start_ms"));
        sr.deadline_ms = json_integer_value(json_object_get(r, "deadline_ms"));
        sr.incomplete = json_is_true(json_object_get(r, "incomplete"));
        for (size_t k = 0; k < n; k++) {
            json_t *x = json_array_get(rs, k);
            const char *src = json_string_value(json_object_get(x, "source"));
            json_int_t a = json_integer_value(json_object_get(x, "start"));
            json_int_t e = json_integer_value(json_object_get(x, "end"));
            if (!src || a < 0 || e < a)
                continue; /* a malformed range is skipped, never trusted */
            ranges[sr.nranges].source = src;
            ranges[sr.nranges].start = (uint64_t)a;
            ranges[sr.nranges].end = (uint64_t)e;
            sr.nranges++;
        }
        sr.ranges = ranges;
        if (sr.round > 0)
            round_to_merger(c, job->name, &sr);
        free(ranges);
    }
    json_decref(root);
}

/* GET the primary's config (etag: the hash we have, or NULL). *out is NULL
 * when unchanged (304). */
static apr_status_t fetch_config(cluster_t *c, const char *etag, rules_config_t **out,
                                 abbey_err_t *err)
{
    char url[2048];
    hclient_resp_t resp;
    apr_status_t rv;
    snprintf(url, sizeof url, "%s/v1/config", c->opts->primary);
    buf_init(&resp.body);
    rv = hclient_request(c->client, "GET", url, NULL, NULL, 0, etag, &resp, err);
    if (rv == APR_SUCCESS && resp.status == 304) {
        *out = NULL;
    } else if (rv == APR_SUCCESS && resp.status == 200) {
        rv = rules_load_buffer(resp.body.data ? (const char *)resp.body.data : "", resp.body.len,
                               url, c->pool, out, err);
    } else if (rv == APR_SUCCESS) {
        abbey_err_set(err, "GET %s: HTTP %ld", url, resp.status);
        rv = APR_EGENERAL;
    }
    buf_free(&resp.body);
    return rv;
}

/* Adopt a new config: the merger first (it refuses one that moves a rule group
 * to another master), then the scheduler (primary), then serve it. Returns 0,
 * or -1 when refused (logged; the old config stays). */
static int install_config(cluster_t *c, rules_config_t *cfg)
{
    abbey_err_t err;
    if (merger_set_config(c->merger, cfg, &err) != 0) {
        log_msg("config %s refused, keeping %s: %s", cfg->hash_hex, c->cfg->hash_hex, err.msg);
        return -1;
    }
    if (c->sched)
        sched_set_config(c->sched, cfg);
    apr_thread_mutex_lock(c->lock);
    c->cfg = cfg; /* configs are small and never freed: old pointers stay valid */
    apr_thread_mutex_unlock(c->lock);
    if (c->sched)
        sched_announce_config(c->sched, cfg->hash_hex);
    log_msg("config %s in use", cfg->hash_hex);
    merger_tick(c->merger, now_ms()); /* the old structure's last exports, then a checkpoint */
    durable_checkpoint_merger(c->durable, now_ms());
    return 0;
}

static void reload_primary(cluster_t *c)
{
    rules_config_t *cfg;
    abbey_err_t err;
    if (rules_load_file(c->opts->config, c->pool, &cfg, &err) != APR_SUCCESS) {
        log_msg("reload refused, keeping config %s: %s", c->cfg->hash_hex, err.msg);
        return;
    }
    if (cfg->hash == c->cfg->hash) {
        log_msg("reload: %s unchanged", c->opts->config);
        return;
    }
    install_config(c, cfg);
}

static void *APR_THREAD_FUNC health_main(apr_thread_t *t, void *data)
{
    cluster_t *c = data;
    hclient_t *client = c->health_client;
    while (!stop_flag) {
        for (int i = 0; i < c->npeers && !stop_flag; i++) {
            char url[2048];
            hclient_resp_t resp;
            int up;
            snprintf(url, sizeof url, "%s/metrics", c->peers[i].url);
            buf_init(&resp.body);
            up = hclient_request(client, "GET", url, NULL, NULL, 0, NULL, &resp, NULL) ==
                     APR_SUCCESS &&
                 resp.status == 200;
            buf_free(&resp.body);
            apr_thread_mutex_lock(c->lock);
            if (up != c->peers[i].up)
                log_msg("master %s is %s", c->peers[i].name, up ? "up" : "DOWN");
            c->peers[i].up = up;
            if (up)
                c->peers[i].last_seen_ms = now_ms();
            apr_thread_mutex_unlock(c->lock);
        }
        for (int i = 0; i < HEALTH_MS / 100 && !stop_flag; i++)
            apr_sleep(100000);
    }
    return NULL; /* not apr_thread_exit: gcc 12 ASan misreports pthread_exit */
}

/* Load or fetch the config and check this master's place in it. */
static apr_status_t setup_config(cluster_t *c, abbey_err_t *err)
{
    const rules_master_t *self;
    apr_status_t rv;
    if (c->primary) {
        if ((rv = rules_load_file(c->opts->config, c->pool, &c->cfg, err)) != APR_SUCCESS)
            return rv;
    } else {
        int tries = 0;
        while ((rv = fetch_config(c, NULL, &c->cfg, err)) != APR_SUCCESS && !stop_flag) {
            if (tries++ % 10 == 0)
                log_msg("waiting for the primary: %s", err->msg);
            apr_sleep(500000);
        }
        if (rv != APR_SUCCESS)
            return rv;
    }
    self = rules_find_master(c->cfg, c->opts->name);
    if (!self) {
        abbey_err_set(err, "%s: no master named '%s' in masters:", c->cfg->path, c->opts->name);
        return APR_EINVAL;
    }
    if (c->primary && self->index != 0) {
        abbey_err_set(err,
                      "%s: '%s' is not the first of masters: (the primary is '%s'); start "
                      "secondaries with --primary URL",
                      c->cfg->path, c->opts->name, c->cfg->masters[0].name);
        return APR_EINVAL;
    }
    if (!c->primary && self->index == 0) {
        abbey_err_set(err, "'%s' is the primary in the config; start it with --config FILE",
                      c->opts->name);
        return APR_EINVAL;
    }
    c->npeers = 0;
    c->peers = apr_pcalloc(c->pool, sizeof(peer_t) * (size_t)c->cfg->nmasters);
    for (int i = 0; i < c->cfg->nmasters; i++)
        if (i != self->index && c->cfg->masters[i].url) {
            c->peers[c->npeers].name = c->cfg->masters[i].name;
            c->peers[c->npeers].url = c->cfg->masters[i].url;
            c->npeers++;
        }
    return APR_SUCCESS;
}

/* Primary: hand the merger the scheduler's current round of every job. */
static void current_rounds(cluster_t *c)
{
    for (int j = 0; j < c->cfg->njobs; j++) {
        int64_t r;
        if (sched_current_round(c->sched, c->cfg->jobs[j].name, &r) == 1 && r > 0)
            merger_set_current_round(c->merger, c->cfg->jobs[j].name, (uint64_t)r);
    }
}

static void run_loop(cluster_t *c)
{
    int64_t last_rounds = 0, last_config = 0;
    char refused[17] = ""; /* a config hash the merger refused: not fetched again */
    while (!stop_flag) {
        int64_t now = now_ms();
        if (c->primary) {
            if (reload_flag) {
                reload_flag = 0;
                reload_primary(c);
            }
            sched_tick(c->sched, now);
            current_rounds(c);
        } else {
            if (now - last_rounds >= ROUNDS_POLL_MS) {
                last_rounds = now;
                for (int j = 0; j < c->cfg->njobs; j++) /* c->cfg changes on this thread */
                    poll_rounds(c, &c->cfg->jobs[j]);
            }
            if (now - last_config >= CONFIG_POLL_MS) {
                rules_config_t *cfg = NULL;
                abbey_err_t err;
                last_config = now;
                if (fetch_config(c, c->cfg->hash_hex, &cfg, &err) == APR_SUCCESS && cfg &&
                    strcmp(cfg->hash_hex, refused) != 0 && install_config(c, cfg) != 0)
                    snprintf(refused, sizeof refused, "%s", cfg->hash_hex);
            }
        }
        merger_tick(c->merger, now);
        durable_tick(c->durable, now);
        if (c->repair)
            gap_repair_tick(c->repair, now);
        apr_sleep(TICK_MS * 1000);
    }
}

/* Recover the merger (and the scheduler) from the data dir and attach the
 * journals; on the primary, hand the merger the closed rounds it missed
 * (closed after its checkpoint, before a crash: the callback fires once per
 * round), then connect the callback. */
static apr_status_t start_durable(cluster_t *c, abbey_err_t *err)
{
    durable_opts_t o = {c->opts->data_dir, c->opts->fsync, c->opts->checkpoint_every_ms, 0};
    apr_status_t rv = durable_start(&o, c->merger, c->sched, now_ms(), c->pool, &c->durable, err);
    if (rv != APR_SUCCESS || !c->sched)
        return rv;
    for (int j = 0; j < c->cfg->njobs; j++) {
        const char *job = c->cfg->jobs[j].name;
        sched_rounds(c->sched, job, (int64_t)merger_last_closed_round(c->merger, job),
                     round_to_merger, c);
    }
    sched_on_round_closed(c->sched, round_to_merger, c);
    return APR_SUCCESS;
}

/* Open the history database (after the data dir's lock is taken) and hand it
 * to the merger. */
static apr_status_t start_history(cluster_t *c, abbey_err_t *err)
{
    const char *path = c->opts->history;
    apr_status_t rv;
    if (path && strcmp(path, "none") == 0)
        return APR_SUCCESS;
    if (!path)
        path = apr_pstrcat(c->pool, c->opts->data_dir, "/history.sqlite", NULL);
    if ((rv = history_open(path, c->pool, &c->history, err)) != APR_SUCCESS)
        return rv;
    merger_set_history(c->merger, c->history, c->opts->history_keep_ms);
    return APR_SUCCESS;
}

int master_cluster_run(const master_opts_t *opts, apr_pool_t *pool)
{
    cluster_t c;
    abbey_err_t err;
    apr_thread_t *health;
    apr_status_t rv;
    struct sigaction sa;
    char host[256];
    int port;

    memset(&c, 0, sizeof c);
    c.opts = opts;
    c.pool = pool;
    c.primary = opts->config != NULL;
    c.started_ms = now_ms();
    log_set_identity("master", c.primary ? "primary" : "secondary", opts->name);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    hclient_global_init();
    if (token_read_file(opts->token_file, pool, &c.token, &err) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        return 2;
    }
    if (master_parse_listen(opts->listen, host, sizeof host, &port, &err) != 0) {
        log_msg("%s", err.msg);
        return 2;
    }
    apr_thread_mutex_create(&c.lock, APR_THREAD_MUTEX_DEFAULT, pool);
    c.client = hclient_create(c.token, 1000, 5000, pool);
    if (setup_config(&c, &err) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        return stop_flag ? 0 : 2;
    }
    c.merger = merger_create(c.cfg, opts->name, opts->export_dir, pool);
    merger_set_period_interval(c.merger, opts->export_every_ms);
    merger_set_budget(c.merger, opts->memory_limit, budget_allowance(0, 0)); /* before recovery */
    c.httpd = httpd_create(c.token, pool);
    if (httpd_set_limits(c.httpd, &opts->http, &err) != 0) {
        log_msg("%s", err.msg);
        return 2;
    }
    merger_register(c.merger, c.httpd);
    httpd_route_set_max_body(c.httpd, "POST", "/v1/partials", (size_t)opts->max_body);
    httpd_route(c.httpd, "GET", "/v1/status", 0, h_status, &c);
    httpd_route(c.httpd, "GET", "/metrics", 0, h_metrics, &c);
    web_register(c.httpd, describe, &c, pool);
    if (c.primary) {
        sched_opts_t so = {0, opts->lease_bytes, 0};
        c.sched = sched_create(c.cfg, &so, pool);
        sched_register(c.sched, c.httpd);
        httpd_route(c.httpd, "GET", "/v1/config", 0, h_config, &c);
    }
    if (start_durable(&c, &err) != APR_SUCCESS || start_history(&c, &err) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        return 2;
    }
    if (opts->repair_after_ms > 0)
        c.repair = gap_repair_create(c.merger, opts->name, c.sched, c.client, opts->primary,
                                     opts->repair_after_ms, pool);
    merger_tick(c.merger, now_ms()); /* the clock that bounds frames' rounds, before any */
    if ((rv = httpd_start(c.httpd, host, port, opts->http_threads, &err)) != APR_SUCCESS) {
        log_msg("%s", err.msg);
        return 2;
    }
    log_msg("listening on %s:%d, config %s, export dir %s, history %s", host, httpd_port(c.httpd),
            c.cfg->hash_hex, opts->export_dir, c.history ? history_path(c.history) : "none");
    if (opts->memory_limit) {
        char lim[32], allow[32], near[32];
        log_msg("memory limit %s (%s of it allowed for the process besides its tables; the "
                "jobs holding the memory are refused new frames from %s on)",
                budget_text(opts->memory_limit, lim, sizeof lim),
                budget_text(budget_allowance(0, 0), allow, sizeof allow),
                budget_text(budget_near(opts->memory_limit), near, sizeof near));
    }
    c.health_client = hclient_create(c.token, 500, 1000, pool); /* pools are per thread */
    apr_thread_create(&health, NULL, health_main, &c, pool);
    run_loop(&c);
    log_msg("stopping");
    httpd_stop(c.httpd);
    merger_flush(c.merger, now_ms());
    if (c.history)
        history_close(c.history);
    durable_stop(c.durable);
    apr_thread_join(&rv, health);
    log_msg("stopped");
    return 0;
}
