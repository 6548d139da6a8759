/* instance.h - which instance of a file source a read lease reads, and how.
 *
 * A file source's instance is named "dev:inode:gen" (decimal): the file's
 * device and inode, and a generation bumped when the same inode is
 * truncated under the committed offset. An http(s) source's is "http:gen".
 * instance_plan compares the lease's instance with the file at the path now
 * and says what to read: the same file, the old file of a rotation (found by
 * inode among the files of the same directory), or nothing (truncated, old
 * file lost, path missing, not a regular file). An archive (".gz", ".zst":
 * source_path_is_stream) is final and its offsets are decompressed bytes:
 * its inode is never taken for truncated, and the sizes a plan gives for
 * it are its compressed sizes (the reader knows the stream's size at its
 * end). Paths are opened without
 * blocking, so a FIFO cannot hold the slave. Decisions are taken on open descriptors, never
 * on names alone, so a rename between the decision and the read cannot make
 * the slave read the wrong file: plan->read_path is "/proc/self/fd/N" of a
 * descriptor held open until the plan's pool is cleared. Thread-safe. */
#ifndef ABBEY_INSTANCE_H
#define ABBEY_INSTANCE_H

#include <apr_pools.h>
#include <stdint.h>

#include "error.h"

#define INSTANCE_MAX 72    /* "dev:inode:gen" with NUL */
#define INSTANCE_HEAD 4096 /* bytes of a file's head its fingerprint covers */

typedef struct instance_id_t {
    uint64_t dev, ino, gen;
} instance_id_t;

typedef enum instance_kind_t {
    INSTANCE_SAME,      /* read the lease's instance (or, for a new task, the file now) */
    INSTANCE_ROTATED,   /* the path is a new file: read the old one (kept by inode) to its
                           end, then move on to next_instance */
    INSTANCE_LOST,      /* the path is a new file and the old one is gone: nothing to read,
                           move on to next_instance */
    INSTANCE_TRUNCATED, /* same inode, now smaller than start: nothing to read, move on to
                           next_instance (gen + 1) at offset 0 */
    INSTANCE_GONE,      /* the lease's file is gone and nothing replaced it (or a new task's
                           path does not exist yet): nothing to read */
    INSTANCE_REFUSED,   /* the path is not a regular file (a FIFO, a directory, a device):
                           nothing is read, plan->why says what it is */
} instance_kind_t;

typedef struct instance_plan_t {
    instance_kind_t kind;
    char instance[INSTANCE_MAX];      /* the instance read (the lease's, or the one named now) */
    char next_instance[INSTANCE_MAX]; /* "" or where the task moves once this one is finished */
    const char *read_path;            /* what to open for reading: NULL when nothing to read */
    const char *found;                /* the old file's name now (ROTATED), else the path */
    uint64_t size;                    /* the read file's size (0 when nothing to read) */
    uint64_t next_size;               /* next_instance's size now (0 when none) */
    const char *why;                  /* REFUSED: "path: is a FIFO, not a regular file..." */
} instance_plan_t;

/* "dev:inode:gen" into out (INSTANCE_MAX bytes). */
void instance_format(const instance_id_t *id, char *out);

/* Parse "dev:inode:gen" (decimal, nothing else). 0 on success, -1 when s is not one. */
int instance_parse(const char *s, instance_id_t *id);

/* The generation of an http instance "http:gen"; "" is generation 0. 0 on
 * success, -1 when s is neither. */
int instance_http_parse(const char *s, uint64_t *gen);
void instance_http_format(uint64_t gen, char *out);

/* What an expansion reports of one path (instance_identify). */
typedef struct instance_file_t {
    uint64_t dev, ino;  /* the file's identity */
    uint64_t size;      /* its size (an archive: compressed) */
    int has_head;       /* head_len and head_hash are known (an archive whose first
                           INSTANCE_HEAD decompressed bytes cannot be read yet: 0) */
    uint32_t head_len;  /* min(size, INSTANCE_HEAD) bytes of its (decompressed) content,
                           or 0 when they hold no whole line */
    uint64_t head_hash; /* value_hash_bytes of them */
} instance_file_t;

/* "dev:inode" (a file's identity, without generation) into out (INSTANCE_MAX
 * bytes), and back: 0, or -1 when s is not one. */
void instance_file_format(uint64_t dev, uint64_t ino, char *out);
int instance_file_parse(const char *s, uint64_t *dev, uint64_t *ino);

/* Identify the file at path for an expansion: *out filled from an open
 * descriptor (no blocking open: a FIFO cannot hold the slave). Returns
 * APR_SUCCESS; else the status with "path: reason" in err: the path is not
 * a regular file (APR_EBADPATH: a FIFO, a directory, a device), or cannot
 * be opened or read. An archive's damaged or unfinished head is not an
 * error: has_head is 0. */
apr_status_t instance_identify(const char *path, apr_pool_t *pool, instance_file_t *out,
                               abbey_err_t *err);

/* Find the file dev:ino for a read of a glob's task from start: at path, or
 * renamed within path's directory. plan->kind: INSTANCE_SAME (read_path,
 * found, size set: at path or found renamed), INSTANCE_TRUNCATED (a plain
 * file now shorter than start: nothing to read), INSTANCE_GONE (not there
 * any more), INSTANCE_REFUSED (path is that file but not a regular one:
 * plan->why). Never a next instance: such a task reads its one file. Errors
 * as instance_plan's. */
apr_status_t instance_locate(const char *path, uint64_t dev, uint64_t ino, uint64_t start,
                             apr_pool_t *pool, instance_plan_t *plan, abbey_err_t *err);

/* Decide what a read lease of the file at path reads, given the lease's
 * instance ("" for a new task) and committed offset start; see
 * instance_kind_t. Descriptors opened for the plan live in pool. Returns
 * APR_SUCCESS with *plan filled, or an error (with "path: reason" in err)
 * when the path exists but cannot be opened or stat'ed, or the lease's
 * instance is not "dev:inode:gen". */
apr_status_t instance_plan(const char *path, const char *lease_instance, uint64_t start,
                           apr_pool_t *pool, instance_plan_t *plan, abbey_err_t *err);

/* Find the regular file with device dev and inode ino among the entries of
 * dir (not descending): opens it, checks the descriptor's identity, and
 * returns the descriptor in *fd (closed when pool is cleared), its name
 * (dir/entry) in *name and its size in *size. APR_NOTFOUND when no entry is
 * that file (or dir cannot be read). */
apr_status_t instance_find_inode(const char *dir, uint64_t dev, uint64_t ino, apr_pool_t *pool,
                                 int *fd, const char **name, uint64_t *size);

#endif
