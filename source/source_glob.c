/* source_glob.c - expanding a job's sources into paths (globs re-expanded on every call).
 *
 * The rules file's paths are in wire form (wirepath.h): "%FF" names byte 0xff. */
#include "source.h"

#include <apr_strings.h>
#include <glob.h>

#include "wirepath.h"

apr_status_t source_expand(const rules_source_t *src, apr_pool_t *pool, apr_array_header_t *out,
                           abbey_err_t *err)
{
    const char *path = src->kind == RULES_SRC_HTTP ? src->path : wirepath_decode(src->path, pool);
    glob_t g;
    int rc;

    if (src->kind != RULES_SRC_GLOB) {
        APR_ARRAY_PUSH(out, const char *) = path;
        return APR_SUCCESS;
    }
    rc = glob(path, GLOB_ERR, NULL, &g);
    if (rc == GLOB_NOMATCH)
        return APR_SUCCESS;
    if (rc != 0) {
        abbey_err_set(err, "%s: cannot expand the pattern (%s)", src->path,
                      rc == GLOB_NOSPACE ? "out of memory" : "read error");
        return APR_EGENERAL;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) /* glob sorts its matches */
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(pool, g.gl_pathv[i]);
    globfree(&g);
    return APR_SUCCESS;
}
