/* load_main.c - abbey-load's command line, event loop and figures (see load.h).
 *
 *   abbey-load --primary URL --token-file F [--slaves N] [--seconds S] [--protocol single|sticky]
 *              [--max N] [--workers W] [--files N] [--grow BYTES] [--poll-ms MS]
 *              [--labels a,b] [--prefix NAME] [--out FILE]
 *
 * Every simulated slave starts at once. At the end (--seconds, or SIGTERM /
 * SIGINT) one JSON object is written
 * (to --out, default stdout): the calls made, the answers by status, the
 * leases granted by kind, the latency of lease calls (p50, p99, max, in ms),
 * and how long each slave waited for its first lease (median, max, and how
 * many never got one). Exit status 0 when every answer was a 2xx (an empty
 * lease answer included), 1 when any call failed or was refused (the last
 * such reason is in "last_error"), 2 on bad usage. */
#include "load.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static volatile sig_atomic_t stopping; /* SIGTERM / SIGINT: end the run, write the summary */

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void usage(void)
{
    fputs("usage: abbey-load --primary URL --token-file F [--slaves N] [--seconds S]\n"
          "                  [--protocol single|sticky] [--max N] [--workers W] [--files N]\n"
          "                  [--grow BYTES] [--poll-ms MS] [--labels a,b] [--prefix NAME]\n"
          "                  [--out FILE]\n",
          stderr);
}

/* ---- buffers ---- */

void load_buf_reset(load_buf_t *b)
{
    b->len = 0;
}

void load_buf_add(load_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap))) {
            fputs("abbey-load: out of memory\n", stderr);
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void load_buf_printf(load_buf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof tmp) {
        char *big = malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        load_buf_add(b, big, (size_t)n);
        free(big);
    } else if (n > 0) {
        load_buf_add(b, tmp, (size_t)n);
    }
}

void load_buf_json_str(load_buf_t *b, const char *s)
{
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    load_buf_printf(b, "%s", t ? t : "\"\"");
    free(t);
    json_decref(j);
}

/* ---- clock, errors, ranges, leases ---- */

int64_t load_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void load_error(load_t *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->st.last_error, sizeof L->st.last_error, fmt, ap);
    va_end(ap);
}

void load_range(const load_t *L, int64_t start, int64_t cap, int64_t *end, int64_t *size)
{
    int64_t s = L->o.grow * (load_now_ms() - L->t0_ms) / 1000;
    s -= s % 100; /* whole lines of 100 bytes */
    *size = s > start ? s : start;
    *end = cap > 0 && *size - start > cap ? start + cap - cap % 100 : *size;
    if (*end < start)
        *end = start;
}

int load_lease_parse(load_t *L, json_t *o, load_lease_t *l)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *job = json_string_value(json_object_get(o, "job"));
    const char *src = json_string_value(json_object_get(o, "source"));
    const char *inst = json_string_value(json_object_get(o, "instance"));
    json_t *id = json_object_get(o, "id"), *start = json_object_get(o, "start");
    memset(l, 0, sizeof *l);
    if (!kind || !job || !src || !json_is_integer(id) || !json_is_integer(start)) {
        load_error(L, "a lease without kind, job, source, id or start");
        return -1;
    }
    l->id = (uint64_t)json_integer_value(id);
    l->kind = kind[0] == 'e' ? 'e' : kind[0] == 'r' && kind[2] == 'p' ? 'p' : 'r';
    snprintf(l->job, sizeof l->job, "%s", job);
    snprintf(l->instance, sizeof l->instance, "%s", inst ? inst : "");
    l->task = json_integer_value(json_object_get(o, "task"));
    l->start = json_integer_value(start);
    l->cap = json_integer_value(json_object_get(o, "cap"));
    l->round = json_integer_value(json_object_get(o, "round"));
    l->source = strdup(src);
    if (!l->instance[0]) /* a file source no slave named yet: a made-up dev:inode:gen */
        snprintf(l->instance, sizeof l->instance, "9:%lld:0", (long long)l->task + 1);
    return 0;
}

/* ---- calls ---- */

static size_t on_write(char *p, size_t size, size_t n, void *data)
{
    load_buf_add(data, p, size * n);
    return size * n;
}

void load_post(load_t *L, load_sim_t *sim, load_call_t call, const char *url)
{
    curl_easy_setopt(sim->easy, CURLOPT_URL, url);
    curl_easy_setopt(sim->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)sim->body.len);
    curl_easy_setopt(sim->easy, CURLOPT_POSTFIELDS, sim->body.p ? sim->body.p : "");
    load_buf_reset(&sim->answer);
    sim->busy = 1;
    sim->call = call;
    sim->sent_ms = load_now_ms();
    L->st.calls[call]++;
    curl_multi_add_handle(L->multi, sim->easy);
}

static void sim_init(load_t *L, load_sim_t *sim, int i)
{
    memset(sim, 0, sizeof *sim);
    sim->index = i;
    snprintf(sim->name, sizeof sim->name, "%s-%d", L->o.prefix, i + 1);
    sim->first_ms = -1;
    sim->easy = curl_easy_init();
    curl_easy_setopt(sim->easy, CURLOPT_HTTPHEADER, L->headers);
    curl_easy_setopt(sim->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(sim->easy, CURLOPT_WRITEDATA, &sim->answer);
    curl_easy_setopt(sim->easy, CURLOPT_PRIVATE, sim);
    curl_easy_setopt(sim->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(sim->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(sim->easy, CURLOPT_TIMEOUT_MS, 120000L);
    curl_easy_setopt(sim->easy, CURLOPT_POST, 1L);
}

/* A call ended: the figures, then the protocol's answer handler. */
static void call_done(load_t *L, CURL *easy, CURLcode rc)
{
    load_sim_t *sim = NULL;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&sim);
    curl_multi_remove_handle(L->multi, easy);
    sim->busy = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        L->st.transport++;
        load_error(L, "%s: %s", sim->name, curl_easy_strerror(rc));
    } else if (status / 100 == 2) {
        L->st.status_2xx++;
    } else {
        if (status == 409)
            L->st.status_409++;
        else
            L->st.status_other++;
        load_error(L, "%s: HTTP %ld: %.300s", sim->name, status,
                   sim->answer.p ? sim->answer.p : "");
    }
    if (sim->call == CALL_LEASE) {
        load_stats_t *st = &L->st;
        if (st->nlease_us == st->caplease_us) {
            st->caplease_us = st->caplease_us ? st->caplease_us * 2 : 4096;
            st->lease_us = realloc(st->lease_us, sizeof *st->lease_us * st->caplease_us);
        }
        st->lease_us[st->nlease_us++] = (uint64_t)(load_now_ms() - sim->sent_ms) * 1000;
    }
    json_t *root = status / 100 == 2 && sim->answer.len
                       ? json_loadb(sim->answer.p, sim->answer.len, 0, NULL)
                       : NULL;
    if (L->o.proto == PROTO_SINGLE)
        single_answer(L, sim, rc == CURLE_OK ? status : 0, root);
    else
        sticky_answer(L, sim, rc == CURLE_OK ? status : 0, root);
    json_decref(root);
}

/* ---- the summary ---- */

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

static int summary(load_t *L, int64_t elapsed_ms)
{
    load_stats_t *st = &L->st;
    uint64_t *first = calloc((size_t)L->o.slaves + 1, sizeof *first);
    size_t nfirst = 0;
    for (int i = 0; i < L->o.slaves; i++)
        if (L->sims[i].first_ms >= 0)
            first[nfirst++] = (uint64_t)L->sims[i].first_ms * 1000;
    qsort(first, nfirst, sizeof *first, by_u64);
    qsort(st->lease_us, st->nlease_us, sizeof *st->lease_us, by_u64);
    static const char *const names[CALL_N] = {"lease", "complete", "part", "report", "renew"};
    json_t *calls = json_object();
    for (int c = 0; c < CALL_N; c++)
        json_object_set_new(calls, names[c], json_integer((json_int_t)st->calls[c]));
    json_t *o = json_pack(
        "{s:s, s:i, s:f, s:o, s:{s:I, s:I, s:I, s:I}, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:I, "
        "s:I, s:{s:f, s:f, s:f}, s:{s:f, s:f, s:i}, s:s}",
        "protocol", L->o.proto == PROTO_SINGLE ? "single" : "sticky", "slaves", L->o.slaves,
        "seconds", (double)elapsed_ms / 1000.0, "calls", calls, "answers", "2xx",
        (json_int_t)st->status_2xx, "409", (json_int_t)st->status_409, "other",
        (json_int_t)st->status_other, "transport", (json_int_t)st->transport, "lease_empty",
        (json_int_t)st->lease_empty, "leases", "read", (json_int_t)st->leases_read, "expand",
        (json_int_t)st->leases_expand, "repair", (json_int_t)st->leases_repair, "parts",
        (json_int_t)st->parts, "ranges", (json_int_t)st->ranges, "idle_reported",
        (json_int_t)st->idle_reported, "released", (json_int_t)st->released, "gone",
        (json_int_t)st->gone, "lease_ms", "p50", pct_ms(st->lease_us, st->nlease_us, 0.5), "p99",
        pct_ms(st->lease_us, st->nlease_us, 0.99), "max", pct_ms(st->lease_us, st->nlease_us, 1.0),
        "first_lease_ms", "median", pct_ms(first, nfirst, 0.5), "max", pct_ms(first, nfirst, 1.0),
        "never", L->o.slaves - (int)nfirst, "last_error", st->last_error);
    FILE *f = strcmp(L->o.out, "-") == 0 ? stdout : fopen(L->o.out, "w");
    if (!f) {
        fprintf(stderr, "abbey-load: %s: %s\n", L->o.out, strerror(errno));
        return 1;
    }
    json_dumpf(o, f, JSON_COMPACT);
    fputc('\n', f);
    if (f != stdout)
        fclose(f);
    json_decref(o);
    free(first);
    return st->status_409 + st->status_other + st->transport ? 1 : 0;
}

/* ---- options ---- */

static const char *read_token(const char *path)
{
    static char tok[512];
    FILE *f = fopen(path, "r");
    if (!f || !fgets(tok, sizeof tok, f)) {
        fprintf(stderr, "abbey-load: %s: cannot read the token\n", path);
        exit(2);
    }
    fclose(f);
    char *s = tok, *e = tok + strlen(tok);
    while (*s == ' ' || *s == '\t')
        s++;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

static long num(const char *name, const char *v, long lo, long hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) {
        fprintf(stderr, "abbey-load: %s: '%s' is not a number from %ld to %ld\n", name, v, lo, hi);
        exit(2);
    }
    return n;
}

/* "a,b" as a JSON array of strings. */
static const char *labels_json(const char *arg)
{
    json_t *a = json_array();
    char *copy = strdup(arg), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(t));
    free(copy);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void parse_args(int argc, char **argv, load_opts_t *o)
{
    const char *token_file = NULL;
    *o = (load_opts_t){.prefix = "sim",
                       .labels = "[]",
                       .slaves = 50,
                       .seconds = 10,
                       .poll_ms = 500,
                       .max = 0,
                       .workers = 2,
                       .files = 1000,
                       .out = "-"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            exit(0);
        }
        if (!v || strncmp(a, "--", 2) != 0) {
            usage();
            exit(2);
        }
        i++;
        if (!strcmp(a, "--primary")) {
            size_t n = strlen(v);
            while (n > 8 && v[n - 1] == '/')
                n--;
            o->primary = strndup(v, n);
        } else if (!strcmp(a, "--token-file"))
            token_file = v;
        else if (!strcmp(a, "--slaves"))
            o->slaves = (int)num(a, v, 1, 100000);
        else if (!strcmp(a, "--seconds"))
            o->seconds = (int)num(a, v, 1, 86400);
        else if (!strcmp(a, "--poll-ms"))
            o->poll_ms = (int)num(a, v, 1, 600000);
        else if (!strcmp(a, "--max"))
            o->max = (int)num(a, v, 1, 1024);
        else if (!strcmp(a, "--workers"))
            o->workers = (int)num(a, v, 1, 4096);
        else if (!strcmp(a, "--files"))
            o->files = (int)num(a, v, 0, 1000000);
        else if (!strcmp(a, "--grow"))
            o->grow = num(a, v, 0, 1L << 40);
        else if (!strcmp(a, "--labels"))
            o->labels = labels_json(v);
        else if (!strcmp(a, "--prefix"))
            o->prefix = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--protocol") && (!strcmp(v, "single") || !strcmp(v, "sticky")))
            o->proto = v[1] == 'i' ? PROTO_SINGLE : PROTO_STICKY;
        else {
            usage();
            exit(2);
        }
    }
    if (!o->primary || !token_file || strncmp(o->primary, "http", 4) != 0) {
        usage();
        exit(2);
    }
    o->token = read_token(token_file);
    if (!o->max)
        o->max = o->proto == PROTO_STICKY ? 1024 : 1;
}

/* Open files: as many as the hard limit allows (a connection per slave). */
static void raise_nofile(int slaves)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)slaves + 64)
        fprintf(stderr, "abbey-load: warning: open files limited to %llu, below %d slaves\n",
                (unsigned long long)rl.rlim_cur, slaves);
}

int main(int argc, char **argv)
{
    load_t L;
    char auth[600];
    memset(&L, 0, sizeof L);
    parse_args(argc, argv, &L.o);
    raise_nofile(L.o.slaves);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    L.multi = curl_multi_init();
    curl_multi_setopt(L.multi, CURLMOPT_MAXCONNECTS, (long)L.o.slaves + 16);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", L.o.token);
    L.headers = curl_slist_append(NULL, auth);
    L.headers = curl_slist_append(L.headers, "Content-Type: application/json");
    L.headers = curl_slist_append(L.headers, "Expect:");
    char *u1 = malloc(strlen(L.o.primary) + 32), *u2 = malloc(strlen(L.o.primary) + 32),
         *u3 = malloc(strlen(L.o.primary) + 32);
    sprintf(u1, "%s/v1/lease", L.o.primary);
    sprintf(u2, "%s/v1/complete", L.o.primary);
    sprintf(u3, "%s/v1/lease/renew", L.o.primary);
    L.lease_url = u1, L.complete_url = u2, L.renew_url = u3;
    L.sims = calloc((size_t)L.o.slaves, sizeof *L.sims);
    L.t0_ms = load_now_ms();
    int64_t end = L.t0_ms + (int64_t)L.o.seconds * 1000;
    for (int i = 0; i < L.o.slaves; i++) {
        sim_init(&L, &L.sims[i], i);
        if (L.o.proto == PROTO_SINGLE)
            single_start(&L, &L.sims[i]);
        else
            sticky_start(&L, &L.sims[i]);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    for (int64_t now = load_now_ms(); now < end && !stopping; now = load_now_ms()) {
        int running, left;
        CURLMsg *m;
        curl_multi_perform(L.multi, &running);
        while ((m = curl_multi_info_read(L.multi, &left)))
            if (m->msg == CURLMSG_DONE)
                call_done(&L, m->easy_handle, m->data.result);
        int64_t next = now + 100;
        now = load_now_ms();
        for (int i = 0; i < L.o.slaves; i++) {
            load_sim_t *sim = &L.sims[i];
            if (sim->busy || !sim->wake_ms)
                continue;
            if (sim->wake_ms <= now) {
                sim->wake_ms = 0;
                if (L.o.proto == PROTO_SINGLE)
                    single_start(&L, sim);
                else
                    sticky_start(&L, sim);
            } else if (sim->wake_ms < next) {
                next = sim->wake_ms;
            }
        }
        int wait = next > now ? (int)(next - now) : 0;
        curl_multi_poll(L.multi, NULL, 0, wait, NULL);
    }
    int rc = summary(&L, load_now_ms() - L.t0_ms);
    for (int i = 0; i < L.o.slaves; i++) {
        load_sim_t *sim = &L.sims[i];
        if (sim->busy)
            curl_multi_remove_handle(L.multi, sim->easy);
        curl_easy_cleanup(sim->easy);
        single_free(sim);
        sticky_free(sim);
        free(sim->body.p);
        free(sim->answer.p);
    }
    free(L.sims);
    free(L.st.lease_us);
    free(u1);
    free(u2);
    free(u3);
    curl_multi_cleanup(L.multi);
    curl_slist_free_all(L.headers);
    curl_global_cleanup();
    load_listings_free();
    free((char *)L.o.primary);
    if (strcmp(L.o.labels, "[]") != 0)
        free((char *)L.o.labels);
    return rc;
}
