/* web_html.c - the one-file HTML report (see web_html.h): the data
 * {"describe", "reports": {"<job>/<report>": report JSON}, "generated_ms"},
 * the reports as export_render wrote them (never parsed again, so each figure
 * is the same text as in the exported files), then one web_page with it inline. */
#include "web_html.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard.h"
#include "export.h"
#include "jsonio.h"
#include "web_page.h"

struct web_html_t {
    json_t *describe;
    buf_t reports; /* "key":{...},... */
};

web_html_t *web_html_begin(const rules_config_t *cfg, apr_pool_t *pool)
{
    web_html_t *h = apr_pcalloc(pool, sizeof *h);
    h->describe = dashboard_describe(cfg, NULL, "standalone", NULL);
    buf_init(&h->reports);
    return h;
}

void web_html_add_report(web_html_t *h, const rules_job_t *job, const rules_report_t *r,
                         const ptable_t *t, apr_pool_t *pool)
{
    rules_report_t shown = *r;
    json_t *key = json_string(apr_pstrcat(pool, job->name, "/", r->name, NULL));
    char *k = key ? json_dumps(key, JSON_ENCODE_ANY) : NULL;

    json_decref(key);
    if (!k)
        return; /* names from the rules are UTF-8: not reached */
    if (h->reports.len)
        buf_put_u8(&h->reports, ',');
    buf_printf(&h->reports, "%s:", k);
    free(k);
    shown.format = RULES_REPORT_JSON;
    export_render(job, &shown, t, &h->reports, pool);
}

void web_html_job_counts(web_html_t *h, const char *job, uint64_t lines, uint64_t bad_lines,
                         uint64_t bytes)
{
    json_t *jobs = json_object_get(h->describe, "jobs");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *j = json_array_get(jobs, i);
        if (strcmp(json_string_value(json_object_get(j, "name")), job) == 0)
            json_object_set_new(j, "fresh",
                                json_pack("{s:o, s:o, s:o, s:n, s:n}", "lines", jsonio_u64(lines),
                                          "bad_lines", jsonio_u64(bad_lines), "bytes",
                                          jsonio_u64(bytes), "round", "period"));
    }
}

apr_status_t web_html_write(web_html_t *h, const char *path, apr_pool_t *pool, abbey_err_t *err)
{
    char *describe = json_dumps(h->describe, JSON_COMPACT);
    apr_status_t rv;
    buf_t data, page;

    json_decref(h->describe);
    h->describe = NULL;
    if (!describe) {
        buf_free(&h->reports);
        abbey_err_set(err, "%s: the report's data could not be encoded", path);
        return APR_ENOMEM;
    }
    buf_init(&data);
    buf_init(&page);
    buf_printf(&data, "{\"describe\":%s,\"generated_ms\":%lld,\"reports\":{", describe,
               (long long)(apr_time_now() / 1000));
    if (h->reports.len)
        buf_put(&data, h->reports.data, h->reports.len);
    buf_put(&data, "}}", 2);
    free(describe);
    buf_free(&h->reports);
    web_page(&page, (const char *)data.data, data.len);
    buf_free(&data);
    rv = export_write_file(path, page.data, page.len, pool, err);
    buf_free(&page);
    return rv;
}
