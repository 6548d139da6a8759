/* journal_int.h - the durable store's internals, shared by journal.c (opening,
 * appending, group commit, rotation, checkpoints, closing) and journal_recover.c
 * (listing the directory, checkpoint validation, segment replay). journal.h is
 * the public contract; nothing outside those two files includes this one.
 *
 * The mutex guards every field of journal_t (see journal.c for the locking
 * rules). */
#ifndef ABBEY_JOURNAL_INT_H
#define ABBEY_JOURNAL_INT_H

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include <apr_pools.h>
#include <apr_tables.h>

#include "framelog.h"
#include "journal.h"

#define SEQ_DIGITS 20
#define FILE_MAX 128 /* a basename: name (< 64) + "-" + 20 digits + ".ckpt.tmp" */

enum { K_SEGMENT, K_CKPT, K_TMP };
static const char *const EXT[] = {".journal", ".ckpt", ".ckpt.tmp"};

typedef struct seg_t {
    uint64_t seq, bytes;
} seg_t;

struct journal_t {
    apr_pool_t *pool;
    const char *dir, *name;
    journal_fsync_t mode;
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* an fsync, a rotation or a checkpoint ended; the store failed */
    apr_array_header_t *segs;  /* seg_t, by seq */
    apr_array_header_t *ckpts; /* uint64_t, by seq */
    uint64_t next_seq;         /* above every file seen or made */
    int recovered, closed;
    framelog_writer_t *w; /* the current segment (after recovery) */
    apr_pool_t *wpool;    /* w's */
    uint64_t wseq;
    uint64_t rotated;  /* the newest seq journal_rotate returned (0: none) */
    uint64_t appended; /* newest ticket */
    uint64_t synced;   /* every ticket <= synced is on disk */
    int syncing, rotating, checkpointing;
    uint64_t good_ckpt; /* newest checkpoint known whole (loaded or written); 0: none */
    int failed;
    apr_status_t fail_rv;
    abbey_err_t fail_err;
    journal_stats_t st;
};

/* ---- file names ---------------------------------------------------------- */

/* The basename of file seq of this kind: "<name>-<20-digit seq><ext>". */
static inline void file_name(const journal_t *j, uint64_t seq, int kind, char out[FILE_MAX])
{
    snprintf(out, FILE_MAX, "%s-%0*" PRIu64 "%s", j->name, SEQ_DIGITS, seq, EXT[kind]);
}

/* The path of file seq of this kind: "<dir>/<file_name>". */
static inline void file_path(const journal_t *j, uint64_t seq, int kind, char out[PATH_MAX])
{
    char base[FILE_MAX];
    file_name(j, seq, kind, base);
    snprintf(out, PATH_MAX, "%s/%s", j->dir, base);
}

/* ---- journal.c ------------------------------------------------------------ */

/* Delete file seq of this kind (a missing file is fine); a failure is logged with why. */
void journal_remove_file(const journal_t *j, uint64_t seq, int kind, const char *why);

/* Open segment file seq for appending, its writer in a pool of its own (a subpool of
 * j->pool, freed when the segment is closed by a rotation); on failure *wpool is NULL. */
apr_status_t journal_open_segment(journal_t *j, uint64_t seq, framelog_writer_t **w,
                                  apr_pool_t **wpool, abbey_err_t *err);

/* ---- journal_recover.c ------------------------------------------------------ */

/* journal_open: list j->dir into j->segs and j->ckpts (sorted by seq), raise
 * j->next_seq above every file seen, delete leftover "*.ckpt.tmp" files. */
apr_status_t journal_list_dir(journal_t *j, abbey_err_t *err);

#endif
