/* format_time.c - times in log lines: the built-in forms (epoch seconds, milliseconds,
 * microseconds and nanoseconds told apart by their digits, ISO 8601 / RFC 3339, Apache
 * %t), the epoch forms a format may name, and `time_format`, a strptime-style pattern
 * compiled once into a list of items and matched by hand (no strptime: it depends on the
 * locale, is slow, and is not what a thread should call per line). A time written without
 * an offset is read in the format's zone (tz.h, by its gap and overlap policy). Every time
 * field of every kind comes here through format_convert; nothing allocates per line. */
#include "format_int.h"

#include <apr_time.h>
#include <stdio.h>

/* ---- epoch numbers ------------------------------------------------------- */

/* [p, e): [+-]digits[.digits] as epoch time, unit counts per second (0: by
 * the number of integer digits: up to 12 seconds, 13-15 milliseconds, 16-18
 * microseconds, 19 nanoseconds), into whole seconds, rounded down. */
static int scan_epoch(const char *p, const char *e, int64_t unit, int64_t *out)
{
    const char *s = p, *d0;
    int neg = 0, frac = 0;
    int64_t v;
    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    for (d0 = p; p < e && (unsigned)(*p - '0') <= 9; p++)
        ;
    ptrdiff_t nd = p - d0;
    if (!nd || format_scan_int(s, p, &v) != 0)
        return -1;
    if (p < e && *p == '.') {
        const char *f = ++p;
        for (; p < e && (unsigned)(*p - '0') <= 9; p++)
            frac |= *p != '0';
        if (p == f)
            return -1;
    }
    if (p != e)
        return -1;
    if (!unit)
        unit = nd <= 12 ? 1 : nd <= 15 ? 1000 : nd <= 18 ? 1000000 : 1000000000;
    if (neg && frac) { /* -1.5 is below -1: round down past it */
        if (v == INT64_MIN)
            return -1;
        v--;
    }
    *out = v / unit - (v % unit < 0);
    return 0;
}

/* ---- ISO 8601 ----------------------------------------------------------- */

int format_scan_iso_parts(const char *p, const char *e, int64_t *local, int32_t *off, int *has_off)
{
    if (e - p < 19 || p[4] != '-' || p[7] != '-' ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' || p[16] != ':')
        return -1;
    int y1 = format_2dig(p), y2 = format_2dig(p + 2), mo = format_2dig(p + 5),
        d = format_2dig(p + 8);
    int hh = format_2dig(p + 11), mm = format_2dig(p + 14), ss = format_2dig(p + 17);
    if ((y1 | y2 | mo | d | hh | mm | ss) < 0 || mo < 1 || mo > 12 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    if (format_civil_to_epoch(y1 * 100 + y2, (unsigned)mo, (unsigned)d, (unsigned)hh, (unsigned)mm,
                              (unsigned)ss, local) < 0)
        return -1;
    p += 19;
    if (p < e && (*p == '.' || *p == ',')) {
        const char *f = ++p;
        while (p < e && (unsigned)(*p - '0') <= 9)
            p++;
        if (p == f)
            return -1;
    }
    *has_off = 0;
    *off = 0;
    if (p < e && (*p == 'Z' || *p == 'z')) {
        p++;
        *has_off = 1;
    } else if (p < e && (*p == '+' || *p == '-')) {
        int neg = *p++ == '-', oh, om = 0;
        if (e - p < 2 || (oh = format_2dig(p)) < 0 || oh > 23)
            return -1;
        p += 2;
        if (p < e) {
            p += *p == ':';
            if (e - p < 2 || (om = format_2dig(p)) < 0 || om > 59)
                return -1;
            p += 2;
        }
        *off = (neg ? -1 : 1) * (oh * 3600 + om * 60);
        *has_off = 1;
    }
    return p == e ? 0 : -1;
}

int format_scan_iso_time(const char *p, const char *e, int64_t *out)
{
    int64_t local;
    int32_t off;
    int has_off;
    if (format_scan_iso_parts(p, e, &local, &off, &has_off) < 0)
        return -1;
    *out = local - off;
    return 0;
}

/* The built-in forms at [p, e); a time without an offset is read in tz. */
static int builtin_time(const tz_t *tz, const char *p, const char *e, int64_t *out)
{
    int64_t local;
    int32_t off;
    int has_off;
    if (e - p >= 2 && *p == '[' && e[-1] == ']')
        p++, e--;
    if (e - p == FORMAT_CLF_TIME_LEN && p[2] == '/')
        return format_clf_time(p, out);
    if (e - p >= 19 && p[4] == '-') {
        if (format_scan_iso_parts(p, e, &local, &off, &has_off) < 0)
            return -1;
        if (has_off)
            *out = local - off;
        else
            tz_local_to_utc(tz, local, out);
        return 0;
    }
    return scan_epoch(p, e, 0, out);
}

int format_scan_time(const char *p, const char *e, int64_t *out)
{
    return builtin_time(tz_utc(), p, e, out);
}

int format_local_to_utc(const format_t *f, int64_t local, int64_t *utc)
{
    if (local < -FORMAT_TIME_LIMIT || local > FORMAT_TIME_LIMIT)
        return -1;
    tz_local_to_utc(f->tz, local, utc);
    return 0;
}

/* ---- patterns: compiling ------------------------------------------------ */

enum {
    OP_LIT,    /* literal bytes */
    OP_SPACE,  /* one or more spaces or tabs */
    OP_YEAR,   /* %Y: 4 digits; %y: 2 digits, 69-99 -> 19xx, 00-68 -> 20xx */
    OP_MON,    /* %m */
    OP_MNAME,  /* %b %B %h: English month name, any case */
    OP_DAY,    /* %d %e */
    OP_YDAY,   /* %j */
    OP_HOUR,   /* %H %k */
    OP_HOUR12, /* %I %l */
    OP_MIN,    /* %M */
    OP_SEC,    /* %S: 0..60 */
    OP_FRAC,   /* %f: digits, dropped */
    OP_AMPM,   /* %p */
    OP_ZOFF,   /* %z: +hhmm (a time_format: also Z, +hh, +hh:mm) */
    OP_ZNAME,  /* %Z: an abbreviation of the format's zone ("CEST", "+0530"), or UTC/GMT/Z
                  (%{...}t: letters, or a sign and digits, skipped) */
    OP_WDAY,   /* %a %A: a weekday name, checked and ignored */
    OP_EPOCH   /* %s: epoch seconds */
};

/* What a directive sets, to refuse a pattern that sets a thing twice or
 * lacks a date. */
enum {
    GOT_YEAR = 1,
    GOT_MON = 2,
    GOT_DAY = 4,
    GOT_YDAY = 8,
    GOT_HOUR = 16,
    GOT_MIN = 32,
    GOT_SEC = 64,
    GOT_FRAC = 128,
    GOT_AMPM = 256,
    GOT_ZONE = 512,
    GOT_WDAY = 1024,
    GOT_EPOCH = 2048,
    GOT_H12 = 4096
};

#define TF_MAX_ITEMS 64
#define TF_MAX_LEN 256

typedef struct tf_item_t {
    uint8_t op;
    uint8_t pad;      /* %e %k %l: a space may stand for a leading zero */
    uint8_t width;    /* numbers: at most this many digits (FORMAT_TIME_STRFTIME: exactly);
                         names: 3 (%b %h %a), 0 the full name (%B %A) */
    uint16_t at, len; /* OP_LIT: lits[at .. at + len) */
} tf_item_t;

struct format_time_t {
    int64_t unit;     /* epoch forms: counts per second; 0: a pattern */
    uint8_t strftime; /* FORMAT_TIME_STRFTIME */
    uint8_t instant;  /* the pattern gives an instant (format_time_instant) */
    int n;
    unsigned got;
    tf_item_t it[TF_MAX_ITEMS];
    uint16_t nlits;
    char lits[TF_MAX_LEN];
};

static const struct {
    char c;
    uint8_t op, pad, width;
    unsigned got;
    const char *expand; /* a shorthand for other directives */
} directives[] = {
    {'Y', OP_YEAR, 0, 4, GOT_YEAR, NULL},
    {'y', OP_YEAR, 0, 2, GOT_YEAR, NULL},
    {'m', OP_MON, 0, 2, GOT_MON, NULL},
    {'b', OP_MNAME, 0, 3, GOT_MON, NULL},
    {'B', OP_MNAME, 0, 0, GOT_MON, NULL},
    {'h', OP_MNAME, 0, 3, GOT_MON, NULL},
    {'d', OP_DAY, 0, 2, GOT_DAY, NULL},
    {'e', OP_DAY, 1, 2, GOT_DAY, NULL},
    {'j', OP_YDAY, 0, 3, GOT_YDAY, NULL},
    {'H', OP_HOUR, 0, 2, GOT_HOUR, NULL},
    {'k', OP_HOUR, 1, 2, GOT_HOUR, NULL},
    {'I', OP_HOUR12, 0, 2, GOT_HOUR | GOT_H12, NULL},
    {'l', OP_HOUR12, 1, 2, GOT_HOUR | GOT_H12, NULL},
    {'M', OP_MIN, 0, 2, GOT_MIN, NULL},
    {'S', OP_SEC, 0, 2, GOT_SEC, NULL},
    {'f', OP_FRAC, 0, 0, GOT_FRAC, NULL},
    {'p', OP_AMPM, 0, 0, GOT_AMPM, NULL},
    {'z', OP_ZOFF, 0, 0, GOT_ZONE, NULL},
    {'Z', OP_ZNAME, 0, 0, GOT_ZONE, NULL},
    {'a', OP_WDAY, 0, 3, GOT_WDAY, NULL},
    {'A', OP_WDAY, 0, 0, GOT_WDAY, NULL},
    {'s', OP_EPOCH, 0, 0, GOT_EPOCH, NULL},
    {'n', OP_SPACE, 0, 0, 0, NULL},
    {'t', OP_SPACE, 0, 0, 0, NULL},
    {'T', 0, 0, 0, 0, "%H:%M:%S"},
    {'F', 0, 0, 0, 0, "%Y-%m-%d"},
    {'D', 0, 0, 0, 0, "%m/%d/%y"},
    {'R', 0, 0, 0, 0, "%H:%M"},
};

#define TF_DIRECTIVES                                                                              \
    "%Y %y %m %d %e %j %H %k %I %l %M %S %f %p %z %Z %b %B %h %a %A %s %T %F %D %R %n %t %%"

typedef struct tf_build_t {
    format_time_t *tf;
    const char *spec;
    long *at; /* out: the byte at fault */
    abbey_err_t *err;
} tf_build_t;

/* The message of every refusal: what is wrong, at byte `at` of the spec (-1: the whole). */
static apr_status_t tf_fail(tf_build_t *b, const char *what, long at)
{
    char where[32] = "";
    if (at >= 0)
        snprintf(where, sizeof where, " at byte %ld", at + 1);
    int shown = strlen(b->spec) < TF_MAX_LEN ? TF_MAX_LEN : 60;
    abbey_err_set(
        b->err, "%s \"%.*s\": %s%s; the directives are %s%s",
        b->tf->strftime ? "%{...}t" : "time_format", shown, b->spec, what, where, TF_DIRECTIVES,
        b->tf->strftime ? "" : ", or the whole format epoch, epoch_ms, epoch_us or epoch_ns");
    *b->at = at;
    return APR_EINVAL;
}

static apr_status_t tf_push(tf_build_t *b, uint8_t op, uint8_t pad, uint8_t width, size_t at)
{
    if (b->tf->n == TF_MAX_ITEMS)
        return tf_fail(b, "too many directives", (long)at);
    b->tf->it[b->tf->n++] = (tf_item_t){op, pad, width, 0, 0};
    return APR_SUCCESS;
}

/* Literal byte c (appended to the previous literal when there is one). */
static apr_status_t tf_lit(tf_build_t *b, char c, size_t at)
{
    format_time_t *tf = b->tf;
    tf_item_t *last = tf->n ? &tf->it[tf->n - 1] : NULL;
    if (tf->nlits == TF_MAX_LEN)
        return tf_fail(b, "too much literal text", (long)at);
    if (!last || last->op != OP_LIT) {
        if (tf_push(b, OP_LIT, 0, 0, at) != APR_SUCCESS)
            return APR_EINVAL;
        last = &tf->it[tf->n - 1];
        last->at = tf->nlits;
    }
    tf->lits[tf->nlits++] = c;
    last->len++;
    return APR_SUCCESS;
}

/* The pattern s, from byte base of the whole spec (for messages; an expansion
 * such as %T is all at base). A time_format's space or tab is a run of
 * blanks; strftime's is itself. */
static apr_status_t tf_pattern(tf_build_t *b, const char *s, size_t base, int expansion)
{
    format_time_t *tf = b->tf;
    for (size_t i = 0; s[i]; i++) {
        size_t k = 0, at = expansion ? base : base + i;
        if ((s[i] == ' ' || s[i] == '\t') && !tf->strftime) {
            if (!(tf->n && tf->it[tf->n - 1].op == OP_SPACE) &&
                tf_push(b, OP_SPACE, 0, 0, at) != APR_SUCCESS)
                return APR_EINVAL;
            continue;
        }
        if (s[i] != '%') {
            if (tf_lit(b, s[i], at) != APR_SUCCESS)
                return APR_EINVAL;
            continue;
        }
        if (!s[++i])
            return tf_fail(b, "a '%' ends it", (long)at);
        if (s[i] == '%') {
            if (tf_lit(b, '%', at) != APR_SUCCESS)
                return APR_EINVAL;
            continue;
        }
        while (k < sizeof directives / sizeof directives[0] && directives[k].c != s[i])
            k++;
        if (k == sizeof directives / sizeof directives[0]) {
            char what[40];
            unsigned char c = (unsigned char)s[i];
            if (c > ' ' && c < 0x7f)
                snprintf(what, sizeof what, "unknown directive %%%c", c);
            else
                snprintf(what, sizeof what, "unknown directive %% and byte 0x%02x", c);
            return tf_fail(b, what, (long)at);
        }
        if (directives[k].expand) {
            if (tf_pattern(b, directives[k].expand, at, 1) != APR_SUCCESS)
                return APR_EINVAL;
            continue;
        }
        /* strftime's %Z is skipped: it sets nothing */
        unsigned got = tf->strftime && directives[k].op == OP_ZNAME ? 0 : directives[k].got;
        if (tf->got & got) {
            char what[60];
            snprintf(what, sizeof what, "%%%c sets what an earlier directive set", s[i]);
            return tf_fail(b, what, (long)at);
        }
        tf->got |= got;
        if (tf_push(b, directives[k].op, directives[k].pad, directives[k].width, at) != APR_SUCCESS)
            return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The checks of a whole pattern: what it sets must make one instant, or
 * (strftime) it is text. */
static apr_status_t tf_whole(tf_build_t *b)
{
    format_time_t *tf = b->tf;
    unsigned g = tf->got, md = GOT_MON | GOT_DAY;
    int date = (g & GOT_YDAY) || (g & md) == md;
    if (g & GOT_EPOCH) {
        if (g & ~(GOT_EPOCH | GOT_FRAC))
            return tf_fail(b, "%s is a whole time: it takes no other date or time", -1);
        tf->instant = 1;
        return APR_SUCCESS;
    }
    if (tf->strftime && !(date && (g & GOT_YEAR)))
        return APR_SUCCESS; /* text: no instant, nothing more to check */
    if (!date)
        return tf_fail(b,
                       "it needs a date: a month and a day (%m or %b, and %d or %e), or a day "
                       "of the year (%j)",
                       -1);
    if ((g & GOT_YDAY) && (g & md))
        return tf_fail(b, "%j is the date: it takes no month or day", -1);
    if (!(g & GOT_H12) != !(g & GOT_AMPM))
        return tf_fail(b, "%I and %l need %p, and %p needs %I or %l", -1);
    tf->instant = 1;
    return APR_SUCCESS;
}

apr_status_t format_time_compile(const char *spec, format_time_mode_t mode, apr_pool_t *pool,
                                 const format_time_t **out, long *at, abbey_err_t *err)
{
    static const struct {
        const char *name;
        int64_t unit;
    } epochs[] = {
        {"epoch", 1}, {"epoch_ms", 1000}, {"epoch_us", 1000000}, {"epoch_ns", 1000000000}};
    format_time_t *tf = apr_pcalloc(pool, sizeof *tf);
    tf_build_t b = {tf, spec, at, err};

    *at = -1;
    tf->strftime = mode == FORMAT_TIME_STRFTIME;
    for (size_t k = 0; !tf->strftime && k < sizeof epochs / sizeof epochs[0]; k++)
        if (strcmp(spec, epochs[k].name) == 0) {
            tf->unit = epochs[k].unit;
            tf->instant = 1;
            *out = tf;
            return APR_SUCCESS;
        }
    if (!*spec || strlen(spec) >= TF_MAX_LEN) {
        char what[80];
        snprintf(what, sizeof what,
                 "expected 1 to %d bytes such as \"%%d/%%b/%%Y:%%H:%%M:%%S %%z\"", TF_MAX_LEN - 1);
        return tf_fail(&b, what, -1);
    }
    if (tf_pattern(&b, spec, 0, 0) != APR_SUCCESS || tf_whole(&b) != APR_SUCCESS)
        return APR_EINVAL;
    *out = tf;
    return APR_SUCCESS;
}

int format_time_instant(const format_time_t *tf)
{
    return tf->instant;
}

/* ---- patterns: matching ------------------------------------------------- */

typedef struct parts_t {
    int64_t year, epoch;
    int mon, day, yday, hour, min, sec, pm;
    int32_t off;
} parts_t;

/* A number at *pp of 1 to width digits, or exactly width when exact (a leading space,
 * when pad, then stands for a zero: " 7"). */
static int digits(const char **pp, const char *e, int width, int pad, int exact, int *out)
{
    const char *p = *pp;
    int v = 0, n = 0;
    unsigned d;
    if (pad && e - p >= 2 && *p == ' ' && (unsigned)(p[1] - '0') <= 9)
        p++, width--;
    if (e - p < width) {
        if (exact)
            return -1;
        width = (int)(e - p);
    }
    for (; n < width && (d = (unsigned)(p[n] - '0')) <= 9; n++)
        v = v * 10 + (int)d;
    if (!n || (exact && n != width))
        return -1;
    *pp = p + n;
    *out = v;
    return 0;
}

static int lower(char c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The index of the name at *pp among names[0..n) (lower case, no two with the same
 * first 3 letters), any case; -1 when none. want 3: its first 3 letters; 0: the whole
 * name; -1: either (the whole when it is there). */
static int name_of(const char **pp, const char *e, const char *const *names, int n, int want)
{
    const char *p = *pp;
    if (e - p < 3)
        return -1;
    char a = (char)lower(p[0]), b = (char)lower(p[1]), c = (char)lower(p[2]);
    for (int k = 0; k < n; k++) {
        const char *nm = names[k];
        size_t i = 3;
        if (nm[0] != a || nm[1] != b || nm[2] != c)
            continue;
        while (nm[i] && p + i < e && lower(p[i]) == nm[i])
            i++;
        if (!nm[i] && want != 3)
            *pp = p + i;
        else if (want != 0)
            *pp = p + 3;
        else
            return -1;
        return k;
    }
    return -1;
}

static const char *const months[] = {"january",   "february", "march",    "april",
                                     "may",       "june",     "july",     "august",
                                     "september", "october",  "november", "december"};
static const char *const wdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                    "thursday", "friday", "saturday"};

/* %z at *pp: +hhmm (or -), and when not exact also Z, +hh and +hh:mm. */
static int zone_offset(const char **pp, const char *e, int exact, int32_t *off)
{
    const char *p = *pp;
    int neg, oh, om = 0;
    if (!exact && p < e && (*p == 'Z' || *p == 'z')) {
        *off = 0;
        *pp = p + 1;
        return 0;
    }
    if (p == e || (*p != '+' && *p != '-'))
        return -1;
    neg = *p++ == '-';
    if (e - p < 2 || (oh = format_2dig(p)) < 0 || oh > 23)
        return -1;
    p += 2;
    if (!exact && e - p >= 3 && *p == ':' && format_2dig(p + 1) >= 0)
        p++;
    if (e - p >= 2 && format_2dig(p) >= 0) {
        if ((om = format_2dig(p)) > 59)
            return -1;
        p += 2;
    } else if (exact) {
        return -1;
    }
    *off = (neg ? -1 : 1) * (oh * 3600 + om * 60);
    *pp = p;
    return 0;
}

/* %Z at *pp: a time_format's names the offset (an abbreviation of tz); strftime's is
 * skipped: letters, or a sign and digits (tzdata's "+0530", "-03"). */
static int zone_name(const char **pp, const char *e, int strftime, const tz_t *tz, int32_t *off)
{
    const char *p = *pp, *s = p;
    if (strftime && p < e && (*p == '+' || *p == '-'))
        for (s = ++p; p < e && (unsigned)(*p - '0') <= 9; p++)
            ;
    else if (strftime)
        while (p < e && (unsigned)(lower(*p) - 'a') < 26)
            p++;
    else
        while (p < e && p - s < 16 &&
               ((unsigned)(lower(*p) - 'a') < 26 || (unsigned)(*p - '0') <= 9 || *p == '+' ||
                *p == '-'))
            p++;
    if (p == s || (!strftime && tz_abbrev_offset(tz, s, (size_t)(p - s), off) < 0))
        return -1;
    *pp = p;
    return 0;
}

/* 0 when v is in [lo, hi], or when tf is text (a strftime pattern without a date: its
 * numbers only say where it ends, as Apache wrote them), else -1. */
static int in_range(const format_time_t *tf, int v, int lo, int hi)
{
    return !tf->instant || (v >= lo && v <= hi) ? 0 : -1;
}

/* One item at *pp into x; 0 or -1. */
static int match_item(const format_time_t *tf, const tf_item_t *it, const tz_t *tz, const char **pp,
                      const char *e, parts_t *x)
{
    const char *p = *pp, *s;
    int v, ex = tf->strftime, w = it->width;
    switch (it->op) {
    case OP_LIT: /* most are one byte: ':', '/', ' ' */
        if ((size_t)(e - p) < it->len || *p != tf->lits[it->at] ||
            (it->len > 1 && memcmp(p + 1, tf->lits + it->at + 1, it->len - 1u) != 0))
            return -1;
        *pp = p + it->len;
        return 0;
    case OP_SPACE:
        for (s = p; p < e && (*p == ' ' || *p == '\t'); p++)
            ;
        *pp = p;
        return p > s ? 0 : -1;
    case OP_YEAR:
        if (digits(pp, e, w, 0, 1, &v) < 0)
            return -1;
        x->year = w == 4 ? v : v < 69 ? 2000 + v : 1900 + v;
        return 0;
    case OP_MON:
        return digits(pp, e, w, 0, ex, &x->mon) < 0 ? -1 : in_range(tf, x->mon, 1, 12);
    case OP_MNAME:
        return (x->mon = name_of(pp, e, months, 12, ex ? w : -1) + 1) > 0 ? 0 : -1;
    case OP_WDAY:
        return name_of(pp, e, wdays, 7, ex ? w : -1) < 0 ? -1 : 0;
    case OP_DAY:
        return digits(pp, e, w, it->pad, ex, &x->day) < 0 ? -1 : in_range(tf, x->day, 1, 31);
    case OP_YDAY:
        return digits(pp, e, w, 0, ex, &x->yday) < 0 ? -1 : in_range(tf, x->yday, 1, 366);
    case OP_HOUR:
        return digits(pp, e, w, it->pad, ex, &x->hour) < 0 ? -1 : in_range(tf, x->hour, 0, 23);
    case OP_HOUR12:
        return digits(pp, e, w, it->pad, ex, &x->hour) < 0 ? -1 : in_range(tf, x->hour, 1, 12);
    case OP_MIN:
        return digits(pp, e, w, 0, ex, &x->min) < 0 ? -1 : in_range(tf, x->min, 0, 59);
    case OP_SEC:
        return digits(pp, e, w, 0, ex, &x->sec) < 0 ? -1 : in_range(tf, x->sec, 0, 60);
    case OP_FRAC:
        for (s = p; p < e && (unsigned)(*p - '0') <= 9; p++)
            ;
        *pp = p;
        return p > s ? 0 : -1;
    case OP_AMPM:
        if (e - p < 2 || lower(p[1]) != 'm' || (lower(p[0]) != 'a' && lower(p[0]) != 'p'))
            return -1;
        x->pm = lower(p[0]) == 'p';
        *pp = p + 2;
        return 0;
    case OP_ZOFF:
        return zone_offset(pp, e, ex, &x->off);
    case OP_ZNAME:
        return zone_name(pp, e, ex, tz, &x->off);
    default: /* OP_EPOCH */
        s = p + (p < e && *p == '-');
        while (s < e && (unsigned)(*s - '0') <= 9)
            s++;
        if (scan_epoch(p, s, 1, &x->epoch) < 0)
            return -1;
        *pp = s;
        return 0;
    }
}

int64_t format_guess_year(const format_state_t *st, unsigned mon, unsigned day, int64_t sod)
{
    const tz_t *tz = st->f->tz;
    int64_t ref = st->mtime ? st->mtime : apr_time_sec(apr_time_now()), y, local;
    unsigned m, d;
    civil_from_days(tz_floor_div(ref + tz_offset_at(tz, ref), 86400), &y, &m, &d);
    local = civil_to_days(y, mon, day) * 86400 + sod; /* day may exceed the month: %j */
    return local - tz_offset_at(tz, local) > ref + 86400 ? y - 1 : y;
}

const char *format_time_match(const format_time_t *tf, const format_state_t *st, const char *p,
                              const char *e, int64_t *out)
{
    const tz_t *tz = st->f->tz;
    parts_t x = {.mon = 1, .day = 1};
    int64_t local, sod;
    ABBEY_ASSERT(!tf->unit);
    for (int i = 0; i < tf->n; i++)
        if (match_item(tf, &tf->it[i], tz, &p, e, &x) < 0)
            return NULL;
    if (!tf->instant)
        return p;
    if (tf->got & GOT_EPOCH) {
        *out = x.epoch;
        return p;
    }
    if (tf->got & GOT_H12)
        x.hour = x.hour % 12 + (x.pm ? 12 : 0);
    if (x.yday) /* day yday of January is that day of the year */
        x.mon = 1, x.day = x.yday;
    sod = x.hour * 3600 + x.min * 60 + x.sec;
    if (!(tf->got & GOT_YEAR))
        x.year = format_guess_year(st, (unsigned)x.mon, (unsigned)x.day, sod);
    if (x.yday ? x.yday > 365 + civil_leap(x.year)
               : (unsigned)x.day > format_month_days(x.year, (unsigned)x.mon))
        return NULL;
    local = civil_to_days(x.year, (unsigned)x.mon, (unsigned)x.day) * 86400 + sod;
    if (tf->got & GOT_ZONE)
        *out = local - x.off;
    else
        tz_local_to_utc(tz, local, out);
    return p;
}

int format_time_scan(const format_state_t *st, const char *p, const char *e, int64_t *out)
{
    const format_time_t *tf = st->f->time;
    if (!tf)
        return builtin_time(st->f->tz, p, e, out);
    if (tf->unit)
        return scan_epoch(p, e, tf->unit, out);
    return format_time_match(tf, st, p, e, out) == e ? 0 : -1;
}
