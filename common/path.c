/* path.c - file path helpers (see path.h). */
#include "path.h"

#include <apr_strings.h>
#include <string.h>

const char *path_dir(const char *path, apr_pool_t *pool)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    return apr_pstrndup(pool, path, (apr_size_t)(slash - path));
}
