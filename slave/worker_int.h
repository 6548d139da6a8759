/* worker_int.h - a read lease in parts, shared by worker.c (one lease: read, deliver,
 * complete) and combine.c (several sticky read leases read in a row into one partial and
 * delivered as one frame per master, docs/CLUSTER.md "Frames of several ranges"). Not a
 * public header; a worker_t belongs to one thread. */
#ifndef ABBEY_WORKER_INT_H
#define ABBEY_WORKER_INT_H

#include <stdint.h>

#include "deliver.h"
#include "instance.h"
#include "slave.h"

/* What a read lease did: the fields of its completion. */
typedef struct worker_outcome_t {
    char instance[INSTANCE_MAX];      /* the instance read */
    char next_instance[INSTANCE_MAX]; /* "" or where the task moves */
    const char *read_path;            /* what was read (NULL: nothing; in the task pool) */
    uint64_t start, end;
    int at_end;
    int64_t size;      /* reported size; -1: none */
    const char *error; /* why nothing (more) could be read: a source that is not a regular
                          file, an archive's damaged data */
} worker_outcome_t;

/* Read lease l of job with engine e into p, which keeps what it held (a combined read adds
 * to it): whole lines from l->start, as docs/CLUSTER.md says a read lease reads, its bad
 * lines to the job's rejects writer, cut near the memory budget (w->tasks.io.cut is then
 * set, logged); a stop ends it at its block with what was read kept (at_end 0).
 * APR_SUCCESS with *o filled; else the reason in err (p may then hold part of the range:
 * the lease must not be completed). */
apr_status_t worker_read(worker_t *w, const slave_lease_t *l, const rules_job_t *job, engine_t *e,
                         partial_t *p, worker_outcome_t *o, abbey_err_t *err);

/* Complete read lease l (worker_complete): o, its lines, bad lines and bytes, and each
 * master's delivery (results: one per master of the worker's config; NULL when nothing was
 * sent, an empty range). */
void worker_finish(worker_t *w, const slave_lease_t *l, const worker_outcome_t *o, uint64_t lines,
                   uint64_t bad_lines, uint64_t bytes, const deliver_result_t *results);

/* Leave l uncompleted (logged: failed masters did not take its range; it expires and is
 * read again). */
void worker_not_completed(worker_t *w, const slave_lease_t *l, const worker_outcome_t *o,
                          int failed);

/* After a lease (or a combined read): the worker's partials emptied (with a memory
 * budget: what they still hold published) and its task pool cleared. */
void worker_lease_end(worker_t *w);

/* Make the worker's config the one named want (fetching it when new): 0 when it is, -1
 * when it cannot be had. */
int worker_use_config(worker_t *w, const char *want);

#endif
