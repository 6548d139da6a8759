/* instance.c - naming file instances and deciding what a read lease reads (see instance.h).
 *
 * Every decision is made on descriptors: the path is opened first and its
 * descriptor stat'ed, a rotated file is looked up by opening the directory's
 * entries and comparing their descriptors' identity. The descriptors stay
 * open (pool cleanup closes them) and are read through /proc/self/fd/N, so
 * the bytes read are those of the file the decision was about. */
#include "instance.h"

#include <apr_strings.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "source.h"
#include "value.h"

void instance_format(const instance_id_t *id, char *out)
{
    snprintf(out, INSTANCE_MAX, "%" PRIu64 ":%" PRIu64 ":%" PRIu64, id->dev, id->ino, id->gen);
}

void instance_file_format(uint64_t dev, uint64_t ino, char *out)
{
    snprintf(out, INSTANCE_MAX, "%" PRIu64 ":%" PRIu64, dev, ino);
}

/* A decimal number ending at a ':' or the end; advances *s. -1 when none. */
static int parse_u64(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t x = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *v = x;
    return 0;
}

int instance_parse(const char *s, instance_id_t *id)
{
    if (parse_u64(&s, &id->dev) != 0 || *s++ != ':' || parse_u64(&s, &id->ino) != 0 ||
        *s++ != ':' || parse_u64(&s, &id->gen) != 0 || *s)
        return -1;
    return 0;
}

int instance_file_parse(const char *s, uint64_t *dev, uint64_t *ino)
{
    return parse_u64(&s, dev) != 0 || *s++ != ':' || parse_u64(&s, ino) != 0 || *s ? -1 : 0;
}

int instance_http_parse(const char *s, uint64_t *gen)
{
    *gen = 0;
    if (!*s)
        return 0;
    if (strncmp(s, "http:", 5) != 0)
        return -1;
    s += 5;
    return parse_u64(&s, gen) == 0 && !*s ? 0 : -1;
}

void instance_http_format(uint64_t gen, char *out)
{
    snprintf(out, INSTANCE_MAX, "http:%" PRIu64, gen);
}

static apr_status_t fd_cleanup(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

/* Keep fd open until pool is cleared. */
static void hold(apr_pool_t *pool, int fd)
{
    apr_pool_cleanup_register(pool, (void *)(intptr_t)fd, fd_cleanup, apr_pool_cleanup_null);
}

static const char *fd_path(apr_pool_t *pool, int fd)
{
    return apr_psprintf(pool, "/proc/self/fd/%d", fd);
}

apr_status_t instance_find_inode(const char *dir, uint64_t dev, uint64_t ino, apr_pool_t *pool,
                                 int *fd, const char **name, uint64_t *size)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    apr_status_t rv = APR_NOTFOUND;

    if (!d)
        return APR_NOTFOUND;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        int f;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
            continue;
        f = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (f < 0)
            continue;
        if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev ||
            (uint64_t)st.st_ino != ino) {
            close(f); /* renamed again between the two looks */
            continue;
        }
        hold(pool, f);
        *fd = f;
        *size = (uint64_t)st.st_size;
        *name = apr_pstrcat(pool, dir, "/", de->d_name, NULL);
        rv = APR_SUCCESS;
        break;
    }
    closedir(d);
    return rv;
}

/* The lease's file is not at path any more and nothing replaced it. */
static void plan_path_missing(const char *path, const instance_id_t *old, apr_pool_t *pool,
                              instance_plan_t *plan)
{
    int fd;
    if (old && instance_find_inode(path_dir(path, pool), old->dev, old->ino, pool, &fd,
                                   &plan->found, &plan->size) == APR_SUCCESS) {
        plan->kind = INSTANCE_ROTATED; /* renamed away, no new file yet */
        plan->read_path = fd_path(pool, fd);
        return;
    }
    plan->kind = INSTANCE_GONE;
}

/* path is open as fd (identity cur, size): compare with the lease's instance. */
static void plan_compare(const char *path, const instance_id_t *old, int fd,
                         const instance_id_t *cur, uint64_t size, uint64_t start, apr_pool_t *pool,
                         instance_plan_t *plan)
{
    int ofd;
    if (old->dev == cur->dev && old->ino == cur->ino) {
        if (size >= start || source_path_is_stream(path)) { /* (an archive: compressed size) */
            plan->kind = INSTANCE_SAME;
            plan->read_path = fd_path(pool, fd);
            plan->size = size;
        } else {
            instance_id_t next = *old;
            next.gen++;
            plan->kind = INSTANCE_TRUNCATED;
            instance_format(&next, plan->next_instance);
            plan->next_size = size;
        }
        return;
    }
    instance_format(cur, plan->next_instance); /* rotated: the new file, generation 0 */
    plan->next_size = size;
    if (instance_find_inode(path_dir(path, pool), old->dev, old->ino, pool, &ofd, &plan->found,
                            &plan->size) == APR_SUCCESS) {
        plan->kind = INSTANCE_ROTATED;
        plan->read_path = fd_path(pool, ofd);
    } else {
        plan->kind = INSTANCE_LOST;
    }
}

apr_status_t instance_plan(const char *path, const char *lease_instance, uint64_t start,
                           apr_pool_t *pool, instance_plan_t *plan, abbey_err_t *err)
{
    instance_id_t old, cur;
    struct stat st;
    int fd, isnew = lease_instance[0] == '\0';

    memset(plan, 0, sizeof *plan);
    plan->found = path;
    if (!isnew && instance_parse(lease_instance, &old) != 0) {
        abbey_err_set(err, "%s: the lease's instance '%s' is not dev:inode:gen", path,
                      lease_instance);
        return APR_EINVAL;
    }
    snprintf(plan->instance, sizeof plan->instance, "%s", lease_instance);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the open */
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            apr_status_t rv = APR_FROM_OS_ERROR(errno);
            abbey_err_set(err, "%s: cannot open: %s", path, strerror(errno));
            return rv;
        }
        plan_path_missing(path, isnew ? NULL : &old, pool, plan);
        return APR_SUCCESS;
    }
    hold(pool, fd);
    if (fstat(fd, &st) != 0) {
        abbey_err_set(err, "%s: cannot stat: %s", path, strerror(errno));
        return APR_FROM_OS_ERROR(errno);
    }
    if (source_not_regular(&st, path, err)) {
        plan->kind = INSTANCE_REFUSED;
        plan->why = apr_pstrdup(pool, err->msg);
        return APR_SUCCESS;
    }
    cur.dev = (uint64_t)st.st_dev;
    cur.ino = (uint64_t)st.st_ino;
    cur.gen = 0;
    if (isnew) { /* name the file now; a start past its end is a truncation */
        instance_format(&cur, plan->instance);
        old = cur;
    }
    plan_compare(path, &old, fd, &cur, (uint64_t)st.st_size, start, pool, plan);
    return APR_SUCCESS;
}

/* ---- a glob's files: identified by an expansion, located by a read ---- */

/* The head of the file open as fd (named path), into f: its first
 * min(size, INSTANCE_HEAD) bytes, decompressed for an archive. */
static apr_status_t identify_head(const char *path, int fd, apr_pool_t *pool, instance_file_t *f,
                                  abbey_err_t *err)
{
    char *buf = apr_palloc(pool, INSTANCE_HEAD);
    size_t got = 0;

    if (source_path_is_stream(path)) {
        abbey_err_t ignored;
        if (source_head(fd_path(pool, fd), buf, INSTANCE_HEAD, &got, pool, &ignored) != APR_SUCCESS)
            return APR_SUCCESS; /* damaged, or still being written: not known yet */
    } else {
        ssize_t n;
        while (got < INSTANCE_HEAD &&
               (n = pread(fd, buf + got, INSTANCE_HEAD - got, (off_t)got)) != 0) {
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                abbey_err_set(err, "%s: cannot read: %s", path, strerror(errno));
                return APR_FROM_OS_ERROR(errno);
            }
            got += (size_t)n;
        }
    }
    f->has_head = 1;
    if (memchr(buf, '\n', got)) { /* a fingerprint holds at least one whole line */
        f->head_len = (uint32_t)got;
        f->head_hash = value_hash_bytes(buf, got);
    }
    return APR_SUCCESS;
}

apr_status_t instance_identify(const char *path, apr_pool_t *pool, instance_file_t *out,
                               abbey_err_t *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    memset(out, 0, sizeof *out);
    if (fd < 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        abbey_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return rv;
    }
    hold(pool, fd);
    if (fstat(fd, &st) != 0) {
        abbey_err_set(err, "%s: cannot stat: %s", path, strerror(errno));
        return APR_FROM_OS_ERROR(errno);
    }
    if (source_not_regular(&st, path, err))
        return APR_EBADPATH;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->size = (uint64_t)st.st_size;
    return identify_head(path, fd, pool, out, err);
}

apr_status_t instance_locate(const char *path, uint64_t dev, uint64_t ino, uint64_t start,
                             apr_pool_t *pool, instance_plan_t *plan, abbey_err_t *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    memset(plan, 0, sizeof *plan);
    plan->found = path;
    if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        abbey_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return rv;
    }
    if (fd >= 0) {
        hold(pool, fd);
        if (fstat(fd, &st) != 0) {
            abbey_err_set(err, "%s: cannot stat: %s", path, strerror(errno));
            return APR_FROM_OS_ERROR(errno);
        }
    }
    if (fd >= 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino) {
        if (source_not_regular(&st, path, err)) {
            plan->kind = INSTANCE_REFUSED;
            plan->why = apr_pstrdup(pool, err->msg);
            return APR_SUCCESS;
        }
        plan->size = (uint64_t)st.st_size;
        plan->read_path = fd_path(pool, fd);
    } else if (instance_find_inode(path_dir(path, pool), dev, ino, pool, &fd, &plan->found,
                                   &plan->size) == APR_SUCCESS) {
        plan->read_path = fd_path(pool, fd); /* renamed since the expansion listed it */
    } else {
        plan->kind = INSTANCE_GONE;
        return APR_SUCCESS;
    }
    /* (an archive's size is compressed: its reader knows where its stream ends) */
    plan->kind = plan->size < start && !source_path_is_stream(plan->read_path) ? INSTANCE_TRUNCATED
                                                                               : INSTANCE_SAME;
    if (plan->kind == INSTANCE_TRUNCATED)
        plan->read_path = NULL;
    return APR_SUCCESS;
}
