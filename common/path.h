/* path.h - file path helpers shared by the frame files (framelog.c) and the
 * source instances (source/instance.c). Pure functions, thread-safe. */
#ifndef ABBEY_PATH_H
#define ABBEY_PATH_H

#include <apr_pools.h>

/* The directory part of path: "." when it has no '/', "/" when its only '/'
 * is the first byte, else a copy in pool of what comes before its last '/'.
 * Cannot fail. */
const char *path_dir(const char *path, apr_pool_t *pool);

#endif
