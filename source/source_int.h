/* source_int.h - the source kinds' ops table and the reader they share (source/ only).
 *
 * A kind is one file, source_<kind>.c, defining one source_kind_t named
 * source_<kind>_kind: how a rules source of its kind becomes paths (expand)
 * and how a path it claims is read (open, read, total, seek, set_stop,
 * close). source.c lists the kinds in SOURCE_KINDS and sends every call of
 * source.h to the reader's kind. A new kind (Kafka, ...) is its file plus its
 * name in SOURCE_KINDS. Everything outside source/ uses source.h. */
#ifndef ABBEY_SOURCE_INT_H
#define ABBEY_SOURCE_INT_H

#include "source.h"

struct source_kind_t;

/* An open reader: what source.c keeps for every kind, and the kind's own state. */
struct source_reader_t {
    const struct source_kind_t *kind;
    const char *path; /* as given to source_open */
    const char *name; /* in messages: path unless the kind's open names it otherwise */
    apr_pool_t *pool; /* the reader lives in it; its cleanups close what open opened */
    void *state;      /* the kind's, set by its open */
};

typedef struct source_kind_t {
    const char *name; /* "file", "glob", "http" */

    /* Expanding: the rules_source_kind_t this kind expands (-1: none, a kind
     * that only reads paths another kind found), and how. expand appends the
     * paths src stands for to out (const char *, in pool); NULL: src->path
     * itself. Errors name src->path. */
    int rules_kind;
    apr_status_t (*expand)(const rules_source_t *src, apr_pool_t *pool, apr_array_header_t *out,
                           abbey_err_t *err);

    /* Reading. claims: 1 when this kind reads path (NULL: it reads nothing
     * itself). The ops below are NULL when claims is. */
    int (*claims)(const char *path);
    /* Make r (kind, path, name and pool set) read from byte offset: set
     * r->state (and r->name when the kind names the source otherwise). On
     * error the APR status with "name: reason" in err; nothing stays open. */
    apr_status_t (*open)(source_reader_t *r, uint64_t offset, abbey_err_t *err);
    /* As source_read, source_total and source_close (source.h). */
    apr_status_t (*read)(source_reader_t *r, void *buf, size_t max, size_t *got, abbey_err_t *err);
    apr_status_t (*total)(source_reader_t *r, uint64_t *size, abbey_err_t *err);
    void (*close)(source_reader_t *r); /* safe to call twice */
    /* Move to byte offset (reads go on from there). NULL: the kind cannot,
     * and source_split never cuts its sources. */
    apr_status_t (*seek)(source_reader_t *r, uint64_t offset, abbey_err_t *err);
    /* As source_set_stop; NULL: nothing to do (task.c looks at the flag
     * between blocks, which is enough for a read that never waits long). */
    void (*set_stop)(source_reader_t *r, const volatile int *stop);
    /* As source_mtime: the source's modification time, epoch seconds, 0 when
     * unknown. NULL: always unknown (0). */
    apr_status_t (*mtime)(source_reader_t *r, int64_t *mtime, abbey_err_t *err);
    /* 1: its sources are streams (source_is_stream, source.h): final, read
     * from their start, of a size total knows only at their end (APR_INCOMPLETE
     * before). Such a kind has no seek. */
    int stream;
} source_kind_t;

/* The file kind, which other kinds read their files through (source_archive.c). */
extern const source_kind_t source_file_kind;

#endif
