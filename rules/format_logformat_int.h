/* format_logformat_int.h - the compiled form of an nginx log_format or an
 * Apache LogFormat string (the kinds nginx and apache, and the built-ins
 * combined and common, which are Apache strings): a program of steps, each
 * one field and the literal text that follows it.
 *
 * format_logformat_compile.c turns the string into the program, and
 * format_logformat.c runs the program over a line (the splitter); the
 * strftime forms of Apache's %{...}t are time patterns of format_time.c in
 * their strftime mode (format_int.h). Nothing here allocates on the parse
 * path. */
#ifndef ABBEY_FORMAT_LOGFORMAT_INT_H
#define ABBEY_FORMAT_LOGFORMAT_INT_H

#include "format_int.h"

/* How the end of a field's text is found. */
typedef enum lf_scan_t {
    LF_PLAIN,   /* at the first occurrence of its terminator; never empty */
    LF_QUOTED,  /* "...": at the first '"' not escaped by a backslash */
    LF_BRACKET, /* [...]: at the first ']' */
    LF_FIXED,   /* exactly `width` bytes ($time_local) */
    LF_CLFTIME, /* Apache %t: "[dd/Mon/yyyy:hh:mm:ss +hhmm]", 28 bytes, else FORMAT_BAD_TIME */
    LF_LIST,    /* like LF_PLAIN, but ", " and " : " are separators inside it */
    LF_STRF     /* as far as its strftime form matches (Apache %{...}t, format_time_match) */
} lf_scan_t;

/* How a needed field's text becomes its value. "-" is missing (VALUE_NULL)
 * in every one but LF_WORD. */
typedef enum lf_conv_t {
    LF_TEXT,      /* text (FORMAT_AUTO: a number where a rule needs one) */
    LF_WORD,      /* text, "-" included (Apache %h) */
    LF_TYPED,     /* by the field's type (format_convert) */
    LF_STATUS,    /* 1 to 4 digits, "-" not allowed */
    LF_COUNT,     /* 1 to 18 digits */
    LF_CLF,       /* dd/Mon/yyyy:hh:mm:ss +hhmm, brackets optional */
    LF_EPOCH_MS,  /* epoch milliseconds, as a time */
    LF_EPOCH_US,  /* epoch microseconds, as a time */
    LF_SUM_INT,   /* a list "1, 2 : 3" of integers or "-", summed */
    LF_SUM_FLOAT, /* the same with numbers */
    LF_STRF_TIME, /* the time the strftime form matched */
    LF_REQUEST    /* text; method, path and protocol split from it when needed */
} lf_conv_t;

typedef struct lf_step_t {
    uint8_t op;       /* the splitter's own form of scan (format_logformat.c) */
    uint8_t scan;     /* lf_scan_t */
    uint8_t conv;     /* lf_conv_t */
    uint8_t may_end;  /* the line may stop right after this field's text (built-ins) */
    int8_t field;     /* the field it fills */
    int8_t piece[3];  /* LF_REQUEST: the method, path and protocol fields, or -1 */
    uint16_t width;   /* LF_FIXED: its length */
    uint16_t litlen;  /* bytes of the literal after the field */
    uint16_t termlen; /* LF_PLAIN, LF_LIST: bytes of term; 0: the field runs to the end */
    const char *term; /* the literal, then the next field's opening '"' or '[' if it has one */
    uint64_t need;    /* the fields this step's value gives (field and pieces), as bits */
    const format_time_t *strf; /* LF_STRF: FORMAT_TIME_STRFTIME */
} lf_step_t;

/* ---- format_logformat_scan.c: a line's bytes classified 64 at a time ----
 *
 * The splitter looks for two kinds of bytes: the program's stop bytes (the
 * first byte of every terminator, ']' of a bracketed field: at most
 * LF_NSTOP of them; others are searched for byte by byte) and the quote and
 * backslash of quoted fields. A classifier sets, for every byte of a window
 * of the line, one bit in t (a stop byte) and one in q ('"' or '\\'), so
 * that every search after it is a shift and a count of trailing zeros. */

#define LF_NSTOP 4 /* stop bytes classified at once */
#define LF_WIN 8   /* blocks of 64 bytes in a window */

typedef struct lf_cls_t {
    const char *line, *end;  /* the line: no byte outside it is read */
    const char *base, *wend; /* the window: [base, wend), at most 64 * LF_WIN bytes */
    uint64_t q[LF_WIN];      /* bit i of q[k]: byte base + 64 k + i is '"' or '\\' */
    uint64_t t[LF_WIN];      /* ... is a stop byte */
    int nb;                  /* blocks in the window */
} lf_cls_t;

/* Classify c->base .. c->wend with the stop bytes stop[0..nstop). */
typedef void lf_classify_fn(const char *stop, int nstop, lf_cls_t *c);

/* The fastest classifier of this machine for nstop stop bytes whose
 * instructions are at most `level` (0: plain C, 1: SSE2, 2: AVX2): tests run
 * every one. */
lf_classify_fn *lf_classifier(int level, int nstop);

/* Tests: the highest instruction set the splitter of formats created from
 * now on may use (as lf_classifier; 2, the default, is the best there is).
 * Not thread-safe. */
void lf_set_simd(int level);

typedef struct lf_prog_t {
    const char *lead; /* the literal before the first field */
    size_t leadlen;
    int nsteps;
    lf_step_t *steps;
    int lenient; /* built-ins: text after the last field is ignored when it starts with ' ' */
    /* the splitter's (format_logformat.c) */
    char stop[LF_NSTOP]; /* the stop bytes */
    int nstop;
    lf_classify_fn *classify;
    uint8_t shape; /* a splitter of its own for a common sequence of ops, or 0 */
} lf_prog_t;

/* Compile spec (kind nginx, apache, combined or common) into f: its fields
 * and f->impl, an lf_prog_t, in f->pool. APR_EINVAL with a message on error,
 * and spec->err_at set when a byte of spec->arg is to blame. */
apr_status_t lf_compile(format_t *f, format_spec_t *spec, abbey_err_t *err);

#endif
