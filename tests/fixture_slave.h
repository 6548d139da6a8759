/* fixture_slave.h - the shared fixture of the slave suites (tests/check_slave.c,
 * tests/check_slave_sources.c, tests/check_slave_spool.c, tests/check_slave_repair.c,
 * tests/check_partials.c): a tmpdir per test with the slave's log captured, small file
 * helpers, tests/tools/range_server.py, and a fake primary and two fake masters (m1 owns
 * group g1/by_user, m2 owns g2/by_status) served in-process by master/httpd.c, which record
 * every frame and completion. Suites that define FIXTURE_SLAVE_WORKER also get the worker
 * helpers: leases queued at the fake primary, a generated log, and a frame's line and key
 * counts worked out from it.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix and the name in messages) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_SLAVE_H
#define ABBEY_TESTS_FIXTURE_SLAVE_H

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "httpd.h"
#include "slave.h"
#include "value.h"

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_slave.h"
#endif
#ifndef ABBEY_SRCDIR
#define ABBEY_SRCDIR "."
#endif

#define TOKEN "tok-slave"
#define MAXF 64
#define NSTATUS 4

/* The statuses the fake masters count in by_status (fake_frame_t.status). */
static const char *statuses[NSTATUS] = {"200", "302", "404", "500"};

static apr_pool_t *pool;
static char tmpdir[256];
static int saved_stderr = -1;

/* ================================================================ tmpdir */

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

/* APR, the pool and a fresh /tmp/FIXTURE_SUITE.XXXXXX. */
static inline void setup(void)
{
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/" FIXTURE_SUITE ".XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Stderr back (after quiet), the tmpdir removed, the pool gone. */
static inline void teardown(void)
{
    if (saved_stderr >= 0) { /* the slave's log lines went to a file in tmpdir */
        dup2(saved_stderr, 2);
        close(saved_stderr);
        saved_stderr = -1;
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

static inline const char *tpath(const char *name)
{
    return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

/* The slave logs what it does: into tmpdir/slave.log (asserted on with
 * log_has), out of the test output (CHECK_SLAVE_LOG=1 shows it instead). */
static inline void quiet(void)
{
    int fd;
    if (getenv("CHECK_SLAVE_LOG"))
        return;
    fd = open(tpath("slave.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ck_assert_int_ge(fd, 0);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

static inline void put_file(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    fclose(f);
}

/* The bytes of path (read with stdio) from offset; their count into *len
 * (len may be NULL). */
static inline char *slurp(const char *path, long offset, long *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f) - offset;
    if (n < 0)
        n = 0;
    fseek(f, offset, SEEK_SET);
    data = apr_pcalloc(pool, (apr_size_t)n + 1);
    ck_assert_int_eq((long)fread(data, 1, (size_t)n, f), n);
    fclose(f);
    if (len)
        *len = n;
    return data;
}

/* "dev:ino:gen" of path from stat(2): the oracle for instance names. */
static inline const char *stat_instance(const char *path, unsigned gen)
{
    struct stat st;
    char s[96];
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(s, sizeof s, "%llu:%llu:%u", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, gen);
    return apr_pstrdup(pool, s);
}

/* 1 when the slave's log holds needle (always, when CHECK_SLAVE_LOG shows
 * the log instead of capturing it). */
static inline int log_has(const char *needle)
{
    if (saved_stderr < 0)
        return 1;
    return strstr(slurp(tpath("slave.log"), 0, NULL), needle) != NULL;
}

/* The *.spool files under dir/master, in directory order (their count returned). */
static inline int spool_files(const char *dir, const char *master, const char **out, int max)
{
    DIR *d = opendir(apr_pstrcat(pool, dir, "/", master, NULL));
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 6 && strcmp(e->d_name + len - 6, ".spool") == 0 && n < max)
            out[n++] = apr_pstrcat(pool, dir, "/", master, "/", e->d_name, NULL);
    }
    closedir(d);
    return n;
}

/* Offset after the last '\n' in text[0, lim). */
static inline uint64_t last_nl(const char *text, uint64_t lim)
{
    while (lim && text[lim - 1] != '\n')
        lim--;
    return lim;
}

/* =========================================================== range server */

static pid_t server_pid = -1;
static int server_stdin = -1;
static char server_base[64]; /* "http://127.0.0.1:port" once started */

/* Start tests/tools/range_server.py over dir (ignore_range: it answers 200
 * with the whole file); 0, or -1 when python3 is missing. */
static inline int range_server_start(const char *dir, int ignore_range)
{
    const char *src = getenv("ABBEY_SRCDIR") ? getenv("ABBEY_SRCDIR") : ABBEY_SRCDIR;
    const char *script = apr_pstrcat(pool, src, "/tests/tools/range_server.py", NULL);
    int out[2], in[2];
    char line[32] = "";
    struct pollfd pf;
    size_t n = 0;

    if (system("python3 -c '' >/dev/null 2>&1") != 0) {
        printf(FIXTURE_SUITE ": python3 not found: the http source tests are skipped\n");
        return -1;
    }
    ck_assert_int_eq(access(script, R_OK), 0);
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(in), 0);
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        dup2(out[1], 1);
        dup2(in[0], 0);
        close(out[0]);
        close(in[1]);
        execlp("python3", "python3", script, dir, "--stdin-watch",
               ignore_range ? "--ignore-range" : NULL, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    server_stdin = in[1];
    pf.fd = out[0];
    pf.events = POLLIN;
    while (n < sizeof line - 1 && !memchr(line, '\n', n)) { /* the port, within 20 s */
        ssize_t got;
        ck_assert_int_eq(poll(&pf, 1, 20000), 1);
        got = read(out[0], line + n, sizeof line - 1 - n);
        ck_assert_int_gt(got, 0);
        n += (size_t)got;
    }
    close(out[0]);
    ck_assert_int_gt(atoi(line), 0);
    snprintf(server_base, sizeof server_base, "http://127.0.0.1:%d", atoi(line));
    return 0;
}

static inline void range_server_stop(void)
{
    if (server_pid > 0) {
        int st;
        close(server_stdin);
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &st, 0);
    }
    server_pid = -1;
}

/* The range server's URL of file name (in tmpdir). */
static inline const char *url_of(const char *name)
{
    return apr_pstrcat(pool, server_base, "/", name, NULL);
}

/* ============================================ the fake primary and masters */

/* One frame a fake master was sent, decoded. */
typedef struct fake_frame_t {
    char master[FRAME_NAME_MAX], source[FRAME_SOURCE_MAX], job[FRAME_NAME_MAX];
    uint64_t start, end, lines, bytes, config_hash, lease, round;
    uint32_t nranges;            /* ranges the frame covers (start, end: the first's) */
    long user_rows, status_rows; /* rows of by_user / by_status */
    long u0;                     /* count of user u0 in by_user (0 when absent) */
    long status[NSTATUS];        /* by_status counts of statuses[] */
    int answered;                /* the HTTP status answered */
} fake_frame_t;

static struct {
    pthread_mutex_t lock;
    const rules_job_t *job; /* the test's own compiled job, for decoding frames */
    char config[4096], etag[64], inm[128];
    int config_gets;
    char lease_config[64];
    char leases[8][2048];
    int nleases, next_lease;
    char lease_body[1024]; /* the last lease request */
    fake_frame_t frames[MAXF];
    int nframes;
    char completes[8][4096];
    int ncompletes;
    int renews, renew_status;
    char renew_body[256];
    struct {
        int fail503;        /* answer 503 this many times */
        int refuse400;      /* answer 400 this many times */
        char conflict[256]; /* answer 409 with these ranges once ("" none) */
        char body200[128];  /* answer 200 with this body once ("": {"result":"merged"}) */
        int slow_ms;        /* sleep before answering */
    } script[2];            /* [0] m1, [1] m2 */
} fake;

static httpd_t *fake_srv;
static char fake_base[64];
static rules_config_t *test_cfg;

static inline void h_config(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    const char *inm = httpd_header(req, "If-None-Match");
    char quoted[80];
    pthread_mutex_lock(&fake.lock);
    fake.config_gets++;
    snprintf(fake.inm, sizeof fake.inm, "%s", inm ? inm : "-");
    snprintf(quoted, sizeof quoted, "\"%s\"", fake.etag);
    if (inm && strcmp(inm, quoted) == 0) {
        resp->status = 304;
    } else {
        resp->content_type = "application/yaml";
        resp->etag = apr_pstrdup(req->pool, fake.etag);
        buf_put(&resp->body, fake.config, strlen(fake.config));
    }
    pthread_mutex_unlock(&fake.lock);
}

static inline void h_lease(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.lease_body, sizeof fake.lease_body, "%.*s", (int)req->body_len,
             (const char *)req->body);
    const char *l = fake.next_lease < fake.nleases ? fake.leases[fake.next_lease++] : "";
    char *text =
        apr_psprintf(req->pool, "{\"config\":\"%s\",\"leases\":[%s]}", fake.lease_config, l);
    pthread_mutex_unlock(&fake.lock);
    httpd_json(resp, 200, text);
}

static inline void h_renew(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    pthread_mutex_lock(&fake.lock);
    fake.renews++;
    snprintf(fake.renew_body, sizeof fake.renew_body, "%.*s", (int)req->body_len,
             (const char *)req->body);
    if (fake.renew_status == 200)
        httpd_json(resp, 200, "{\"expires_ms\":4102444800000}");
    else
        httpd_error(resp, fake.renew_status, "lease gone");
    pthread_mutex_unlock(&fake.lock);
}

static inline void h_complete(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    pthread_mutex_lock(&fake.lock);
    if (fake.ncompletes < 8)
        snprintf(fake.completes[fake.ncompletes++], sizeof fake.completes[0], "%.*s",
                 (int)req->body_len, (const char *)req->body);
    pthread_mutex_unlock(&fake.lock);
    httpd_json(resp, 200, "{\"ok\":true}");
}

static inline long entry_rows(const partial_t *p, const char *name)
{
    for (int i = 0; i < p->job->nentries; i++)
        if (strcmp(p->job->entries[i]->name, name) == 0)
            return (long)ptable_count(p->tables[i]);
    return -1;
}

/* The count of key k in entry e of p (0 when absent). */
static inline long key_count(const partial_t *p, int e, const value_t *k)
{
    ptable_row_t *row;
    agg_result_t res;
    buf_t b;
    buf_init(&b);
    value_key_put(&b, k);
    row = ptable_find(p->tables[e], b.data, (uint32_t)b.len, value_hash_bytes(b.data, b.len));
    buf_free(&b);
    if (!row)
        return 0;
    agg_result(&p->job->entries[e]->values[0].spec, row->state + ptable_offset(p->tables[e], 0),
               &res);
    return (long)res.num;
}

/* The count of user in by_user (entry 0). */
static inline long user_count(const partial_t *p, const char *user)
{
    value_t k = {.kind = VALUE_STR, .s = user, .len = (uint32_t)strlen(user)};
    return key_count(p, 0, &k);
}

/* The count of one status in by_status (entry 1). */
static inline long status_count(const partial_t *p, int64_t status)
{
    value_t k = {.kind = VALUE_INT, .i = status};
    return key_count(p, 1, &k);
}

static inline void h_partials(void *ctx, const httpd_req_t *req, httpd_resp_t *resp)
{
    frame_header_t h;
    abbey_err_t err;
    size_t flen;
    partial_t *p = partial_create(fake.job, req->pool);
    fake_frame_t *f;
    int m, slow;

    if (frame_decode(req->body, req->body_len, fake.job, &h, p, &flen, &err) != APR_SUCCESS) {
        httpd_error(resp, 400, "%s", err.msg);
        return;
    }
    m = strcmp(h.master, "m2") == 0;
    pthread_mutex_lock(&fake.lock);
    slow = fake.script[m].slow_ms;
    if (fake.nframes == MAXF) { /* the tests assert on nframes: this shows as a failure */
        pthread_mutex_unlock(&fake.lock);
        httpd_error(resp, 500, "too many frames");
        return;
    }
    f = &fake.frames[fake.nframes++];
    memset(f, 0, sizeof *f);
    snprintf(f->master, sizeof f->master, "%s", h.master);
    snprintf(f->source, sizeof f->source, "%s", h.source);
    snprintf(f->job, sizeof f->job, "%s", h.job);
    f->start = h.start;
    f->end = h.end;
    f->lines = h.lines;
    f->bytes = h.bytes;
    f->config_hash = h.config_hash;
    f->lease = h.lease;
    f->round = h.round;
    f->nranges = h.nranges;
    f->user_rows = entry_rows(p, "by_user");
    f->status_rows = entry_rows(p, "by_status");
    f->u0 = user_count(p, "u0");
    for (int i = 0; i < NSTATUS; i++)
        f->status[i] = status_count(p, atoi(statuses[i]));
    if (fake.script[m].fail503 > 0) {
        fake.script[m].fail503--;
        f->answered = 503;
        httpd_error(resp, 503, "busy");
    } else if (fake.script[m].refuse400 > 0) {
        fake.script[m].refuse400--;
        f->answered = 400;
        httpd_error(resp, 400, "refused");
    } else if (fake.script[m].conflict[0]) {
        f->answered = 409;
        httpd_json(resp, 409,
                   apr_psprintf(req->pool, "{\"result\":\"conflict\",\"ranges\":%s}",
                                fake.script[m].conflict));
        fake.script[m].conflict[0] = '\0';
    } else if (fake.script[m].body200[0]) {
        f->answered = 200;
        httpd_json(resp, 200, apr_pstrdup(req->pool, fake.script[m].body200));
        fake.script[m].body200[0] = '\0';
    } else {
        f->answered = 200;
        httpd_json(resp, 200, "{\"result\":\"merged\"}");
    }
    pthread_mutex_unlock(&fake.lock);
    if (slow)
        usleep((useconds_t)slow * 1000);
}

/* m1 owns g1 (by_user), m2 owns g2 (by_status); both are the fake server
 * (m2's url with a '/': two masters may not have the same url); extra is
 * appended to the last entry. */
static inline const char *test_yaml(const char *extra)
{
    return apr_psprintf(pool,
                        "masters:\n"
                        "  - {name: m1, url: \"%s\", weight: 1}\n"
                        "  - {name: m2, url: \"%s/\", weight: 1}\n"
                        "jobs:\n"
                        "  - name: t\n"
                        "    sources: [/dev/null]\n"
                        "    format: {split: \" \", fields: [user, status:int]}\n"
                        "    groups:\n"
                        "      - name: g1\n"
                        "        entries:\n"
                        "          - name: by_user\n"
                        "            key: [user]\n"
                        "            values: {n: count}\n"
                        "      - name: g2\n"
                        "        entries:\n"
                        "          - name: by_status\n"
                        "            key: [status]\n"
                        "            values: {n: count}%s\n",
                        fake_base, fake_base, extra);
}

/* setup and quiet, then the fake servers started over test_yaml(""), whose
 * etag and lease config name are "cafe0001". */
static inline void fake_setup(void)
{
    abbey_err_t err;
    const char *yaml;
    setup();
    quiet();
    memset(&fake, 0, sizeof fake);
    pthread_mutex_init(&fake.lock, NULL);
    fake.renew_status = 200;
    fake_srv = httpd_create(TOKEN, pool);
    httpd_route(fake_srv, "GET", "/v1/config", 0, h_config, NULL);
    httpd_route(fake_srv, "POST", "/v1/lease", 1 << 20, h_lease, NULL);
    httpd_route(fake_srv, "POST", "/v1/lease/renew", 1 << 20, h_renew, NULL);
    httpd_route(fake_srv, "POST", "/v1/complete", 1 << 20, h_complete, NULL);
    httpd_route(fake_srv, "POST", "/v1/partials", 64 << 20, h_partials, NULL);
    ck_assert_msg(httpd_start(fake_srv, "127.0.0.1", 0, 4, &err) == APR_SUCCESS, "%s", err.msg);
    snprintf(fake_base, sizeof fake_base, "http://127.0.0.1:%d", httpd_port(fake_srv));
    yaml = test_yaml("");
    ck_assert_msg(rules_load_buffer(yaml, strlen(yaml), "t.yaml", pool, &test_cfg, &err) ==
                      APR_SUCCESS,
                  "%s", err.msg);
    fake.job = &test_cfg->jobs[0];
    ck_assert_int_eq(fake.job->groups[0].master, 0);
    ck_assert_int_eq(fake.job->groups[1].master, 1);
    snprintf(fake.config, sizeof fake.config, "%s", yaml);
    snprintf(fake.etag, sizeof fake.etag, "cafe0001");
    snprintf(fake.lease_config, sizeof fake.lease_config, "cafe0001");
}

static inline void fake_teardown(void)
{
    httpd_stop(fake_srv);
    range_server_stop();
    teardown();
}

/* Queue one lease (its JSON object) for the fake primary to hand out. */
static inline void fake_queue(const char *lease_json)
{
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.leases[fake.nleases++], sizeof fake.leases[0], "%s", lease_json);
    pthread_mutex_unlock(&fake.lock);
}

/* Completion i the fake primary received, parsed (json_decref it). */
static inline json_t *completion(int i)
{
    json_t *o;
    ck_assert_int_gt(fake.ncompletes, i);
    o = json_loads(fake.completes[i], 0, NULL);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* A slave "s1" of the fake primary with quick retries; with spool_dir, its
 * spool opened there. */
static inline slave_t *new_slave(int workers, const char *spool_dir)
{
    slave_opts_t o;
    slave_t *s;
    abbey_err_t err;
    memset(&o, 0, sizeof o);
    o.primary = fake_base;
    o.name = "s1";
    o.workers = workers;
    o.token = TOKEN;
    o.poll_ms = 10;
    o.retry_ms = 10;
    o.connect_ms = 2000;
    o.timeout_ms = 10000;
    o.block = 4096;
    o.spool_dir = spool_dir;
    s = slave_create(&o, pool);
    if (spool_dir)
        ck_assert_msg(slave_spool_open(s, &err) == APR_SUCCESS, "%s", err.msg);
    return s;
}

/* ============================= worker helpers (FIXTURE_SLAVE_WORKER) */
/* The leases, logs and oracles of tests/check_slave.c and tests/check_slave_spool.c, which
 * define FIXTURE_SLAVE_WORKER. */
#ifdef FIXTURE_SLAVE_WORKER

static inline void queue_lease(uint64_t id, const char *kind, const char *source,
                               const char *instance, uint64_t start, uint64_t cap)
{
    fake_queue(apr_psprintf(pool,
                            "{\"id\":%" PRIu64 ",\"job\":\"t\",\"kind\":\"%s\",\"task\":1,"
                            "\"source\":\"%s\",\"instance\":\"%s\",\"start\":%" PRIu64
                            ",\"cap\":%" PRIu64 ",\"round\":77,\"expires_ms\":4102444800000}",
                            id, kind, source, instance, start, cap));
}

/* Generated log: line i is "u<i%5> <status>\n"; what the oracle counts. */
static inline const char *gen_log(int nlines, const char *tail)
{
    static const char *st[] = {"200", "404", "500"};
    const char *s = "";
    for (int i = 0; i < nlines; i++)
        s = apr_psprintf(pool, "%su%d %s\n", s, i % 5, st[i % 3]);
    return apr_pstrcat(pool, s, tail, NULL);
}

/* Oracle over text[a, b): whole lines, and how many are user u0. */
static inline void count_lines(const char *text, uint64_t a, uint64_t b, uint64_t *lines, long *u0)
{
    *lines = 0;
    *u0 = 0;
    for (uint64_t i = a; i < b; i++) {
        if (i == a || text[i - 1] == '\n')
            *u0 += strncmp(text + i, "u0 ", 3) == 0;
        *lines += text[i] == '\n';
    }
}

static inline int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "field %s", k);
    return (int64_t)json_integer_value(v);
}

static inline const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    ck_assert_msg(v != NULL, "field %s", k);
    return apr_pstrdup(pool, v);
}

/* A frame to master m covering [a, b) with the oracle's counts, groups split right. */
static inline void check_frame(const fake_frame_t *f, const char *m, const char *source,
                               const char *text, uint64_t a, uint64_t b)
{
    uint64_t lines;
    long u0;
    count_lines(text, a, b, &lines, &u0);
    ck_assert_str_eq(f->master, m);
    ck_assert_str_eq(f->source, source);
    ck_assert_str_eq(f->job, "t");
    ck_assert_uint_eq(f->start, a);
    ck_assert_uint_eq(f->end, b);
    ck_assert_uint_eq(f->lines, lines);
    ck_assert_uint_eq(f->bytes, b - a);
    ck_assert_uint_eq(f->round, 77);
    ck_assert_uint_eq(f->config_hash, test_cfg->hash);
    if (strcmp(m, "m1") == 0) { /* g1 (by_user) is m1's, g2 (by_status) m2's */
        ck_assert_int_gt(f->user_rows, 0);
        ck_assert_int_eq(f->status_rows, 0);
        ck_assert_int_eq(f->u0, u0);
    } else {
        ck_assert_int_eq(f->user_rows, 0);
        ck_assert_int_gt(f->status_rows, 0);
    }
}

#endif /* FIXTURE_SLAVE_WORKER */

#endif
