/* source_glob.c - the glob kind: a pattern expanded into the files it matches now.
 *
 * It expands and reads nothing itself: the paths it finds are files, read by
 * the file kind. Patterns are re-expanded on every call, so new files join.
 * The rules file's patterns are in wire form (wirepath.h): "%FF" names byte 0xff. */
#include "source_int.h"

#include <apr_strings.h>
#include <glob.h>

#include "wirepath.h"

static apr_status_t glob_expand(const rules_source_t *src, apr_pool_t *pool,
                                apr_array_header_t *out, abbey_err_t *err)
{
    const char *path = wirepath_decode(src->path, pool);
    glob_t g;
    int rc = glob(path, GLOB_ERR, NULL, &g);

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

const source_kind_t source_glob_kind = {
    .name = "glob",
    .rules_kind = RULES_SRC_GLOB,
    .expand = glob_expand,
};
