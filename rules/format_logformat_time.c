/* format_logformat_time.c - the strftime forms of Apache's %{...}t: compiled
 * once into a list of items, then matched against a line's text (see
 * format_logformat_int.h).
 *
 * The match is exact and self-delimiting: every number has the width strftime
 * writes (%d "05", %e " 5", %Y "2015"), names are the English ones, so the
 * form alone says where the field ends. Conversions: %Y %y %m %d %e %H %I %M
 * %S %p %b %h %B %a %A %j %z %Z %s %T %D %F %R %n %t %%. %Z is a zone
 * abbreviation, letters that are skipped (only %z moves the time). */
#include "format_logformat_int.h"

#include <apr_strings.h>

typedef enum strf_op_t {
    S_LIT,   /* the byte c */
    S_SPACE, /* %n, %t: one or more spaces or tabs */
    S_NUM,   /* `width` digits into slot (%e: a leading space allowed) */
    S_MON3,  /* %b %h: Jan .. Dec */
    S_MONFULL,
    S_LETTERS, /* %a %A %Z: one or more ASCII letters, skipped */
    S_AMPM,
    S_ZONE, /* +hhmm / -hhmm */
    S_EPOCH /* %s: 1 to 18 digits */
} strf_op_t;

enum { T_YEAR, T_YEAR2, T_MON, T_DAY, T_HOUR, T_HOUR12, T_MIN, T_SEC, T_YDAY, T_NSLOTS };

typedef struct strf_item_t {
    uint8_t op;
    uint8_t width; /* S_NUM */
    uint8_t slot;  /* S_NUM: T_* */
    uint8_t space; /* S_NUM: a space may stand for a leading zero (%e) */
    char c;        /* S_LIT */
} strf_item_t;

struct lf_strf_t {
    int n;
    strf_item_t *items;
    uint32_t has; /* 1 << T_* of the slots the form writes, 1 << T_NSLOTS for %s */
};

static const char *const month_full[12] = {"January",   "February", "March",    "April",
                                           "May",       "June",     "July",     "August",
                                           "September", "October",  "November", "December"};

/* The conversions of one item, and those that stand for several. */
static const struct {
    char k;
    strf_item_t it;
} simple[] = {
    {'Y', {S_NUM, 4, T_YEAR, 0, 0}},   {'y', {S_NUM, 2, T_YEAR2, 0, 0}},
    {'m', {S_NUM, 2, T_MON, 0, 0}},    {'d', {S_NUM, 2, T_DAY, 0, 0}},
    {'e', {S_NUM, 2, T_DAY, 1, 0}},    {'H', {S_NUM, 2, T_HOUR, 0, 0}},
    {'I', {S_NUM, 2, T_HOUR12, 0, 0}}, {'M', {S_NUM, 2, T_MIN, 0, 0}},
    {'S', {S_NUM, 2, T_SEC, 0, 0}},    {'j', {S_NUM, 3, T_YDAY, 0, 0}},
    {'b', {S_MON3, 0, 0, 0, 0}},       {'h', {S_MON3, 0, 0, 0, 0}},
    {'B', {S_MONFULL, 0, 0, 0, 0}},    {'a', {S_LETTERS, 0, 0, 0, 0}},
    {'A', {S_LETTERS, 0, 0, 0, 0}},    {'Z', {S_LETTERS, 0, 0, 0, 0}},
    {'p', {S_AMPM, 0, 0, 0, 0}},       {'z', {S_ZONE, 0, 0, 0, 0}},
    {'s', {S_EPOCH, 0, 0, 0, 0}},      {'n', {S_SPACE, 0, 0, 0, 0}},
    {'t', {S_SPACE, 0, 0, 0, 0}},      {'%', {S_LIT, 0, 0, 0, '%'}},
};
static const struct {
    char k;
    const char *as;
} composite[] = {{'T', "HMS:"}, {'R', "HM:"}, {'D', "mdy/"}, {'F', "Ymd-"}};

static const strf_item_t *simple_item(char k)
{
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (simple[i].k == k)
            return &simple[i].it;
    return NULL;
}

/* Items of one conversion letter into out (at most 5); how many, or -1. A
 * composite "HMS:" is %H:%M:%S, its last byte the separator. */
static int expand(char k, strf_item_t *out)
{
    const strf_item_t *it = simple_item(k);
    if (it) {
        out[0] = *it;
        return 1;
    }
    for (size_t i = 0; i < sizeof composite / sizeof composite[0]; i++) {
        const char *as = composite[i].as;
        size_t n = strlen(as) - 1;
        if (composite[i].k != k)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (j)
                out[2 * j - 1] = (strf_item_t){.op = S_LIT, .c = as[n]};
            out[2 * j] = *simple_item(as[j]);
        }
        return (int)(2 * n - 1);
    }
    return -1;
}

const lf_strf_t *lf_strf_compile(apr_pool_t *pool, const char *fmt, size_t len, size_t *bad,
                                 int *is_time)
{
    lf_strf_t *s = apr_pcalloc(pool, sizeof *s);
    s->items = apr_palloc(pool, sizeof *s->items * (len * 5 + 1));
    for (size_t i = 0; i < len; i++) {
        int k;
        if (fmt[i] != '%') {
            s->items[s->n++] = (strf_item_t){.op = S_LIT, .c = fmt[i]};
            continue;
        }
        if (i + 1 == len || (k = expand(fmt[i + 1], s->items + s->n)) < 0) {
            *bad = i;
            return NULL;
        }
        for (int j = 0; j < k; j++)
            if (s->items[s->n + j].op == S_NUM)
                s->has |= 1u << s->items[s->n + j].slot;
            else if (s->items[s->n + j].op == S_MON3 || s->items[s->n + j].op == S_MONFULL)
                s->has |= 1u << T_MON;
            else if (s->items[s->n + j].op == S_EPOCH)
                s->has |= 1u << T_NSLOTS;
        s->n += k;
        i++;
    }
    uint32_t year = (1u << T_YEAR) | (1u << T_YEAR2), md = (1u << T_MON) | (1u << T_DAY);
    *is_time = (s->has & (1u << T_NSLOTS)) ||
               ((s->has & year) && ((s->has & md) == md || (s->has & (1u << T_YDAY))));
    return s;
}

/* ---- matching ------------------------------------------------------------ */

/* Month 1..12 of a full English name at [p, end), its length in *n; 0 when none. */
static unsigned month_name(const char *p, const char *end, size_t *n)
{
    if (end - p < 3)
        return 0;
    unsigned m = format_month3(p);
    if (!m)
        return 0;
    size_t l = strlen(month_full[m - 1]);
    if ((size_t)(end - p) < l || memcmp(p, month_full[m - 1], l) != 0)
        return 0;
    *n = l;
    return m;
}

static int is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The broken-down time in v (T_* slots, -1 unset) to epoch seconds; -1 when
 * it is not a real date and time. */
static int to_epoch(const int *v, int pm, int64_t *out)
{
    int64_t y = v[T_YEAR] >= 0    ? v[T_YEAR]
                : v[T_YEAR2] < 69 ? 2000 + v[T_YEAR2]
                                  : 1900 + v[T_YEAR2];
    int hh = v[T_HOUR] >= 0 ? v[T_HOUR] : 0, mm = v[T_MIN] >= 0 ? v[T_MIN] : 0;
    int ss = v[T_SEC] >= 0 ? v[T_SEC] : 0;
    if (v[T_HOUR12] >= 0) {
        if (v[T_HOUR12] < 1 || v[T_HOUR12] > 12)
            return -1;
        hh = v[T_HOUR12] % 12 + (pm > 0 ? 12 : 0);
    }
    if (hh > 23 || mm > 59 || ss > 59)
        return -1;
    if (v[T_MON] < 0) { /* day of the year */
        if (v[T_YDAY] < 1 || v[T_YDAY] > (format_month_days(y, 2) == 29 ? 366 : 365))
            return -1;
        *out = (format_days_from_civil(y, 1, 1) + v[T_YDAY] - 1) * 86400 + hh * 3600 + mm * 60 + ss;
        return 0;
    }
    if (v[T_MON] < 1 || v[T_MON] > 12)
        return -1;
    return format_civil_to_epoch(y, (unsigned)v[T_MON], (unsigned)v[T_DAY], (unsigned)hh,
                                 (unsigned)mm, (unsigned)ss, out);
}

const char *lf_strf_match(const lf_strf_t *s, const char *p, const char *end, const format_t *f,
                          int64_t *t)
{
    int v[T_NSLOTS], pm = -1, have_epoch = 0, have_off = 0;
    int64_t off = 0, epoch = 0;
    for (int i = 0; i < T_NSLOTS; i++)
        v[i] = -1;
    for (int i = 0; i < s->n; i++) {
        const strf_item_t *it = &s->items[i];
        size_t n = 0;
        switch (it->op) {
        case S_LIT:
            if (p == end || *p != it->c)
                return NULL;
            p++;
            break;
        case S_SPACE:
            while (p < end && (*p == ' ' || *p == '\t'))
                p++, n++;
            if (!n)
                return NULL;
            break;
        case S_NUM: {
            int x = 0;
            if (end - p < it->width)
                return NULL;
            for (int d = 0; d < it->width; d++) {
                unsigned c = (unsigned char)p[d] - '0';
                if (c > 9 && !(it->space && d == 0 && p[d] == ' '))
                    return NULL;
                x = x * 10 + (c > 9 ? 0 : (int)c);
            }
            v[it->slot] = x;
            p += it->width;
            break;
        }
        case S_MON3:
            if (end - p < 3 || !(v[T_MON] = (int)format_month3(p)))
                return NULL;
            p += 3;
            break;
        case S_MONFULL:
            if (!(v[T_MON] = (int)month_name(p, end, &n)))
                return NULL;
            p += n;
            break;
        case S_LETTERS:
            while (p < end && is_letter(*p))
                p++, n++;
            if (!n)
                return NULL;
            break;
        case S_AMPM:
            if (end - p < 2 || (p[1] != 'M' && p[1] != 'm'))
                return NULL;
            if (*p == 'A' || *p == 'a')
                pm = 0;
            else if (*p == 'P' || *p == 'p')
                pm = 1;
            else
                return NULL;
            p += 2;
            break;
        case S_ZONE: {
            int oh, om;
            if (end - p < 5 || (*p != '+' && *p != '-') || (oh = format_2dig(p + 1)) < 0 ||
                (om = format_2dig(p + 3)) < 0 || oh > 23 || om > 59)
                return NULL;
            off = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
            have_off = 1;
            p += 5;
            break;
        }
        case S_EPOCH: {
            const char *b = p;
            while (p < end && p - b < 18 && (unsigned)(*p - '0') <= 9)
                p++;
            if (p == b || format_scan_int(b, p, &epoch) < 0)
                return NULL;
            have_epoch = 1;
            break;
        }
        }
    }
    if (have_epoch) {
        *t = epoch;
    } else if ((v[T_YEAR] >= 0 || v[T_YEAR2] >= 0) &&
               ((v[T_MON] >= 0 && v[T_DAY] >= 0) || v[T_YDAY] >= 0)) {
        if (to_epoch(v, pm, t) < 0)
            return NULL;
        if (have_off)
            *t -= off;
        else if (format_local_to_utc(f, *t, t) < 0) /* in the format's timezone */
            return NULL;
    }
    return p;
}
