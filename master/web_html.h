/* web_html.h - the one-file HTML report of --standalone --once --html FILE.
 *
 * The dashboard's page with everything inline (web_page): its scripts and
 * styles, the description of the jobs (dashboard_describe) and every report
 * rendered as JSON, so the file opens anywhere with no network, like
 * GoAccess's -o report.html. Build one with begin, add each report and each
 * job's counts, then write. Not thread-safe (one writer). */
#ifndef ABBEY_WEB_HTML_H
#define ABBEY_WEB_HTML_H

#include <apr_pools.h>
#include <stdint.h>

#include "error.h"
#include "ptable.h"
#include "rules.h"

typedef struct web_html_t web_html_t;

/* A report of cfg's jobs under construction (memory from pool and jansson). */
web_html_t *web_html_begin(const rules_config_t *cfg, apr_pool_t *pool);

/* Add report r of job rendered from table t (as JSON, whatever r's format). */
void web_html_add_report(web_html_t *h, const rules_job_t *job, const rules_report_t *r,
                         const ptable_t *t, apr_pool_t *pool);

/* The job's line counts, shown with its reports. */
void web_html_job_counts(web_html_t *h, const char *job, uint64_t lines, uint64_t bad_lines,
                         uint64_t bytes);

/* Write the file to path atomically (export_write_file) and release h.
 * Returns APR status with the path in err on failure. */
apr_status_t web_html_write(web_html_t *h, const char *path, apr_pool_t *pool, abbey_err_t *err);

#endif
