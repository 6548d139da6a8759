/* load.h - abbey-load, many simulated slaves in one process (BENCHMARKS.md "Scale").
 *
 * A simulated slave speaks the real protocol to a primary (docs/CLUSTER.md)
 * without reading anything: a read lease is completed with the range a file
 * growing --grow bytes a second from the tool's start would give (an empty
 * range, "nothing new", by default), an expand lease with --files made-up
 * matches of its pattern (in parts over 512 KiB, as abbey-slave sends them),
 * a repair lease with an error. No frame is sent to any master.
 *
 * One thread runs every simulated slave over one libcurl multi handle: each
 * slave has its own easy handle and one call in flight at most; between calls
 * it waits on a timer. load_main.c has the options, the loop and the
 * figures; load_single.c the one-lease-per-call protocol (every version of
 * abbey-slave before sticky leases), load_sticky.c sticky leases with
 * batched reports, load_listing.c the made-up listings of globs.
 *
 * Not thread-safe (one thread); nothing here is abbey's product code. */
#ifndef ABBEY_LOAD_H
#define ABBEY_LOAD_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_PART_BYTES (512u << 10) /* a listing's part, as abbey-slave's expand.c */
#define LOAD_JOB_MAX 16              /* jobs a sticky slave follows the rounds of */

typedef enum { PROTO_SINGLE, PROTO_STICKY } load_proto_t;

typedef struct load_opts_t {
    const char *primary; /* base URL, no trailing '/' */
    const char *token;
    const char *prefix; /* slave names: <prefix>-<n> */
    const char *labels; /* JSON array text, e.g. ["a","b"] */
    int slaves;
    int seconds;  /* run time */
    int poll_ms;  /* an empty lease answer: wait this long */
    int max;      /* leases per lease call (single: default 1; sticky: 1024) */
    int workers;  /* sticky: the "workers" announced */
    int files;    /* matches each glob lists */
    int64_t grow; /* bytes a second each read source grows (0: idle sources) */
    load_proto_t proto;
    const char *out; /* the summary's file ("-": stdout) */
} load_opts_t;

/* What a call is, for the figures. */
typedef enum { CALL_LEASE, CALL_COMPLETE, CALL_PART, CALL_REPORT, CALL_RENEW, CALL_N } load_call_t;

/* One growable byte buffer (malloc'd). */
typedef struct load_buf_t {
    char *p;
    size_t len, cap;
} load_buf_t;

void load_buf_reset(load_buf_t *b);
void load_buf_add(load_buf_t *b, const void *p, size_t n);
void load_buf_printf(load_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string (quotes and escapes). */
void load_buf_json_str(load_buf_t *b, const char *s);

/* A lease the slave holds (sticky) or has to complete (single). */
typedef struct load_lease_t {
    uint64_t id;
    int kind; /* 'r'ead, 'e'xpand, 'p' repair */
    char job[64];
    char instance[256];
    int64_t task, start, cap, round;
    char *source; /* malloc'd */
    int listings; /* expand, sticky: listings sent in a row */
    int gone;     /* sticky: dropped (released, gone, refused) */
} load_lease_t;

/* A job's rounds as the primary told a sticky slave: round `round` is current
 * until local time next_local_ms, then round `next`. */
typedef struct load_rounds_t {
    char job[64];
    int64_t round, next, next_local_ms, round_ms;
} load_rounds_t;

/* A listing being sent in parts: lease, the part to send next. */
typedef struct load_upload_t {
    int active;
    uint64_t lease;
    int64_t round; /* sticky: the check's round (-1: none) */
    const struct load_listing_t *listing;
    int part;
} load_upload_t;

typedef struct load_sim_t {
    int index;
    char name[64];
    CURL *easy;
    int busy;           /* a call is in flight */
    load_call_t call;   /* which */
    int64_t sent_ms;    /* when it was sent */
    int64_t wake_ms;    /* idle: the next step is due then */
    load_buf_t body;    /* the call's body */
    load_buf_t answer;  /* its answer */
    int64_t first_ms;   /* the first lease granted, ms after start (-1: none yet) */
    load_lease_t *todo; /* single: the leases of the last answer still to complete */
    int ntodo, todo_next;
    int got;            /* single: the last lease answer granted some */
    load_upload_t up;   /* a listing in parts */
    load_lease_t *held; /* sticky: the leases held */
    int nheld, capheld;
    uint64_t *released; /* sticky: leases to report as released */
    int nreleased, capreleased;
    load_rounds_t rounds[LOAD_JOB_MAX];
    int nrounds;
    int want_more;         /* sticky: ask for more leases next */
    int fresh;             /* sticky: leases taken since the last report (check them now) */
    int64_t next_check_ms; /* sticky: the next round's check (0: after the first lease) */
} load_sim_t;

/* The figures of a run. */
typedef struct load_stats_t {
    uint64_t calls[CALL_N];
    uint64_t status_2xx, status_409, status_other, transport; /* answers */
    uint64_t lease_empty, leases_read, leases_expand, leases_repair, parts;
    uint64_t idle_reported, ranges, released, gone;
    uint64_t *lease_us; /* lease call latencies (microseconds) */
    size_t nlease_us, caplease_us;
    char last_error[512];
} load_stats_t;

typedef struct load_t {
    load_opts_t o;
    load_stats_t st;
    CURLM *multi;
    struct curl_slist *headers;
    load_sim_t *sims;
    int64_t t0_ms;
    const char *lease_url, *complete_url, *renew_url;
} load_t;

/* load_main.c: the monotonic clock (ms), a call sent with sim's body (POST
 * url; the answer lands in sim->answer and the protocol's on_answer runs),
 * an error noted (the last one kept for the summary). */
int64_t load_now_ms(void);
void load_post(load_t *L, load_sim_t *sim, load_call_t call, const char *url);
void load_error(load_t *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The range a read lease at start with cap would read now: [start, *end),
 * *size the file's made-up size (--grow bytes a second since the start, in
 * 100-byte lines). */
void load_range(const load_t *L, int64_t start, int64_t cap, int64_t *end, int64_t *size);

/* A lease object of an answer into l (strings copied). 0, or -1 (noted). */
int load_lease_parse(load_t *L, json_t *o, load_lease_t *l);

/* load_listing.c: the made-up listing of pattern with n matches (its first
 * '*' replaced by a number), cut in parts of at most LOAD_PART_BYTES of JSON
 * ("paths":[...],"files":[...] without braces). Made once per pattern and
 * kept. */
typedef struct load_listing_t {
    char *pattern;
    int nparts;
    char **parts; /* the JSON of each part's paths and files */
    int *offsets; /* each part's first match */
    int nmatches;
} load_listing_t;
const load_listing_t *load_listing(const char *pattern, int n);
void load_listings_free(void);

/* load_single.c and load_sticky.c: the protocol's first step, and what to do
 * with an answer (status 0: no answer) or when the sim's timer is due. */
void single_start(load_t *L, load_sim_t *sim);
void single_answer(load_t *L, load_sim_t *sim, long status, json_t *root);
void sticky_start(load_t *L, load_sim_t *sim);
void sticky_answer(load_t *L, load_sim_t *sim, long status, json_t *root);
/* What a slave holds, freed at the end. */
void single_free(load_sim_t *sim);
void sticky_free(load_sim_t *sim);

/* load_single.c: the next part of sim's upload (sim->up), as a completion with
 * offset and more (round too when >= 0). */
void load_send_part(load_t *L, load_sim_t *sim);

#endif
