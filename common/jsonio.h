/* jsonio.h - JSON helpers shared by masters and slaves (jansson underneath).
 *
 * Writing. JSON integers are int64 here (jansson's json_int_t), so a uint64
 * goes through jsonio_u64: an integer up to INT64_MAX, its decimal string
 * above; jsonio_u64_value reads either form back, so no value is lost.
 * jsonio_push / jsonio_put add a value to an array / object and remember a
 * NULL value (json_string refused a string that is not UTF-8, a json_pack
 * failed) in *bad instead of losing it quietly. jsonio_dump_buf appends
 * compact JSON to a buf_t.
 *
 * Reading. jsonio_parse_object parses a document that must be an object.
 * A field reader (jsonio_rd_t) keeps the first problem it meets, with where
 * it was: each jsonio_get_* returns o[key] as its type; when the field is
 * missing, of another type or out of its bounds it returns 0 / NULL / -1
 * (as its line says) and records "<where>: field '<key>' <what>" ("field
 * '<key>' <what>" while where is empty) unless a problem is recorded already.
 * So a caller reads every field it needs and tests r->failed once; the
 * message names the first bad field. "Absent" means the key is not in the
 * object (a null value is present and of the wrong type). The checkpoint and
 * journal readers of the merger and the scheduler, the scheduler's request
 * bodies (answered 400 with the message) and the slave's lease answers all
 * read through it.
 *
 * Thread-safe: no shared state (a reader belongs to its caller). */
#ifndef ABBEY_JSONIO_H
#define ABBEY_JSONIO_H

#include <apr_pools.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* ---- writing ---- */

/* v as JSON without loss: an integer up to INT64_MAX, a decimal string above.
 * A new reference (NULL only when jansson cannot allocate). */
json_t *jsonio_u64(uint64_t v);

/* Append v to array a / set o[key] = v, taking v's reference; a NULL v, or a
 * failure to add it, sets *bad (v is released). */
void jsonio_push(json_t *a, json_t *v, int *bad);
void jsonio_put(json_t *o, const char *key, json_t *v, int *bad);

/* Append root's compact JSON to out. 0, or -1 when root is NULL or cannot be
 * encoded (out may then hold part of it). root is not released. */
int jsonio_dump_buf(const json_t *root, buf_t *out);

/* ---- reading ---- */

/* v read back as jsonio_u64 wrote it (an integer >= 0, or a string of decimal
 * digits up to UINT64_MAX): 0 with *out set, or -1 for anything else. */
int jsonio_u64_value(const json_t *v, uint64_t *out);

/* data (len bytes, NUL not needed) as a JSON object: a new reference, or NULL
 * with err "malformed JSON at line L, column C: <reason>" or "not a JSON
 * object". */
json_t *jsonio_parse_object(const void *data, size_t len, abbey_err_t *err);

typedef struct jsonio_rd_t {
    abbey_err_t err; /* the first problem: "<where>: field '<key>' <what>" */
    char where[256]; /* e.g. "checkpoint merger-7.ckpt: job 'web'"; "" for none */
    int failed;      /* a problem is recorded */
} jsonio_rd_t;

/* An empty reader: no problem, where "". */
void jsonio_rd_init(jsonio_rd_t *r);

/* Set where (printf format, cut to its size) for the fields read next. */
void jsonio_where(jsonio_rd_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record "<where>: field '<key>' <what>" (what: printf format) unless a
 * problem is recorded already; r->failed is set either way. */
void jsonio_fail(jsonio_rd_t *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The getters. On a problem they record it and return what their line says. */

/* Required integer; 0 on a problem. */
int64_t jsonio_get_i64(jsonio_rd_t *r, const json_t *o, const char *key);

/* Integer >= min ("must be an integer >= <min>"); -1 when absent and not
 * required (so callers with min >= 0 can tell), and on a problem. */
int64_t jsonio_get_int(jsonio_rd_t *r, const json_t *o, const char *key, int required, int64_t min);

/* Required uint64 in jsonio_u64's forms; 0 on a problem. */
uint64_t jsonio_get_u64(jsonio_rd_t *r, const json_t *o, const char *key);

/* The same for a value v that is not an object's field (an array item):
 * key names it in the message. */
uint64_t jsonio_item_u64(jsonio_rd_t *r, const json_t *v, const char *key);

/* Boolean: 1 or 0 (0 on a problem); -1 when absent and not required. */
int jsonio_get_bool(jsonio_rd_t *r, const json_t *o, const char *key, int required);

/* String of at most max bytes (SIZE_MAX: any) without a NUL inside, pointing
 * into o; NULL when absent and not required, and on a problem. */
const char *jsonio_get_str(jsonio_rd_t *r, const json_t *o, const char *key, int required,
                           size_t max);

/* Required array / object (borrowed); NULL on a problem. jsonio_get_obj with
 * required 0 also returns NULL, without a problem, when the key is absent. */
json_t *jsonio_get_arr(jsonio_rd_t *r, const json_t *o, const char *key);
json_t *jsonio_get_obj(jsonio_rd_t *r, const json_t *o, const char *key, int required);

/* Array of at most maxn strings, each non-empty, at most maxlen bytes and
 * without a NUL: *out gets them (an array in pool, strings pointing into o)
 * and the count is returned; -1 with *out NULL when absent and not required,
 * and on a problem. */
int jsonio_get_strs(jsonio_rd_t *r, const json_t *o, const char *key, int required, size_t maxlen,
                    size_t maxn, apr_pool_t *pool, const char ***out);

#endif
