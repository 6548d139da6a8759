/* tz_posix.c - POSIX TZ strings, as the footer of a TZif file gives them (RFC 8536 section
 * 3.3, with its version 3 extensions): parsing "CET-1CEST,M3.5.0,M10.5.0/3" into a
 * tz_rule_t, and the span of time one offset holds around an instant, worked out from the
 * rule's transitions of the year before, the year, and the year after. tz.c uses them for
 * times after a zone's last listed transition. */
#include "tz_int.h"

#include <string.h>

static int alternates(const tz_rule_t *r);

/* ---- parsing ------------------------------------------------------------ */

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A zone abbreviation: 3+ letters, or <...> of letters, digits, '+' and '-'. */
static const char *parse_name(const char *p, const char *e, char *out)
{
    const char *s = p, *q;
    size_t n;
    if (p < e && *p == '<') {
        for (q = ++s; q < e && *q != '>'; q++)
            if (!is_alpha(*q) && !is_digit(*q) && *q != '+' && *q != '-')
                return NULL;
        if (q == e)
            return NULL;
        p = q + 1;
    } else {
        for (q = p; q < e && is_alpha(*q); q++)
            ;
        p = q;
    }
    n = (size_t)(q - s);
    if (n < 3)
        return NULL;
    if (n > TZ_ABBR_LEN)
        n = TZ_ABBR_LEN;
    memcpy(out, s, n);
    out[n] = '\0';
    return p;
}

/* [+-]h[h[h]][:mm[:ss]] with hours at most maxh, as seconds. */
static const char *parse_hms(const char *p, const char *e, int maxh, int32_t *out)
{
    int neg = 0, h = 0, nd = 0, m = 0, sec = 0;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    while (p < e && is_digit(*p) && nd < 3)
        h = h * 10 + (*p++ - '0'), nd++;
    if (!nd || h > maxh)
        return NULL;
    for (int part = 0; part < 2 && p < e && *p == ':'; part++) {
        if (e - p < 3 || !is_digit(p[1]) || !is_digit(p[2]))
            return NULL;
        int v = (p[1] - '0') * 10 + (p[2] - '0');
        if (v > 59)
            return NULL;
        *(part ? &sec : &m) = v;
        p += 3;
    }
    *out = (neg ? -1 : 1) * (h * 3600 + m * 60 + sec);
    return p;
}

/* A number of 1..3 digits from lo to hi. */
static const char *parse_num(const char *p, const char *e, int lo, int hi, int *out)
{
    int v = 0, nd = 0;
    while (p < e && is_digit(*p) && nd < 3)
        v = v * 10 + (*p++ - '0'), nd++;
    if (!nd || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

/* date[/time]: Jn, n or Mm.w.d; the time defaults to 02:00. */
static const char *parse_when(const char *p, const char *e, tz_when_t *w)
{
    int a, b, c;
    memset(w, 0, sizeof *w);
    if (p < e && *p == 'J') {
        if (!(p = parse_num(p + 1, e, 1, 365, &a)))
            return NULL;
        w->kind = 'J';
        w->day = (uint16_t)a;
    } else if (p < e && *p == 'M') {
        if (!(p = parse_num(p + 1, e, 1, 12, &a)) || p == e || *p != '.' ||
            !(p = parse_num(p + 1, e, 1, 5, &b)) || p == e || *p != '.' ||
            !(p = parse_num(p + 1, e, 0, 6, &c)))
            return NULL;
        w->kind = 'M';
        w->month = (uint8_t)a;
        w->week = (uint8_t)b;
        w->wday = (uint8_t)c;
    } else {
        if (!(p = parse_num(p, e, 0, 365, &a)))
            return NULL;
        w->kind = 'n';
        w->day = (uint16_t)a;
    }
    w->secs = 7200;
    if (p < e && *p == '/')
        p = parse_hms(p + 1, e, 167, &w->secs);
    return p;
}

int tz_posix_parse(const char *s, size_t len, tz_rule_t *r)
{
    const char *p = s, *e = s + len;
    int32_t o;
    memset(r, 0, sizeof *r);
    if (!(p = parse_name(p, e, r->std_name)) || !(p = parse_hms(p, e, 24, &o)))
        return -1;
    r->std_off = -o; /* POSIX counts west of Greenwich */
    if (p == e)
        return 0;
    if (!(p = parse_name(p, e, r->dst_name)))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (p < e && *p != ',') {
        if (!(p = parse_hms(p, e, 24, &o)))
            return -1;
        r->dst_off = -o;
    }
    if (p == e) { /* no rule: the United States' since 2007, as tzcode does */
        static const char dflt[] = "M3.2.0,M11.1.0";
        const char *d = dflt, *de = dflt + sizeof dflt - 1;
        d = parse_when(d, de, &r->start);
        parse_when(d + 1, de, &r->end);
        return 0;
    }
    if (*p != ',' || !(p = parse_when(p + 1, e, &r->start)) || p == e || *p != ',' ||
        !(p = parse_when(p + 1, e, &r->end)))
        return -1;
    return p == e && alternates(r) ? 0 : -1;
}

/* ---- transitions -------------------------------------------------------- */

/* Day (since 1970-01-01) of w in year y. */
static int64_t when_day(const tz_when_t *w, int64_t y)
{
    int64_t jan1 = civil_to_days(y, 1, 1), first, next, d;
    switch (w->kind) {
    case 'J':
        return jan1 + w->day - 1 + (civil_leap(y) && w->day >= 60);
    case 'n':
        return jan1 + w->day;
    default:
        first = civil_to_days(y, w->month, 1);
        next = w->month == 12 ? civil_to_days(y + 1, 1, 1) : civil_to_days(y, w->month + 1u, 1);
        /* 1970-01-01 was a Thursday (4) */
        d = first + (w->wday - (first % 7 + 11) % 7 + 7) % 7 + 7 * (w->week - 1);
        while (d >= next) /* week 5: the last such weekday */
            d -= 7;
        return d;
    }
}

typedef struct event_t {
    int64_t at;
    int32_t off; /* the offset from at on */
    int to_dst;  /* ends sort before starts at the same instant */
} event_t;

/* The instants daylight saving time starts and ends in year y. */
static void year_events(const tz_rule_t *r, int64_t y, int64_t *start, int64_t *end)
{
    *start = when_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    *end = when_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
}

/* 1 when starts and ends alternate in time (an end may meet the next start: daylight time
 * all year), so that each instant's offset is that of the last change before it whichever
 * years are looked at; checked over a whole 400-year cycle of the calendar. A rule whose
 * daylight time outlasts a year, or ends before the start of the year before, is nonsense. */
static int alternates(const tz_rule_t *r)
{
    for (int64_t y = 2000; y < 2400; y++) {
        int64_t s0, e0, s1, e1;
        year_events(r, y, &s0, &e0);
        year_events(r, y + 1, &s1, &e1);
        if (s0 < e0 ? !(e0 <= s1 && s1 < e1) : !(s0 < e1 && e1 <= s1))
            return 0;
    }
    return 1;
}

void tz_posix_span(const tz_rule_t *r, int64_t t, tz_span_t *sp)
{
    event_t ev[6] = {{0}}; /* all six are set below; zeroed for the compiler */
    int n = 0;
    int64_t y;
    unsigned m, d;
    int32_t off;

    sp->start = INT64_MIN;
    sp->end = INT64_MAX;
    sp->floor = INT64_MIN;
    sp->off = r->std_off;
    if (!r->has_dst)
        return;
    civil_from_days(tz_floor_div(t + r->std_off, 86400), &y, &m, &d);
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t s, e;
        year_events(r, yy, &s, &e);
        ev[n++] = (event_t){s, r->dst_off, 1};
        ev[n++] = (event_t){e, r->std_off, 0};
    }
    for (int i = 1; i < n; i++) /* insertion sort by (at, to_dst) */
        for (int j = i; j > 0 && (ev[j].at < ev[j - 1].at ||
                                  (ev[j].at == ev[j - 1].at && ev[j].to_dst < ev[j - 1].to_dst));
             j--) {
            event_t x = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = x;
        }
    off = ev[0].to_dst ? r->std_off : r->dst_off;
    for (int i = 0; i < n; i++) {
        if (ev[i].at > t) {
            sp->end = ev[i].at;
            break;
        }
        if (ev[i].at - 1 + off > sp->floor)
            sp->floor = ev[i].at - 1 + off;
        off = ev[i].off;
        sp->start = ev[i].at;
    }
    sp->off = off;
}
