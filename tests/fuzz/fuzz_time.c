/* fuzz_time.c - libFuzzer target for times and zones (rules/tz.c, rules/tz_posix.c,
 * rules/format_time.c).
 *
 * The first byte picks a mode:
 *   0  the rest as a TZif file (tz_parse);
 *   1  the rest as patches (offset, byte) applied to a real zone file (Europe/Berlin, read
 *      once; a built-in slim copy when the system has none), then parsed: gets past the
 *      header checks into the transitions and the footer at once;
 *   2  the rest as a POSIX TZ string (the footer of a built TZif file);
 *   3  a zone (the second byte picks one of five, loaded once), then a time_format and a
 *      field's text split at the first '\n', through format_create and format_parse; and
 *      the same pattern in the strftime mode (Apache's %{...}t) matched at the text's start:
 *      a refusal names %{...}t and a byte inside the pattern, a match ends inside the text,
 *      and the text cut where it ends matches alike (the form says where it ends);
 *   4  the rest as a time field in the built-in forms, in each zone.
 * Every zone that loads is then asked for offsets, local readings, abbreviations and
 * periods at instants taken from the input, and traps unless periods never go back,
 * every period's start is its first instant, and a local reading converts to an instant
 * within a day of it. Each input gets its own pool, destroyed after it (leaks show).
 * Build and run with scripts/fuzz.sh time 600 (docs/FUZZING.md). */
#include <apr_general.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "format_int.h"
#include "tz.h"

static unsigned char *berlin;
static size_t berlin_len;
static const char *const zones[] = {"UTC", "+05:30", "Europe/Berlin", "Australia/Lord_Howe",
                                    "America/Santiago"};
static const tz_t *tzs[5];   /* zones[], loaded once (UTC when missing) */
static format_t *builtin[5]; /* a time field in the built-in forms, in each zone */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const names[] = {"t:time"};
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    apr_pool_t *pool;
    abbey_err_t err;
    (void)argc, (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL); /* lives as long as the process */
    for (int z = 0; z < 5; z++) {
        format_spec_t spec = {.kind = "split", .arg = "\t", .fields = names, .nfields = 1};
        if (tz_load(zones[z], pool, &tzs[z], &err) != APR_SUCCESS)
            tzs[z] = tz_utc();
        if (format_create(&spec, pool, &builtin[z], &err) != APR_SUCCESS)
            abort();
        builtin[z]->tz = tzs[z];
    }
    berlin = malloc(1 << 16);
    if (f) {
        berlin_len = fread(berlin, 1, 1 << 16, f);
        fclose(f);
    }
    return 0;
}

/* An int64 from up to 8 bytes at *p, moving on. */
static int64_t take64(const uint8_t **p, const uint8_t *e)
{
    uint64_t v = 0;
    for (int i = 0; i < 8 && *p < e; i++)
        v = v << 8 | *(*p)++;
    return (int64_t)v;
}

/* Ask tz about instants from [p, e) and a few fixed ones; trap on a broken promise. */
static void probe(const tz_t *tz, const uint8_t *p, const uint8_t *e)
{
    static const int64_t fixed[] = {0,         1743298200, -2208988800LL, 7258118400LL,
                                    INT64_MAX, INT64_MIN};
    int32_t off;
    for (int k = 0; k < 12; k++) {
        int64_t t = k < 6 ? fixed[k] : take64(&p, e) >> (k % 3 * 8), u;
        int32_t o = tz_offset_at(tz, t);
        if (o < -TZ_OFFSET_MAX || o > TZ_OFFSET_MAX)
            __builtin_trap();
        tz_local_to_utc(tz, t, &u);
        if (t > -((int64_t)1 << 55) && t < ((int64_t)1 << 55) &&
            (u - t > 2 * TZ_OFFSET_MAX || t - u > 2 * TZ_OFFSET_MAX))
            __builtin_trap();
        for (int64_t len = 3600; len <= 86400; len += 82800) {
            int64_t n = tz_period(tz, t, len), s;
            if (t <= -((int64_t)1 << 54) || t >= ((int64_t)1 << 54))
                continue;
            if (tz_period(tz, t + 1, len) < n || tz_period(tz, t + 5400, len) < n)
                __builtin_trap(); /* periods never go back */
            s = tz_period_start(tz, n, len);
            if (s > t || tz_period(tz, s, len) < n || tz_period(tz, s - 1, len) >= n)
                __builtin_trap(); /* the start is the period's first instant */
        }
    }
    (void)tz_abbrev_offset(tz, "CEST", 4, &off);
    (void)tz_fixed_offset(tz, &off);
    (void)tz_name(tz);
}

static void parse_zone(const unsigned char *data, size_t len, const uint8_t *p, const uint8_t *e,
                       apr_pool_t *pool)
{
    const tz_t *tz;
    abbey_err_t err;
    unsigned char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees overreads */
    memcpy(copy, data, len);
    if (tz_parse("fuzz", copy, len, pool, &tz, &err) == APR_SUCCESS)
        probe(tz, p, e);
    else if (strncmp(err.msg, "time zone \"fuzz\": ", 18) != 0)
        __builtin_trap();
    free(copy);
}

/* A slim TZif file of no transitions whose footer is [s, s + n). */
static size_t with_footer(const uint8_t *s, size_t n, unsigned char *out)
{
    static const unsigned char hdr[44] = {'T', 'Z', 'i', 'f', '2', [39] = 1, [43] = 4};
    static const unsigned char types[10] = {0, 0, 0x0e, 0x10, 0, 0, 'C', 'E', 'T', 0};
    size_t k = 0;
    for (int b = 0; b < 2; b++) {
        memcpy(out + k, hdr, 44);
        memcpy(out + k + 44, types, 10);
        k += 54;
    }
    out[k++] = '\n';
    memcpy(out + k, s, n);
    k += n;
    out[k++] = '\n';
    return k;
}

/* A copy of [p, p + n) in a block of exactly n bytes (reads past it show). */
static char *exact_copy(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    return c;
}

/* mode 3, the strftime mode: the pattern tf at the start of line[0..n) in zone z. */
static void strftime_form(const char *tf, const char *line, size_t n, int z, apr_pool_t *pool)
{
    const format_time_t *ft;
    abbey_err_t err;
    long at;
    int64_t t = 0, u = 0;
    if (format_time_compile(tf, FORMAT_TIME_STRFTIME, pool, &ft, &at, &err) != APR_SUCCESS) {
        if (strncmp(err.msg, "%{...}t \"", 9) != 0 || at < -1 || at >= (long)strlen(tf))
            __builtin_trap();
        return;
    }
    format_state_t *st = format_state_create(builtin[z], n + 16, pool);
    format_state_source(st, 1700000000);
    const char *end = format_time_match(ft, st, line, line + n, &t);
    if (!end)
        return;
    if (end < line || end > line + n)
        __builtin_trap();
    char *cut = exact_copy(line, (size_t)(end - line));
    if (format_time_match(ft, st, cut, cut + (end - line), &u) != cut + (end - line) ||
        (format_time_instant(ft) && u != t))
        __builtin_trap();
    free(cut);
}

/* mode 3: "time_format\ntext" */
static void time_format(const uint8_t *p, const uint8_t *e, apr_pool_t *pool)
{
    static const char *const names[] = {"t:time"};
    const uint8_t *nl;
    char tf[300];
    format_spec_t spec = {.kind = "split", .arg = "\t", .fields = names, .nfields = 1};
    format_t *f;
    abbey_err_t err;
    value_t v[FORMAT_MAX_FIELDS];
    if (p == e)
        return;
    int z = *p++ % 5;
    if (!(nl = memchr(p, '\n', (size_t)(e - p))) || nl - p >= (ptrdiff_t)sizeof tf)
        return;
    memcpy(tf, p, (size_t)(nl - p));
    tf[nl - p] = '\0';
    if (strlen(tf) != (size_t)(nl - p))
        return; /* a NUL inside: YAML gives no such text */
    spec.time_format = tf;
    size_t n = (size_t)(e - nl - 1);
    char *line = exact_copy((const char *)nl + 1, n);
    strftime_form(tf, line, n, z, pool);
    if (format_create(&spec, pool, &f, &err) != APR_SUCCESS) {
        if (strncmp(err.msg, "time_format \"", 13) != 0)
            __builtin_trap();
        free(line);
        return;
    }
    f->tz = tzs[z];
    format_state_t *st = format_state_create(f, n + 16, pool);
    format_state_source(st, 1700000000);
    format_bad_t why = format_parse(st, line, n, ~(uint64_t)0, 0, v);
    if (why == FORMAT_OK && v[0].kind != VALUE_TIME && v[0].kind != VALUE_NULL)
        __builtin_trap();
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    const uint8_t *p = data + 1, *e = data + size;
    unsigned char buf[1 << 16];
    if (size < 1)
        return 0;
    apr_pool_create(&pool, NULL);
    switch (data[0] % 5) {
    case 0:
        parse_zone(p, size - 1, p, e, pool);
        break;
    case 1:
        if (berlin_len) {
            memcpy(buf, berlin, berlin_len);
            for (const uint8_t *q = p; q + 2 < e; q += 3)
                buf[((size_t)q[0] << 8 | q[1]) % berlin_len] = q[2];
            parse_zone(buf, berlin_len, p, e, pool);
        }
        break;
    case 2:
        if (size < 200)
            parse_zone(buf, with_footer(p, size - 1, buf), p, e, pool);
        break;
    case 3:
        time_format(p, e, pool);
        break;
    default: {
        char *text = malloc(size);
        memcpy(text, p, size - 1);
        int64_t t;
        (void)format_scan_time(text, text + size - 1, &t);
        for (int z = 0; z < 5; z++) {
            value_t v[FORMAT_MAX_FIELDS];
            format_bad_t why = format_parse(format_state_create(builtin[z], size + 16, pool), text,
                                            size - 1, 1, 0, v);
            if (why == FORMAT_OK && v[0].kind != VALUE_TIME && v[0].kind != VALUE_NULL)
                __builtin_trap();
        }
        free(text);
    }
    }
    apr_pool_destroy(pool);
    return 0;
}
