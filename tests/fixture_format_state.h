/* fixture_format_state.h - parsing with a test's own format_state_t, for the suites of
 * formats whose values may lie outside the line (unescaped text in the state's scratch,
 * static names): tests/check_format_logfmt.c, tests/check_format_syslog.c.
 *
 * Include after fixture_format.h (it gives the pool, dup_exact, ck_text and new_case).
 * parse_st parses a heap copy of exactly the line's bytes (so ASan sees any overread) and,
 * when the line is good, checks that every needed field has a valid kind and that its text
 * lies inside the line or inside the state's scratch, unless the field's bit is set in
 * `elsewhere` (fields whose text is static). */
#ifndef ABBEY_TESTS_FIXTURE_FORMAT_STATE_H
#define ABBEY_TESTS_FIXTURE_FORMAT_STATE_H

#include "format_int.h"

static char *st_copy; /* the last line parse_st parsed; freed by the next call and st_free */

static inline void st_free(void)
{
    free(st_copy);
    st_copy = NULL;
}

static inline int st_inside(const char *s, size_t len, const char *lo, size_t cap)
{
    return s >= lo && s + len <= lo + cap;
}

/* Parse line[0..n) with st; need and num as format_parse's. */
static inline format_bad_t parse_stn(format_state_t *st, const char *line, size_t n, uint64_t need,
                                     uint64_t num, uint64_t elsewhere, value_t *v)
{
    format_bad_t why;
    free(st_copy);
    st_copy = dup_exact(line, n);
    for (int i = 0; i < FORMAT_MAX_FIELDS; i++)
        v[i] = (value_t){.kind = 0xee, .s = (const char *)1, .len = 0xdead};
    why = format_parse(st, st_copy, n, need, num, v);
    if (why != FORMAT_OK)
        return why;
    for (int i = 0; i < format_nfields(st->f); i++) {
        if (!((need >> i) & 1))
            continue;
        ck_assert_msg(v[i].kind <= VALUE_TIME, "field %d kind %d unset", i, v[i].kind);
        if (!v[i].s) {
            ck_assert_uint_eq(v[i].len, 0);
            continue;
        }
        ck_assert_msg(
            ((elsewhere >> i) & 1) || st_inside(v[i].s, v[i].len, st_copy, n) ||
                (st->scratch && st_inside(v[i].s, v[i].len, st->scratch, st->max_line + 1)),
            "field %d text outside the line and the scratch", i);
    }
    return why;
}

/* Parse a C string with st, every field needed, none as a number. */
static inline format_bad_t parse_st(format_state_t *st, const char *line, value_t *v,
                                    uint64_t elsewhere)
{
    return parse_stn(st, line, strlen(line), ALL, 0, elsewhere, v);
}

#endif
