/* tz.c - time zones (see tz.h): names, fixed offsets, reading TZif files (RFC 8536) into a
 * table of transitions, and the lookups every time conversion and period boundary uses.
 *
 * A loaded zone is a sorted table of transitions (instant, offset from then on), the
 * offset before the first, and the POSIX rule of the file's footer for the times after
 * the last; the rule's own transitions are added to the table up to 2200 so that lookups
 * of any plausible time are one binary search. Each transition also keeps the highest
 * local reading before it (its floor), which holds the local clock of periods when the
 * clocks go back. The POSIX rules themselves are tz_posix.c. */
#include "tz_int.h"

#include <apr_file_io.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

static const tz_t utc_zone = {.name = "UTC"};

const tz_t *tz_utc(void)
{
    return &utc_zone;
}

const char *tz_name(const tz_t *tz)
{
    return tz->name;
}

int tz_fixed_offset(const tz_t *tz, int32_t *off)
{
    if (tz->n || (tz->has_rule && tz->rule.has_dst))
        return 0;
    *off = tz->has_rule ? tz->rule.std_off : tz->off0;
    return 1;
}

/* ---- lookups ------------------------------------------------------------ */

/* The span of tz holding t. */
static void span_at(const tz_t *tz, int64_t t, tz_span_t *sp)
{
    int lo = 0, hi = tz->n, i;
    if (tz->n == 0 && tz->has_rule) {
        tz_posix_span(&tz->rule, t, sp);
        return;
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    i = lo - 1;
    if (i < 0) {
        *sp = (tz_span_t){INT64_MIN, tz->n ? tz->at[0] : INT64_MAX, INT64_MIN, tz->off0};
    } else if (i < tz->n - 1 || !tz->has_rule) {
        *sp = (tz_span_t){tz->at[i], i + 1 < tz->n ? tz->at[i + 1] : INT64_MAX, tz->floor[i],
                          tz->off[i]};
    } else { /* after the last transition: the footer's rule */
        tz_posix_span(&tz->rule, t, sp);
        if (sp->start < tz->at[i])
            sp->start = tz->at[i];
        if (sp->floor < tz->floor[i])
            sp->floor = tz->floor[i];
    }
}

int32_t tz_offset_at(const tz_t *tz, int64_t utc)
{
    tz_span_t sp;
    span_at(tz, tz_clamp(utc), &sp);
    return sp.off;
}

int tz_local_to_utc(const tz_t *tz, int64_t local, int64_t *utc)
{
    tz_span_t sp;
    int64_t t, found = 0;
    int nfound = 0, have_prev = 0;
    int32_t prev = 0;

    local = tz_clamp(local);
    if (!tz->n && !tz->has_rule) { /* UTC and fixed offsets */
        *utc = local - tz->off0;
        return 0;
    }
    /* every answer u has |local - u| <= TZ_OFFSET_MAX: walk the spans over that window */
    for (t = local - TZ_OFFSET_MAX - 1;; t = sp.end) {
        int64_t u;
        span_at(tz, t, &sp);
        u = local - sp.off;
        if (u >= sp.start && u < sp.end) {
            if (!nfound++)
                found = u; /* the earliest: overlap policy */
        } else if (!nfound && have_prev && u < sp.start && local - prev >= sp.start) {
            *utc = local - prev; /* a gap: read with the offset before the change */
            return 1;
        }
        if (sp.end > local + TZ_OFFSET_MAX)
            break;
        prev = sp.off;
        have_prev = 1;
    }
    if (!nfound) /* not reached with offsets within TZ_OFFSET_MAX */
        found = local - tz_offset_at(tz, local);
    *utc = found;
    return nfound > 1 ? 2 : nfound ? 0 : 1;
}

int64_t tz_period(const tz_t *tz, int64_t utc, int64_t len)
{
    tz_span_t sp;
    int64_t local;
    utc = tz_clamp(utc);
    span_at(tz, utc, &sp);
    local = utc + sp.off;
    return tz_floor_div(local > sp.floor ? local : sp.floor, len);
}

int64_t tz_period_start(const tz_t *tz, int64_t n, int64_t len)
{
    tz_span_t sp;
    int64_t local = tz_clamp(n > TZ_T_LIMIT / len    ? TZ_T_LIMIT
                             : n < -TZ_T_LIMIT / len ? -TZ_T_LIMIT
                                                     : n * len);
    /* the first instant whose held local clock max(u + off, floor) reaches local */
    for (int64_t t = local - TZ_OFFSET_MAX - 1;; t = sp.end) {
        int64_t u;
        span_at(tz, t, &sp);
        u = sp.floor >= local ? t : local - sp.off > t ? local - sp.off : t;
        if (u < sp.end)
            return u;
    }
}

int tz_abbrev_offset(const tz_t *tz, const char *s, size_t len, int32_t *off)
{
    if ((len == 3 && (memcmp(s, "UTC", 3) == 0 || memcmp(s, "GMT", 3) == 0)) ||
        (len == 1 && *s == 'Z')) {
        *off = 0;
        return 0;
    }
    for (int i = 0; i < tz->nabbr; i++)
        if (strlen(tz->abbr[i].s) == len && memcmp(tz->abbr[i].s, s, len) == 0) {
            *off = tz->abbr[i].off;
            return 0;
        }
    return -1;
}

/* ---- building a zone ---------------------------------------------------- */

/* Add abbreviation s (NUL-terminated) meaning off, unless already known. */
static void abbr_add(tz_t *tz, const char *s, int32_t off)
{
    if (!*s || tz->nabbr == TZ_NABBR)
        return;
    for (int i = 0; i < tz->nabbr; i++)
        if (strcmp(tz->abbr[i].s, s) == 0)
            return;
    apr_cpystrn(tz->abbr[tz->nabbr].s, s, sizeof tz->abbr[0].s);
    tz->abbr[tz->nabbr++].off = off;
}

/* Append the footer rule's transitions after the table's last, up to
 * TZ_EXPAND_TO; at and off have room for max entries. */
static void expand_rule(tz_t *tz, int max)
{
    tz_span_t sp;
    int64_t t = tz->at[tz->n - 1];
    int32_t cur = tz->off[tz->n - 1];
    if (!tz->rule.has_dst)
        return;
    while (tz->n < max) {
        tz_posix_span(&tz->rule, t, &sp);
        if (sp.end == INT64_MAX || sp.end >= TZ_EXPAND_TO)
            break;
        t = sp.end;
        tz_posix_span(&tz->rule, t, &sp);
        if (sp.off != cur) {
            tz->at[tz->n] = t;
            tz->off[tz->n++] = cur = sp.off;
        }
    }
}

/* floor[i]: the highest local reading before at[i]. */
static void set_floors(tz_t *tz)
{
    int64_t hi = INT64_MIN;
    for (int i = 0; i < tz->n; i++) {
        int64_t before = tz->at[i] - 1 + (i ? tz->off[i - 1] : tz->off0);
        if (before > hi)
            hi = before;
        tz->floor[i] = hi;
    }
}

/* ---- TZif --------------------------------------------------------------- */

typedef struct rd_t {
    const unsigned char *p, *e;
} rd_t;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* A TZif header's counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt. */
typedef struct hdr_t {
    char version;
    uint32_t isut, isstd, leap, time, type, chars;
} hdr_t;

static const char *read_hdr(rd_t *r, hdr_t *h)
{
    if (r->e - r->p < 44 || memcmp(r->p, "TZif", 4) != 0)
        return "it is not a TZif file (no \"TZif\" header)";
    h->version = (char)r->p[4];
    if (h->version != 0 && (h->version < '2' || h->version > '4'))
        return "unknown TZif version";
    h->isut = be32(r->p + 20);
    h->isstd = be32(r->p + 24);
    h->leap = be32(r->p + 28);
    h->time = be32(r->p + 32);
    h->type = be32(r->p + 36);
    h->chars = be32(r->p + 40);
    r->p += 44;
    return NULL;
}

/* Bytes of the data block after a header, for times of w bytes. */
static uint64_t block_len(const hdr_t *h, int w)
{
    return (uint64_t)h->time * (uint64_t)(w + 1) + (uint64_t)h->type * 6 + h->chars +
           (uint64_t)h->leap * (uint64_t)(w + 4) + h->isstd + h->isut;
}

/* Where a data block keeps its types and abbreviations. */
typedef struct blk_t {
    const unsigned char *idx, *types, *chars;
} blk_t;

/* The data block at r (times of w bytes) into tz, whose at and off have room
 * for its transitions. */
static const char *read_block(rd_t *r, const hdr_t *h, int w, tz_t *tz, blk_t *b)
{
    const unsigned char *times = r->p;
    b->idx = times + (size_t)h->time * (size_t)w;
    b->types = b->idx + h->time;
    b->chars = b->types + (size_t)h->type * 6;
    if (h->type == 0 || h->type > 256 || h->chars == 0)
        return "it has no local time types";
    if (h->leap)
        return "it counts leap seconds (a \"right/\" zone); name the zone without them";
    if ((h->isstd && h->isstd != h->type) || (h->isut && h->isut != h->type))
        return "its counts disagree";
    if (block_len(h, w) > (uint64_t)(r->e - r->p))
        return "it is truncated";
    if (b->chars[h->chars - 1] != '\0')
        return "its abbreviations are not terminated";
    for (uint32_t k = 0; k < h->type; k++) {
        int32_t off = (int32_t)be32(b->types + k * 6);
        if (off < -TZ_OFFSET_MAX || off > TZ_OFFSET_MAX || b->types[k * 6 + 5] >= h->chars)
            return "a local time type is out of range";
    }
    tz->off0 = (int32_t)be32(b->types);
    for (uint32_t i = 0; i < h->time; i++) {
        int64_t at = w == 8 ? be64(times + (size_t)i * 8) : (int32_t)be32(times + (size_t)i * 4);
        if (b->idx[i] >= h->type)
            return "a transition names a local time type that does not exist";
        if (i && at <= tz->at[i - 1])
            return "its transitions are not in order";
        if (at < -TZ_T_LIMIT || at > TZ_T_LIMIT)
            return "a transition is out of range";
        tz->at[i] = at;
        tz->off[i] = (int32_t)be32(b->types + b->idx[i] * 6);
    }
    tz->n = (int)h->time;
    r->p += block_len(h, w);
    return NULL;
}

/* The footer "\n" POSIX-TZ "\n" at r into tz->rule (an empty one: none). */
static const char *read_footer(rd_t *r, tz_t *tz)
{
    const unsigned char *nl;
    if (r->p == r->e || *r->p != '\n' || !(nl = memchr(r->p + 1, '\n', (size_t)(r->e - r->p - 1))))
        return "its footer is missing";
    if (nl == r->p + 1)
        return NULL;
    if (tz_posix_parse((const char *)r->p + 1, (size_t)(nl - r->p - 1), &tz->rule) != 0)
        return "its footer is not a POSIX TZ string";
    tz->has_rule = 1;
    return NULL;
}

/* The abbreviations, newest meaning first: the rule's, then those of the
 * transitions from the last back, then the first type's. */
static void set_abbrs(tz_t *tz, const blk_t *b, int ntrans)
{
    if (tz->has_rule && tz->rule.has_dst)
        abbr_add(tz, tz->rule.dst_name, tz->rule.dst_off);
    if (tz->has_rule)
        abbr_add(tz, tz->rule.std_name, tz->rule.std_off);
    for (int i = ntrans - 1; i >= -1; i--) {
        const unsigned char *ty = b->types + (i >= 0 ? b->idx[i] : 0) * 6;
        abbr_add(tz, (const char *)b->chars + ty[5], (int32_t)be32(ty));
    }
}

apr_status_t tz_parse(const char *name, const unsigned char *data, size_t len, apr_pool_t *pool,
                      const tz_t **out, abbey_err_t *err)
{
    rd_t r = {data, data + len};
    hdr_t h;
    blk_t b;
    tz_t *tz = apr_pcalloc(pool, sizeof *tz);
    const char *why = read_hdr(&r, &h);
    int w = 4, max = 0;

    if (!why && h.version) { /* skip the 32-bit block: the 64-bit one follows */
        if (block_len(&h, 4) > (uint64_t)(r.e - r.p))
            why = "it is truncated";
        else {
            r.p += block_len(&h, 4);
            why = read_hdr(&r, &h);
            w = 8;
        }
    }
    if (!why && (uint64_t)h.time * (uint64_t)(w + 1) > (uint64_t)(r.e - r.p))
        why = "it is truncated";
    else if (!why && h.time > TZ_FILE_MAX)
        why = "it has too many transitions";
    if (!why) { /* room for the rule's transitions up to TZ_EXPAND_TO too */
        max = (int)h.time + 2 * (int)(TZ_EXPAND_TO / 31556952 + 2);
        tz->at = apr_palloc(pool, sizeof *tz->at * (size_t)max);
        tz->off = apr_palloc(pool, sizeof *tz->off * (size_t)max);
        why = read_block(&r, &h, w, tz, &b);
    }
    if (!why && w == 8)
        why = read_footer(&r, tz);
    if (why) {
        abbey_err_set(err, "time zone \"%s\": %s", name, why);
        return APR_EINVAL;
    }
    set_abbrs(tz, &b, tz->n);
    if (tz->has_rule && tz->n)
        expand_rule(tz, max);
    tz->floor = apr_palloc(pool, sizeof *tz->floor * (size_t)(tz->n ? tz->n : 1));
    set_floors(tz);
    tz->name = apr_pstrdup(pool, name);
    *out = tz;
    return APR_SUCCESS;
}

/* ---- names -------------------------------------------------------------- */

#define TZ_EXAMPLES                                                                                \
    "expected UTC, an offset such as +08:00 or -05:30, or a zone name such as Europe/Berlin"

/* "+hh", "+hhmm", "+hh:mm" (or '-'), at most 14:00: 0 and *off, or -1. */
static int parse_fixed(const char *s, int32_t *off)
{
    size_t n = strlen(s);
    int hh, mm = 0;
    if ((s[0] != '+' && s[0] != '-') || (n != 3 && n != 5 && n != 6))
        return -1;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && !(n == 6 && i == 3 && s[i] == ':'))
            return -1;
    if (n == 6 && s[3] != ':')
        return -1;
    hh = (s[1] - '0') * 10 + (s[2] - '0');
    if (n > 3)
        mm = (s[n - 2] - '0') * 10 + (s[n - 1] - '0');
    if (mm > 59 || hh * 60 + mm > 14 * 60)
        return -1;
    *off = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return 0;
}

/* An IANA name: [A-Za-z0-9_+-] components joined by '/', none empty, "." or "..",
 * none starting with '-'. */
static int good_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '/' || s[n - 1] == '/')
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '+' || c == '-' || c == '/';
        if (!ok || (c == '/' && p[1] == '/') || (c == '-' && (p == s || p[-1] == '/')))
            return 0;
    }
    return 1;
}

apr_status_t tz_load(const char *name, apr_pool_t *pool, const tz_t **out, abbey_err_t *err)
{
    const char *dir = getenv("TZDIR"), *path;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    unsigned char *data;
    apr_size_t got = 0;
    int32_t off;
    char msg[120];

    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (strcmp(name, "UTC") == 0) {
        *out = tz_utc();
        return APR_SUCCESS;
    }
    if (parse_fixed(name, &off) == 0) {
        tz_t *tz = apr_pcalloc(pool, sizeof *tz);
        int a = off < 0 ? -off : off;
        tz->off0 = off;
        tz->name =
            off ? apr_psprintf(pool, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60)
                : "UTC";
        *out = tz;
        return APR_SUCCESS;
    }
    if (name[0] == '+' || name[0] == '-') {
        abbey_err_set(err,
                      "bad time zone \"%.60s\": an offset is +hh:mm, +hhmm or +hh (or -), "
                      "at most 14:00, such as +08:00 or -05:30",
                      name);
        return APR_EINVAL;
    }
    if (!good_name(name)) {
        abbey_err_set(err,
                      "bad time zone \"%.60s\": a zone name is made of A-Z a-z 0-9 _ + - and '/' "
                      "between parts (no \"..\", not absolute); " TZ_EXAMPLES,
                      name);
        return APR_EINVAL;
    }
    path = apr_pstrcat(pool, dir, "/", name, NULL);
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        abbey_err_set(err, "unknown time zone \"%.60s\": %s (%s); " TZ_EXAMPLES, name,
                      APR_STATUS_IS_ENOENT(rv) ? "no such zone" : "cannot open",
                      APR_STATUS_IS_ENOENT(rv) ? path : apr_strerror(rv, msg, sizeof msg));
        return APR_STATUS_IS_ENOENT(rv) ? APR_EINVAL : rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        abbey_err_set(err, "time zone \"%.60s\" is %s, not a zone; " TZ_EXAMPLES, name,
                      fi.filetype == APR_DIR ? "a directory of zones" : "not a regular file");
        rv = APR_EINVAL;
    } else if (rv == APR_SUCCESS && fi.size > (apr_off_t)TZ_FILE_MAX) {
        abbey_err_set(err, "time zone \"%.60s\": %s is too large for a zone file", name, path);
        rv = APR_EINVAL;
    } else if (rv == APR_SUCCESS) {
        data = apr_palloc(pool, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, data, (apr_size_t)fi.size, &got);
        if (rv == APR_EOF)
            rv = APR_SUCCESS;
        if (rv == APR_SUCCESS)
            rv = tz_parse(name, data, got, pool, out, err);
        else
            abbey_err_set(err, "time zone \"%.60s\": cannot read %s: %s", name, path,
                          apr_strerror(rv, msg, sizeof msg));
    } else {
        abbey_err_set(err, "time zone \"%.60s\": cannot read %s: %s", name, path,
                      apr_strerror(rv, msg, sizeof msg));
    }
    apr_file_close(f);
    return rv;
}
