/* hold_int.h - the holder's insides (slave/hold.c: items, the workers' side, calls to the
 * primary, its thread; slave/hold_pass.c: a pass over the items and the batched report).
 * Locking as hold.c says: h->lock guards the queue, the items' states and results and the
 * config hash; the holder thread alone touches the rest. */
#ifndef ABBEY_HOLD_INT_H
#define ABBEY_HOLD_INT_H

#include <jansson.h>
#include <stdint.h>

#include "slave.h"

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
    int more, lagging;
    int64_t config_tried; /* when the config the primary names was last fetched (failed) */
    int64_t life_ms;      /* the lease lifetime */
    int64_t next_pass, last_ask, last_renew, first_result;
    int64_t heard;      /* when the primary last answered a call */
    int64_t pass_at;    /* when the last pass started */
    int64_t news_asked; /* the pass_at of the last call for the news alone */
    /* the report being built */
    hold_item_t **pend; /* items whose completion goes in it (H_SENT) */
    int npend, pend_cap;
    idle_group_t *idle;
    int nidle, idle_cap;
    json_t *released;
};

/* Now on a monotonic clock, in ms (the deltas are what count). */
int64_t hold_mono_ms(void);

/* Items: free one; with the lock, queue it for a worker, drop the i-th (freed now, or
 * when its run or report ends), find one by lease id (-1: none). */
void hold_item_free(hold_item_t *it);
void hold_enqueue(hold_t *h, hold_item_t *it);
void hold_item_drop(hold_t *h, int i);
int hold_item_index(hold_t *h, uint64_t id);

/* With the lock: give the i-th item back to the primary (listed in the next report's
 * "released", dropped now). Only for an item no worker runs and no report holds. */
void hold_give_back(hold_t *h, int i);

/* Calls to the primary: POST root (released), the answer (NULL: none, logged once per
 * outage; an answer sets h->heard); take in what an answer says (clock, rounds, more, release,
 * config: a lease asked back that waits or is queued is given back at once) and the leases it says
 * are gone; the round a check of job made now is of; the spool backlog into a request. */
json_t *hold_post(hold_t *h, const char *url, json_t *root);
void hold_take_news(hold_t *h, const json_t *a, int64_t arrived);
void hold_take_gone(hold_t *h, const json_t *gone);
int64_t hold_claim(hold_t *h, const char *job, int64_t now, int64_t fallback);
void hold_put_spool(hold_t *h, json_t *root);

/* hold_pass.c: check every item waiting (stat, or queue it) and plan the next pass; take
 * in what the workers finished; send the report (completions, nothing new, released). */
void hold_pass(hold_t *h, int64_t now);
void hold_collect(hold_t *h, int64_t now);
void hold_report(hold_t *h);

#endif
