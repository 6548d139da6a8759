/* dashboard.h - the dashboard's description of what a master shows (GET /v1/dashboard).
 *
 * The page (master/web/) asks for this first: the masters, and per job its
 * time zone, round, and reports with their columns, each report with the
 * master that owns it and the view it is drawn as; then the reports
 * themselves (GET /v1/reports/{job}/{report}?format=json). The one-file
 * report (web_html.c) carries the same description inline. */
#ifndef ABBEY_DASHBOARD_H
#define ABBEY_DASHBOARD_H

#include "merger.h"
#include "rules.h"

struct json_t;

/* A new JSON object (the caller releases it):
 *   {"master": self, "role": "primary"|"secondary"|"standalone", "config": hash,
 *    "masters": [{"name","url"}],
 *    "jobs": [{"name","timezone","tz_offset_s" (fixed zones only),"round_ms","reset",
 *              "fresh": merger_freshness_json (null without a merger),
 *              "reports": [{"name","entry","scope","format","owner","owned",
 *                           "view": "totals"|"timeseries"|"top"|"table",
 *                           "order" (column name or null),"desc","limit",
 *                           "columns": [{"name","key","type": "time"|"number"|"text"|
 *                                        "bool"|"any","agg" (values only; "error"
 *                                        for a top entry's error column, with "of":
 *                                        the column it bounds),"pct"}]}]}]}
 * self NULL (standalone): every report is owned here. m may be NULL (no
 * freshness). Views: no key columns: totals (big figures); one key of type
 * time (time_bucket): timeseries; an order and a limit: top (bars); else table.
 * cfg is read only; thread-safe when cfg is not being freed. */
struct json_t *dashboard_describe(const rules_config_t *cfg, const char *self, const char *role,
                                  merger_t *m);

#endif
