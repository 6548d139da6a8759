/* format_syslog.c - the "syslog" format: syslog files as rsyslog and
 * syslog-ng write them, and RFC 3164 / RFC 5424 messages with their <PRI>
 * (see format.h and docs/RULES.md, "syslog").
 *
 * A line is one of:
 *   [<PRI>]Mmm dd hh:mm:ss HOST TAG: MSG        BSD / RFC 3164 ("Jun  4" or "Jun 04")
 *   [<PRI>]YYYY-MM-DDThh:mm:ss[.frac][offset] HOST TAG: MSG   (RSYSLOG_FileFormat)
 *   <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID SD [MSG]   RFC 5424 ("-" is nil)
 * TAG is APP[PID] or APP (the bytes up to '[', ':' or a space), followed by
 * ':'; without that colon there is no tag and MSG is everything after HOST.
 * A token where HOST should be that ends in ':' is taken as the tag of a
 * message without a host (RFC 3164 relays drop it).
 *
 * The fields, always these and in this order (a closed format):
 *   time (time), host, app, pid (int), msgid, facility (int), severity (int),
 *   facility_name, severity_name, message, structured_data
 * facility and severity come from PRI (missing without one), with their
 * names as rsyslog spells them ("auth", "local0", ...; "err", "warning",
 * ...: static text, not in the line); pid is the PID or PROCID when it is a
 * decimal number, else missing; structured_data is the raw text of 5424's SD
 * elements; message loses a leading UTF-8 BOM in 5424.
 *
 * Times. A time without a year (BSD) takes the year of the source's
 * modification time (st->mtime; 0: now), or the year before when the line
 * would otherwise be more than a day after that time (a December line in a
 * file last written in January): format_guess_year. A time without an offset
 * is in the format's `timezone` (NULL: UTC; IANA names too), turned into UTC
 * by format_local_to_utc.
 *
 * What is checked. Always: PRI (1 to 3 digits, no leading zero, at most 191),
 * the shape of the timestamp (FORMAT_BAD_TIME), every token the form requires
 * (FORMAT_BAD_FIELDS when one is missing), and 5424's structured data
 * (FORMAT_BAD_SYNTAX, or FORMAT_BAD_QUOTE for an unterminated value). Only
 * when time is needed: the calendar (Feb 30, 25:00, Feb 29 in a year that has
 * none) and the offset, FORMAT_BAD_TIME. Fields are set after the whole line
 * is known to be well formed. */
#include "format_int.h"

#include <apr_strings.h>

enum {
    SL_TIME,
    SL_HOST,
    SL_APP,
    SL_PID,
    SL_MSGID,
    SL_FACILITY,
    SL_SEVERITY,
    SL_FACILITY_NAME,
    SL_SEVERITY_NAME,
    SL_MESSAGE,
    SL_SD,
    SL_N
};

static const struct {
    const char *name;
    format_type_t type;
} sl_fields[SL_N] = {
    [SL_TIME] = {"time", FORMAT_TIME},
    [SL_HOST] = {"host", FORMAT_STR},
    [SL_APP] = {"app", FORMAT_STR},
    [SL_PID] = {"pid", FORMAT_INT},
    [SL_MSGID] = {"msgid", FORMAT_STR},
    [SL_FACILITY] = {"facility", FORMAT_INT},
    [SL_SEVERITY] = {"severity", FORMAT_INT},
    [SL_FACILITY_NAME] = {"facility_name", FORMAT_STR},
    [SL_SEVERITY_NAME] = {"severity_name", FORMAT_STR},
    [SL_MESSAGE] = {"message", FORMAT_STR},
    [SL_SD] = {"structured_data", FORMAT_STR},
};

/* The names of facilities 0..23 (syslog.h's, and RFC 5424's table for
 * 12..15, as rsyslog's syslogfacility-text) and of severities 0..7. */
static const char *const facility_names[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
static const char *const severity_names[8] = {"emerg",   "alert",  "crit", "err",
                                              "warning", "notice", "info", "debug"};

/* ---- compiling --------------------------------------------------------- */

static apr_status_t create(format_t *f, format_spec_t *spec, abbey_err_t *err)
{
    const char *key = spec->arg           ? "delimiter"
                      : spec->nfields     ? "fields"
                      : spec->header      ? "header"
                      : spec->time_format ? "time_format"
                                          : NULL;
    if (key) {
        abbey_err_set(err,
                      "syslog format: %s does not apply (the fields are fixed: time, host, app, "
                      "pid, msgid, facility, severity, facility_name, severity_name, message, "
                      "structured_data; times are read as syslog writes them)",
                      key);
        return APR_EINVAL;
    }
    for (int i = 0; i < SL_N; i++)
        format_add_field(f, sl_fields[i].name, strlen(sl_fields[i].name), sl_fields[i].type);
    return APR_SUCCESS;
}

/* ---- times ------------------------------------------------------------- */

/* "Mmm dd hh:mm:ss" at [p, end), the day one or two digits, space-padded or
 * not: the shape only (month name, digits, separators). Returns the end of
 * the stamp, or NULL. */
static const char *bsd_stamp(const char *p, const char *end)
{
    if (end - p < 14 || !format_month3(p) || p[3] != ' ')
        return NULL;
    p += 4;
    p += *p == ' ';
    if ((unsigned)(*p - '0') > 9)
        return NULL;
    p += (unsigned)(p[1] - '0') <= 9 ? 2 : 1;
    if (end - p < 9 || p[0] != ' ' || format_2dig(p + 1) < 0 || p[3] != ':' ||
        format_2dig(p + 4) < 0 || p[6] != ':' || format_2dig(p + 7) < 0)
        return NULL;
    return p + 9;
}

/* The BSD stamp [p, e) (shape checked by bsd_stamp) as UTC epoch seconds. */
static int bsd_time(format_state_t *st, const char *p, const char *e, int64_t *out)
{
    unsigned mon = format_month3(p), d;
    const char *t = e - 8;
    int hh = format_2dig(t), mm = format_2dig(t + 3), ss = format_2dig(t + 6);
    p += 4;
    p += *p == ' ';
    d = (unsigned)(*p - '0');
    if (p + 1 < t - 1)
        d = d * 10 + (unsigned)(p[1] - '0');
    int64_t sod = (int64_t)hh * 3600 + mm * 60 + ss;
    if (hh > 23 || mm > 59 || ss > 59 ||
        format_civil_to_epoch(format_guess_year(st, mon, d, sod), mon, d, (unsigned)hh,
                              (unsigned)mm, (unsigned)ss, out) < 0)
        return -1;
    return format_local_to_utc(st->f, *out, out);
}

/* An RFC 3339 / ISO 8601 stamp [p, e) as UTC epoch seconds; without an
 * offset it is in the format's zone. */
static int iso_time(format_state_t *st, const char *p, const char *e, int64_t *out)
{
    const char *q = p + 19;
    if (format_scan_iso_time(p, e, out) < 0)
        return -1;
    if (q < e && *q == '.')
        for (q++; q < e && (unsigned)(*q - '0') <= 9; q++)
            ;
    if (q == e) /* no offset */
        return format_local_to_utc(st->f, *out, out);
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct sl_span_t {
    const char *p, *e; /* p == NULL: missing */
} sl_span_t;

/* A line's pieces, found before any field is set. */
typedef struct sl_line_t {
    int pri; /* -1: none */
    int iso; /* the stamp is RFC 3339 (else BSD) */
    sl_span_t stamp, host, app, pid, msgid, sd, msg;
} sl_line_t;

/* The end of the token at p: the next space, or end. */
static inline const char *token_end(const char *p, const char *end)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    return sp ? sp : end;
}

/* "<PRI>" at the start of [*pp, end): *pri, and *pp moved past it; *pri = -1
 * when the line has none. FORMAT_OK, or FORMAT_BAD_SYNTAX. */
static format_bad_t scan_pri(format_state_t *st, const char **pp, const char *end, int *pri)
{
    const char *p = *pp;
    int n = 0, k = 0;
    *pri = -1;
    if (p == end || *p != '<')
        return FORMAT_OK;
    for (p++; p < end && k < 4 && (unsigned)(*p - '0') <= 9; p++, k++)
        n = n * 10 + (*p - '0');
    if (k == 0 || k > 3 || p == end || *p != '>' || n > 191 || (k > 1 && p[-k] == '0')) {
        st->bad_field = SL_FACILITY;
        return FORMAT_BAD_SYNTAX;
    }
    *pri = n;
    *pp = p + 1;
    return FORMAT_OK;
}

/* The ISO stamp's shape at [p, e): "YYYY-MM-DDT..." and at least 19 bytes. */
static inline int iso_shape(const char *p, const char *e)
{
    return e - p >= 19 && p[4] == '-' && p[7] == '-' && p[10] == 'T' && p[13] == ':' &&
           p[16] == ':';
}

/* TAG MSG, or MSG alone, from p to end (BSD forms). */
static void scan_tag(sl_line_t *ln, const char *p, const char *end)
{
    const char *t = p, *q;
    while (t < end && *t != '[' && *t != ':' && *t != ' ')
        t++;
    ln->msg = (sl_span_t){p, end};
    if (t == p || t == end || *t == ' ')
        return; /* no tag */
    if (*t == '[') {
        for (q = t + 1; q < end && *q != ']' && *q != ' '; q++)
            ;
        if (end - q < 2 || *q != ']' || q[1] != ':')
            return;
        ln->pid = (sl_span_t){t + 1, q};
        q++;
    } else {
        q = t;
    }
    ln->app = (sl_span_t){p, t};
    q++;
    q += q < end && *q == ' ';
    ln->msg = (sl_span_t){q, end};
}

/* BSD and RSYSLOG_FileFormat lines: from the stamp at p. */
static format_bad_t scan_bsd(format_state_t *st, sl_line_t *ln, const char *p, const char *end)
{
    const char *e;
    if (p < end && (unsigned)(*p - '0') <= 9) {
        e = token_end(p, end);
        if (!iso_shape(p, e))
            goto bad_time;
        ln->iso = 1;
    } else if (!(e = bsd_stamp(p, end))) {
        if (ln->pri < 0 && (end - p < 3 || !format_month3(p)))
            return FORMAT_BAD_FIELDS; /* not syslog at all */
        goto bad_time;
    }
    ln->stamp = (sl_span_t){p, e};
    if (e == end)
        return FORMAT_BAD_FIELDS;
    if (*e != ' ')
        goto bad_time; /* "Jun 14 15:16:01.5", "Jun 14 15:16:012" */
    p = e + 1;
    e = token_end(p, end);
    if (e == p)
        return FORMAT_BAD_FIELDS; /* no host */
    if (e[-1] == ':') {
        scan_tag(ln, p, end); /* no host: this is the tag */
        return FORMAT_OK;
    }
    if (e == end)
        return FORMAT_BAD_FIELDS; /* a host and nothing after it */
    ln->host = (sl_span_t){p, e};
    scan_tag(ln, e + 1, end);
    return FORMAT_OK;
bad_time:
    st->bad_field = SL_TIME;
    return FORMAT_BAD_TIME;
}

/* 5424's STRUCTURED-DATA at p: one or more [ID name="value" ...]. Its end
 * in *out. FORMAT_OK, FORMAT_BAD_QUOTE or FORMAT_BAD_SYNTAX. */
static format_bad_t scan_sd(const char *p, const char *end, const char **out)
{
    do {
        const char *s = ++p; /* past '[' */
        while (p < end && *p != ' ' && *p != ']' && *p != '=' && *p != '"')
            p++;
        if (p == s)
            return FORMAT_BAD_SYNTAX; /* no SD-ID */
        while (p < end && *p == ' ') {
            for (s = ++p; p < end && *p != '=' && *p != ' ' && *p != ']' && *p != '"'; p++)
                ;
            if (p == s || end - p < 2 || p[0] != '=' || p[1] != '"')
                return FORMAT_BAD_SYNTAX; /* not name="value" */
            for (p += 2; p < end && *p != '"'; p++)
                if (*p == '\\' && ++p == end)
                    break;
            if (p >= end)
                return FORMAT_BAD_QUOTE;
            p++;
        }
        if (p == end || *p != ']')
            return FORMAT_BAD_SYNTAX;
        p++;
    } while (p < end && *p == '[');
    *out = p;
    return FORMAT_OK;
}

/* A 5424 token at *pp, which a space must follow: "-" is nil (span
 * missing). Moves *pp past the space; FORMAT_BAD_FIELDS when the token is
 * empty or ends the line. */
static format_bad_t token5424(const char **pp, const char *end, sl_span_t *out)
{
    const char *p = *pp, *e = token_end(p, end);
    if (e == p || e == end)
        return FORMAT_BAD_FIELDS;
    *out = (e - p == 1 && *p == '-') ? (sl_span_t){NULL, NULL} : (sl_span_t){p, e};
    *pp = e + 1;
    return FORMAT_OK;
}

/* RFC 5424 lines: from VERSION at p. */
static format_bad_t scan_5424(format_state_t *st, sl_line_t *ln, const char *p, const char *end)
{
    static const char bom[3] = {'\xef', '\xbb', '\xbf'};
    const char *e;
    format_bad_t why;
    p = token_end(p, end); /* VERSION, checked by the caller */
    if (p++ == end)
        return FORMAT_BAD_FIELDS;
    if ((why = token5424(&p, end, &ln->stamp)) != FORMAT_OK)
        return why;
    if (ln->stamp.p && !iso_shape(ln->stamp.p, ln->stamp.e)) {
        st->bad_field = SL_TIME;
        return FORMAT_BAD_TIME;
    }
    ln->iso = 1;
    if ((why = token5424(&p, end, &ln->host)) != FORMAT_OK ||
        (why = token5424(&p, end, &ln->app)) != FORMAT_OK ||
        (why = token5424(&p, end, &ln->pid)) != FORMAT_OK ||
        (why = token5424(&p, end, &ln->msgid)) != FORMAT_OK)
        return why;
    if (p == end)
        return FORMAT_BAD_FIELDS; /* no SD */
    st->bad_field = SL_SD;
    if (*p == '-')
        e = p + 1;
    else if (*p != '[')
        return FORMAT_BAD_SYNTAX;
    else if ((why = scan_sd(p, end, &e)) != FORMAT_OK)
        return why;
    else
        ln->sd = (sl_span_t){p, e};
    if (e < end && *e != ' ')
        return FORMAT_BAD_SYNTAX;
    st->bad_field = -1;
    if (e < end) {
        p = e + 1;
        if (end - p >= 3 && memcmp(p, bom, 3) == 0)
            p += 3;
        ln->msg = (sl_span_t){p, end};
    }
    return FORMAT_OK;
}

/* Text field i from a span: missing when the span is. */
static inline void set_text(value_t *v, const sl_span_t *s)
{
    format_set(v, s->p ? VALUE_STR : VALUE_NULL, s->p, s->p ? (size_t)(s->e - s->p) : 0);
}

static format_bad_t parse(format_state_t *st, const char *line, size_t len, uint64_t need,
                          uint64_t num, value_t *v)
{
    const char *p = line, *end = line + len;
    sl_line_t ln = {.pri = -1};
    format_bad_t why;
    (void)num;
    if ((why = scan_pri(st, &p, end, &ln.pri)) != FORMAT_OK)
        return why;
    if (ln.pri >= 0 && p < end && *p >= '1' && *p <= '9') {
        const char *e = token_end(p, end);
        if (e - p <= 3 && format_scan_int(p, e, &(int64_t){0}) == 0)
            why = scan_5424(st, &ln, p, end);
        else
            why = scan_bsd(st, &ln, p, end);
    } else {
        why = scan_bsd(st, &ln, p, end);
    }
    if (why != FORMAT_OK)
        return why;

    set_text(&v[SL_TIME], &ln.stamp);
    v[SL_TIME].kind = VALUE_NULL;
    if (ln.stamp.p && ((need >> SL_TIME) & 1)) {
        v[SL_TIME].kind = VALUE_TIME;
        if ((ln.iso ? iso_time(st, ln.stamp.p, ln.stamp.e, &v[SL_TIME].i)
                    : bsd_time(st, ln.stamp.p, ln.stamp.e, &v[SL_TIME].i)) < 0) {
            st->bad_field = SL_TIME;
            return FORMAT_BAD_TIME;
        }
    }
    set_text(&v[SL_HOST], &ln.host);
    set_text(&v[SL_APP], &ln.app);
    set_text(&v[SL_PID], &ln.pid);
    if (ln.pid.p && (unsigned)(*ln.pid.p - '0') <= 9 &&
        format_scan_int(ln.pid.p, ln.pid.e, &v[SL_PID].i) == 0)
        v[SL_PID].kind = VALUE_INT;
    else
        v[SL_PID].kind = VALUE_NULL;
    set_text(&v[SL_MSGID], &ln.msgid);
    set_text(&v[SL_MESSAGE], &ln.msg);
    set_text(&v[SL_SD], &ln.sd);
    if (ln.pri < 0) {
        for (int i = SL_FACILITY; i <= SL_SEVERITY_NAME; i++)
            format_set(&v[i], VALUE_NULL, NULL, 0);
    } else {
        const char *fn = facility_names[ln.pri >> 3], *sn = severity_names[ln.pri & 7];
        format_set(&v[SL_FACILITY], VALUE_INT, NULL, 0);
        v[SL_FACILITY].i = ln.pri >> 3;
        format_set(&v[SL_SEVERITY], VALUE_INT, NULL, 0);
        v[SL_SEVERITY].i = ln.pri & 7;
        format_set(&v[SL_FACILITY_NAME], VALUE_STR, fn, strlen(fn));
        format_set(&v[SL_SEVERITY_NAME], VALUE_STR, sn, strlen(sn));
    }
    return FORMAT_OK;
}

static const char *const names[] = {"syslog", NULL};

const format_ops_t format_syslog_ops = {.names = names, .create = create, .parse = parse};
