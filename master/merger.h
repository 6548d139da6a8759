/* merger.h - what every master runs: merge frames exactly once, keep totals, export reports.
 *
 * A merger takes the frames slaves send (POST /v1/partials), applies the
 * exactly-once rule by byte ranges per (job, source instance) (ranges.h), and
 * keeps, per job, the running totals of each period and a partial per round.
 * It exports the reports of the rule groups this master owns
 * (rules_group_t.master == this master's index in cfg->masters) when the
 * primary has closed a round and the merged ranges cover it, or when the
 * round's deadline has passed (docs/CLUSTER.md, "Rounds" and "Masters").
 *
 * Rounds are absolute: round r of a job covers processing time
 * [r * round_ms, (r + 1) * round_ms) (round_ms = job->round / 1000); a
 * frame's header.round is that r. Round r belongs to the period of its first
 * second on the job's local clock: the local hour (reset: hour) or day (reset:
 * day) in the job's timezone, tz_period (tz.h), so a day of Europe/Berlin
 * starts at local midnight and lasts 23 or 25 hours when the clocks change, and
 * an hour of Asia/Kolkata starts at :30 UTC; with reset: never every round is
 * in one period.
 *
 * Files, under EXPORT_DIR/<job>/ (extension from the report's format):
 *   <report>.<ext>                    latest: period scope = the running
 *                                     totals of the newest exported round's
 *                                     period; round scope = the newest
 *                                     exported round
 *   history/<STAMP>/<report>.<ext>    each exported round (period scope: the
 *                                     totals as of that export)
 *   history/<STAMP>/INCOMPLETE        while that round's export lacks data:
 *                                     one line per missing range
 *                                     "<source> <start> <end>", or a line
 *                                     saying why; removed by the amendment
 *   period/<STAMP>/<report>.<ext>     the final period-scope reports of a
 *                                     period, written once a later period's
 *                                     round is exported, again if late data
 *                                     amends it
 * STAMP is the UTC start of the round or period, 20251121T104500Z (with
 * milliseconds, 20251121T104500.250Z, when the start is not a whole second).
 *
 * Retention: round partials are kept for the last MERGER_KEEP_ROUNDS rounds
 * of each job (the oldest is dropped first, exported beforehand if it never
 * was); period totals for the last MERGER_KEEP_PERIODS periods. A frame for
 * a round no longer kept still merges into its period's totals (late); one
 * whose period is no longer kept is acknowledged, its range recorded, and it
 * is counted as expired (status/metrics) and logged: never silently dropped.
 *
 * Thread-safe: every function takes the merger's state lock (one mutex);
 * frame payloads are inflated and decoded outside it, and export files are
 * written outside it (merger_tick renders under the lock, then writes under
 * a second lock that only serializes exports). */
#ifndef ABBEY_MERGER_H
#define ABBEY_MERGER_H

#include <apr_pools.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "frame.h"
#include "httpd.h"
#include "rules.h"

#define MERGER_KEEP_ROUNDS 64       /* round partials kept per job */
#define MERGER_KEEP_PERIODS 3       /* period totals kept per job (current + 2 before) */
#define MERGER_MAX_BODY (64u << 20) /* POST /v1/partials body limit (--max-body changes it) */
#define MERGER_MAX_CONFLICT 64
#define MERGER_CLASH_HELD 8   /* a clashing range's held ranges named in a conflict */
#define MERGER_AHEAD_MS 60000 /* a frame's round may start this far past the current round */
#define MERGER_AHEAD_ROUNDS 2 /* ... and at least this many rounds past it */

typedef struct merger_t merger_t;

/* A merger for master self (a name in cfg->masters) writing under
 * export_dir; cfg must outlive it. Memory comes from a subpool of pool and
 * is released with pool (the merger must be idle by then). Returns NULL when
 * self is not one of cfg's masters. merger_set_config adopts a reloaded config. */
merger_t *merger_create(const rules_config_t *cfg, const char *self, const char *export_dir,
                        apr_pool_t *pool);

typedef enum merge_result_t {
    MERGE_MERGED,      /* new range: merged and recorded */
    MERGE_DUPLICATE,   /* range already covered: acknowledged, not merged again */
    MERGE_CONFLICT,    /* range overlaps what this master has: see conflict */
    MERGE_REJECTED,    /* the frame is refused: reason in err */
    MERGE_UNAVAILABLE, /* the journal could not take it (disk full, failed store), or
                          its job is over the memory budget (merger_set_budget):
                          nothing merged, reason in err; HTTP 503, the sender retries */
    MERGE_EXPIRED      /* new range, but its round's period is no longer kept: the range is
                          recorded (never merged later), counted as expired, in no report;
                          HTTP 200 {"result":"expired"} */
} merge_result_t;

/* One range of a frame of several that this master holds bytes of already. */
typedef struct merger_clash_t {
    char source[FRAME_SOURCE_MAX];
    uint64_t start, end; /* the frame's range */
    size_t n;
    uint64_t held[MERGER_CLASH_HELD][2]; /* this master's ranges of the source overlapping it
                                            (whole), ascending; the first 8 */
} merger_clash_t;

typedef struct merger_conflict_t {
    size_t n;
    uint64_t ranges[MERGER_MAX_CONFLICT][2]; /* a frame of one range: this master's ranges
                                                [a, b) of the source that overlap it (whole,
                                                not clipped), ascending; at most 64 */
    size_t nclash; /* a frame of several ranges (n is then 0): its ranges this master
                      holds bytes of, in the frame's order */
    merger_clash_t clash[FRAME_MAX_RANGES];
} merger_conflict_t;

/* Accept one frame (the body of POST /v1/partials: exactly one frame, len
 * bytes). A frame of several ranges (frame.h) is one whole: MERGE_MERGED when
 * none of its ranges has a byte merged, MERGE_DUPLICATE when every one is
 * merged wholly, else MERGE_CONFLICT naming the ranges that clash (nothing of
 * it merged). A new range of a job over the memory budget is MERGE_UNAVAILABLE
 * before it is decoded (merger_set_budget). MERGE_REJECTED with the reason in err for: a corrupt or
 * truncated frame (frame_peek / frame_decode's reason), a record frame (a state record, not a
 * partial), bytes after the frame, an unknown job, a frame addressed to another master
 * (header.master != self), an empty or inverted range, a round beyond merger_round_limit (a round
 * the primary has not started: it would push out the periods being counted), or rows for a rule
 * group this master does not own. The frame is checked (frame_peek) before its range; the payload
 * is decoded only for a new range. conflict (may be NULL) is filled for MERGE_CONFLICT. A merged
 * frame whose round was already exported is counted as late and amends that round's export and its
 * period's at the next merger_tick. */
merge_result_t merger_accept(merger_t *m, const uint8_t *frame, size_t len,
                             merger_conflict_t *conflict, abbey_err_t *err);

/* Text of a result: "merged", "duplicate", "expired", "conflict", "rejected", "unavailable". */
const char *merger_result_name(merge_result_t r);

typedef struct merger_range_t {
    const char *source; /* the frame's source id: "<path or url>#<instance>" */
    uint64_t start, end;
} merger_range_t;

typedef struct merger_round_t {
    uint64_t round;
    int64_t start_ms;    /* informational; the merger uses round * round_ms */
    int64_t deadline_ms; /* export regardless of coverage once now_ms >= this */
    int incomplete;      /* the primary closed it at its deadline without every task */
    size_t nranges;
    const merger_range_t *ranges; /* ranges completed in the round (empty ones are ignored) */
} merger_round_t;

/* The primary has closed round r->round of job (r is copied). Repeats of a
 * round already known closed, rounds no longer kept and unknown jobs are
 * ignored. Frames may arrive before or after this call. */
void merger_round_closed(merger_t *m, const char *job, const merger_round_t *r);

/* Export what is due at now_ms, in round order per job: closed rounds whose
 * ranges are all merged; closed rounds past their deadline (exported with an
 * INCOMPLETE marker; exported again, amended, when the missing ranges
 * arrive); rounds amended by late frames; dropped rounds that were never
 * exported; final period reports once a later period's round is exported
 * (again when late data changes them). Returns the number of exports
 * written: one per round export and one per final period export that wrote
 * files (a job with no report owned here still has its rounds marked
 * exported, with no files and no count). A file that cannot be written is
 * logged and counted in status as export_errors. */
int merger_tick(merger_t *m, int64_t now_ms);

/* The primary has started rounds of job up to round (the newest it leases
 * for): on the primary from its scheduler, on a secondary from each
 * GET /v1/rounds answer. Lower values than one seen before are ignored. */
void merger_set_current_round(merger_t *m, const char *job, uint64_t round);

/* The newest round of job a frame may be for, when its header is checked:
 * the later of the primary's current round (merger_set_current_round) and
 * the round of the last merger_tick's clock, plus MERGER_AHEAD_MS (clock
 * skew between hosts, a secondary's poll lag), at least MERGER_AHEAD_ROUNDS
 * rounds. When neither is known yet, the last round starting before year
 * 10000; 0 for an unknown job. */
uint64_t merger_round_limit(merger_t *m, const char *job);

/* The highest round of job that merger_round_closed has seen (0 when none or
 * an unknown job): the `after` of the next GET /v1/rounds poll. */
uint64_t merger_last_closed_round(merger_t *m, const char *job);

/* The report job/report rendered now from the current state, into out (not
 * reset first), in format "csv", "json" or NULL (the report's own):
 * period scope from the totals of the newest period this master has data
 * for, round scope from the newest exported round still kept (no rows when
 * none). Returns 200; 404 when the job or report is unknown or its group is
 * not owned by this master; 400 for another format. On an error out gets a
 * one-line reason (plain text). */
int merger_report(merger_t *m, const char *job, const char *report, const char *format, buf_t *out);

/* Append a JSON object to out:
 *   {"master", "partials":{"merged","duplicate","conflict","rejected","late","expired",
 *    "unavailable"} (a count above INT64_MAX is its decimal string),
 *    "frame_bytes":{"received","accepted"} (bodies of POST /v1/partials; accepted:
 *    merged or duplicate), "combined":{"frames","ranges"} (frames of several ranges
 *    merged, and their ranges), "export_errors",
 *    "jobs":[{"name","round_ms",
 *             "counting_since_ms" (wall clock, ms since the epoch, when the job's current
 *             structure started counting: merger creation, the job's arrival in a
 *             reloaded config, or its last structural change, merger_set_config),
 *             "last_closed_round","last_exported_round" (null: none),
 *             "period_reports_stale" (the totals changed since the period-scope files were
 *             last written: see merger_set_period_interval),
 *             "rounds_exported","rounds_amended","rounds_incomplete",
 *             "pending_rounds":[r...] (closed, not yet exported),
 *             "partials":{...as above}, "lines","bad_lines",
 *             "bad_lines_by_reason":{"quote":n,...} (the reasons not 0, partial.h's names;
 *             "unknown": counted by frames that gave no reason), "bytes","regex_limit_hits",
 *             "sources",
 *             "entries":[{"name","max_keys","keys","bytes","folded_lines","folded_keys"}]
 *             (the owned entries, merger_entry_memory in merger_int.h: keys and what folded
 *             in the newest period's totals, approximate bytes of all the entry's tables;
 *             "max_keys" of a top entry is its capacity, rules_entry_max_rows),
 *             "memory":{"bytes" (every table of the job),"over_budget" (its new frames are
 *             refused),"since_ms" (when over_budget last changed; null: never),"refused"
 *             (frames refused over the budget, also counted unavailable)}}],
 *    "memory":{"limit","near","clear" (bytes; null without a budget),"allowance",
 *              "tables" (every job's),"accounted" (allowance + tables: what the budget
 *              counts),"rss" (resident, /proc/self/statm)}}
 * ("rejected" of a job counts frames refused after the job was known). */
void merger_status_json(merger_t *m, buf_t *out);

/* What the dashboard shows of job's figures (merger_dash.c), a new JSON object:
 *   {"round": {"round","start_ms","incomplete","missing"} (the newest exported round,
 *    whose figures round-scope reports show; null: none),
 *    "period": {"start_ms" (null with reset: never),"rounds_incomplete" (its kept
 *    rounds whose last export was incomplete)} (the newest period, whose running totals
 *    period-scope reports show; null: none),
 *    "rounds_incomplete","lines","bad_lines","counting_since_ms" (as in status)};
 * json null for an unknown job. Thread-safe. */
struct json_t *merger_freshness_json(merger_t *m, const char *job);

/* Append Prometheus text lines (each family with # HELP and # TYPE), labelled
 * master="<self>",job="<job>":
 * abbey_partials_total{...,result="merged|duplicate|conflict|rejected|unavailable|late|expired"}
 * (counter; frames of unknown jobs under job=""), abbey_lines_total,
 * abbey_bad_lines_total, abbey_bytes_total, abbey_regex_limit_hits_total (counters, merged
 * frames), abbey_bad_lines_reason_total{...,reason="quote"} (counter, per reason that
 * counted a line),
 * abbey_rounds_exported_total (counter), abbey_round_lag_seconds (gauge:
 * last merger_tick's now minus the end of the newest exported round); per owned entry
 * (label entry="<name>") the gauges abbey_entry_keys, abbey_entry_max_keys, abbey_entry_bytes,
 * abbey_entry_folded_lines, abbey_entry_folded_keys (the status's "entries");
 * abbey_memory_limit_bytes (gauge, only with a budget), abbey_memory_accounted_bytes,
 * abbey_memory_rss_bytes (gauges, label master), abbey_job_memory_bytes and
 * abbey_job_over_budget (gauges, 1 while refused), abbey_budget_refused_total (counter),
 * per job; then
 * the figures of each owned report with `metrics: true` as of its latest
 * export (export_prom; docs/RULES.md "Metrics"), in the rules' order. */
void merger_metrics(merger_t *m, buf_t *out);

/* Adopt cfg, a reloaded rules file (which outlives the merger: old configs are
 * never freed by the caller). Jobs are matched by name. A job whose structure
 * is unchanged keeps everything: ranges, period totals, round partials,
 * pending rounds, counters; only its pointers move to the new config.
 * Structure, compared on the compiled model (never the config hash): the
 * groups (name, weight, master) with their entries (name, key expression
 * texts and column names, where text, values: name, aggregate kind/pct/cap,
 * argument text, max_keys, top), in the same order; the reports (entry, columns, order,
 * limit, format, scope); and also the line format's fields (names, types),
 * the round length, reset and timezone.
 * A job whose structure changed: its period reports not yet final (or
 * changed since) are exported one last time, as at a period end, to
 * period/<start>/ (and rounds amended by late data are exported), then its
 * period totals and round partials restart empty under the new structure;
 * its byte ranges, counters and round bookkeeping (closed, exported,
 * pending) are kept, so data merged before is not merged again nor counted
 * under the new structure (status: counting_since_ms). If its round length,
 * reset or timezone changed, its kept rounds are exported (those not yet
 * exported that have data or were closed) and dropped too, and round
 * numbering starts afresh. A new job starts empty; a removed job has its
 * rounds and periods exported one last time and is dropped (gone from
 * status, metrics and reports). The exports are queued: the next
 * merger_tick writes them and counts them in its return. Frames decoded
 * under the old structure while the change happens are decoded again
 * against the new one (a frame whose groups/entries no longer match is
 * rejected by frame_decode, as always).
 * Returns 0 (also for cfg already adopted), or -1 with err (and the old
 * config kept, nothing changed) when cfg drops this master from masters or
 * places a rule group that exists in both configs (same job and group names)
 * on another master: moving groups needs a restart.
 * Thread-safe: takes the state lock for the whole change. */
int merger_set_config(merger_t *m, const rules_config_t *cfg, abbey_err_t *err);

/* A memory budget of limit bytes (0: none; common/budget.h) of which
 * allowance is what the process holds besides the tables. From then on the
 * jobs are stepped after every merge and tick (budget_job_step): a job over
 * budget gets MERGE_UNAVAILABLE for new ranges (HTTP 503 with the reason),
 * logged loudly once when it starts and once when it ends, shown in status
 * and metrics, and asks no gap repair; everything else goes on. Frames
 * replayed by merger_recover are always merged (they were acknowledged): a
 * job over budget after recovery refuses new frames. Call it before
 * merger_recover. Thread-safe. */
void merger_set_budget(merger_t *m, uint64_t limit, uint64_t allowance);

struct history_t;

/* Keep every export in the history database h too (export/history.h; NULL:
 * off): each round export's reports, and each final period export's, as one
 * batch queued with the export's files and written by merger_tick outside
 * the state lock. keep_ms: how long a job without `history: {keep:}` keeps
 * them. Call before the first merger_tick; h must outlive the merger's use
 * of it. Thread-safe. */
void merger_set_history(merger_t *m, struct history_t *h, int64_t keep_ms);

/* Register on httpd (before httpd_start):
 *   POST /v1/partials (body up to MERGER_MAX_BODY): 200 {"result":"merged"|"duplicate"|
 *     "expired"};
 *     409 {"result":"conflict","ranges":[[a,b],...]}; 400 {"error":"<reason>"};
 *     503 {"error":"<reason>"} (MERGE_UNAVAILABLE: the journal could not take it)
 *   GET /v1/reports/{job}/{report}[?format=csv|json]: 200 the report
 *     (text/csv or application/json); 404 / 400 {"error"}.
 *   GET /v1/history/{job}/{report}[?last=N]: 200 the last N (1 to
 *     HISTORY_LAST_MAX, default HISTORY_LAST_DEFAULT) rounds of an owned
 *     report from the history database (history_read's JSON); 400 for
 *     another N; 404 when history is off or the report is unknown or not
 *     owned; 500 when the database cannot be read. */
void merger_register(merger_t *m, httpd_t *httpd);

/* Render the period-scope reports (the running totals: the latest files and
 * the copies in history/<round>/) at most every ms milliseconds instead of at
 * every round export; 0 (the default) renders them every round. A round
 * whose export skipped them marks them stale; merger_tick renders stale ones
 * once the interval has passed, and merger_flush at once. Round-scope
 * reports, period ends and GET /v1/reports are not throttled. Thread-safe. */
void merger_set_period_interval(merger_t *m, int64_t ms);

/* Render and write every stale period report now (e.g. before exiting).
 * Returns the number of exports written. Thread-safe. */
int merger_flush(merger_t *m, int64_t now_ms);

/* ---- durability (merger_ckpt.c, merger_recover.c; docs/CLUSTER.md "Durability") ------- */

struct journal_t;

/* Recover the state from jn (journal.h, a fresh store, before any
 * merger_accept): the newest whole checkpoint restores, per job of the
 * current config, the source ranges, period totals, round partials, the
 * round bookkeeping (closed ranges, deadlines, exported / incomplete flags,
 * last closed and exported round) and the counters; then every journal frame
 * goes through merger_accept's own path (frames the checkpoint already holds
 * are duplicates by range: no special case). A checkpointed job missing from
 * the config is dropped (logged); one whose structure changed keeps its
 * ranges and counters and restarts its totals, as merger_set_config does
 * (logged). Logs one summary line: checkpoint seq, frames, bytes, journal
 * frames merged / duplicate / refused, damaged ranges, time. Call it before
 * merger_attach_journal. Returns APR status with err when jn cannot be read. */
apr_status_t merger_recover(merger_t *m, struct journal_t *jn, abbey_err_t *err);

/* From now on a frame merger_accept finds new is appended to jn before it is
 * merged (under the state lock, so the checkpoint cut is exact), and
 * merger_accept returns only once it is committed (journal_commit); a
 * duplicate or conflict answer also waits for the commit of the newest
 * journaled frame (the ranges it names may be that frame's, and a slave
 * re-sends only what a conflict says is missing). An append or commit
 * failure gives MERGE_UNAVAILABLE: for a failed append nothing is merged.
 * NULL detaches. */
void merger_attach_journal(merger_t *m, struct journal_t *jn);

/* Write a checkpoint of the whole state to jn: under the state lock,
 * journal_rotate and serialize (a record frame of metadata, then one frame
 * per kept period's totals and per kept round partial); outside it,
 * journal_checkpoint. Returns APR status with err (the journal keeps every
 * segment on failure). Thread-safe. */
apr_status_t merger_checkpoint(merger_t *m, struct journal_t *jn, abbey_err_t *err);

/* ---- gap repair (merger_gaps.c; docs/CLUSTER.md "Gap repair") ---------------------------- */

/* A range a closed round lists that this master has not merged. */
typedef struct merger_gap_t {
    const char *job;
    uint64_t round;
    const char *source; /* "<path or url>#<instance>" */
    uint64_t start, end;
} merger_gap_t;

/* Called for each gap (valid during the call only; under the state lock:
 * fn must not call merger_*). */
typedef void (*merger_gap_fn)(void *ctx, const merger_gap_t *g);

/* Find the gaps of every kept round that the primary closed with a deadline
 * at least after_ms before now_ms: the parts of its listed ranges this master
 * has no frame for. Each gap goes to fn, at most max of them (oldest rounds
 * first). Returns how many. Thread-safe. */
int merger_gaps(merger_t *m, int64_t now_ms, int64_t after_ms, int max, merger_gap_fn fn,
                void *ctx);

#endif
