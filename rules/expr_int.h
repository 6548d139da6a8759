/* expr_int.h - internals shared by the expression files: tokens, the compiled
 * program (a flat postfix array of ops) and the evaluation context.
 *
 * expr_lex.c turns text into tokens and formats "file:line:col:" errors,
 * expr_parse.c parses, type-checks and emits the program, expr_regex.c
 * compiles the regexes of `~` (rematch.h) and warns about nested quantifiers,
 * expr_eval.c runs the program on the fixed value stack of an expr_ctx_t. */
#ifndef ABBEY_EXPR_INT_H
#define ABBEY_EXPR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "expr.h"
#include "rematch.h"

#define EXPR_STACK_MAX 64       /* value slots of an expr_ctx_t */
#define EXPR_SCRATCH_SIZE 65536 /* bytes of per-line string scratch */
#define EXPR_PARSE_NEST_MAX 200 /* parentheses / unary / call nesting while parsing */
#define EXPR_HEIGHT_MAX 512     /* height of the syntax tree (left-deep chains too) */

/* ---- tokens (expr_lex.c) ---- */

typedef enum expr_tok_kind_t {
    TK_EOF,
    TK_INT,
    TK_FLOAT,
    TK_DURATION,
    TK_STRING,
    TK_IDENT,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_IN,
    TK_TRUE,
    TK_FALSE,
    TK_NULL,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_MATCH,
    TK_NMATCH,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_PERCENT,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACK,
    TK_RBRACK,
    TK_COMMA
} expr_tok_kind_t;

typedef struct expr_tok_t {
    expr_tok_kind_t kind;
    size_t pos;    /* byte offset of the token in the source */
    size_t len;    /* bytes of source text */
    int64_t i;     /* TK_INT; TK_DURATION in seconds */
    double f;      /* TK_FLOAT */
    const char *s; /* TK_STRING: unescaped bytes (pool); TK_IDENT: source text */
    size_t slen;
} expr_tok_t;

typedef struct expr_lexer_t {
    const char *src;
    size_t len;
    size_t pos;
    const expr_where_t *where;
    apr_pool_t *pool;
    abbey_err_t *err;
} expr_lexer_t;

void expr_lex_init(expr_lexer_t *lx, const char *src, size_t len, const expr_where_t *where,
                   apr_pool_t *pool, abbey_err_t *err);

/* Next token into *t. Returns 0, or -1 with err set (bad character, unterminated
 * string, integer out of range, malformed number or duration). */
int expr_lex_next(expr_lexer_t *lx, expr_tok_t *t);

/* Short text naming a token for messages: "'>='", "end of expression", "'foo'". */
const char *expr_tok_describe(const expr_lexer_t *lx, const expr_tok_t *t, char *tmp, size_t n);

/* Line and column of byte offset pos of the source (1-based, from where). */
void expr_lex_linecol(const expr_lexer_t *lx, size_t pos, int *line, int *col);

/* Set err to "file:line:col: <message>" for the byte offset pos of the source. */
void expr_lex_error(const expr_lexer_t *lx, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- regexes (expr_regex.c) ---- */

/* A compiled `~` pattern (rematch.h; whole_line: matched from one start position). */
typedef rematch_t expr_regex_t;

/* Compile the pattern of string token t into *out (JIT when available; freed
 * with pool). Returns 0, or -1 with lx's err set ("file:line:col: invalid
 * regular expression: ..."). *warning is NULL, or "file:line:col: warning:
 * regex ..." text (pool) when rematch_risk finds a nested quantifier. */
int expr_regex_compile(const expr_lexer_t *lx, const expr_tok_t *t, apr_pool_t *pool,
                       expr_regex_t *out, const char **warning);

/* ---- the program (expr_parse.c emits, expr_eval.c runs) ---- */

typedef enum expr_opcode_t {
    OP_FIELD,    /* push fields[arg] */
    OP_CONST,    /* push consts[arg] */
    OP_NEG,      /* -top */
    OP_ARITH,    /* sub: TK_PLUS..TK_PERCENT */
    OP_CMP_NUM,  /* sub: TK_EQ..TK_GE; numeric */
    OP_CMP_STR,  /* bytewise on the text of both sides */
    OP_CMP_DYN,  /* both strings: bytewise, else numeric */
    OP_NOT,      /* !truthy(top) */
    OP_TO_BOOL,  /* truthy(top) */
    OP_AND_JMP,  /* falsy top: replace by false, jump to arg; else pop */
    OP_OR_JMP,   /* truthy top: replace by true, jump to arg; else pop */
    OP_COALESCE, /* non-NULL top: jump to arg; else pop */
    OP_MATCH,    /* regexes[arg]; sub 1: negated */
    OP_IN,       /* lists[arg]; sub 1: negated */
    OP_TBUCKET,  /* floor top to a multiple of consts[arg].i seconds */
    OP_CALL      /* sub: expr_func_t, n: argument count */
} expr_opcode_t;

typedef enum expr_func_t {
    FN_TIME_BUCKET,
    FN_LOWER,
    FN_UPPER,
    FN_LEN,
    FN_SUBSTR,
    FN_INT,
    FN_FLOAT,
    FN_STR,
    FN_COALESCE,
    FN__COUNT
} expr_func_t;

typedef struct expr_op_t {
    uint8_t code; /* expr_opcode_t */
    uint8_t sub;
    uint16_t n;
    int32_t arg;
} expr_op_t;

/* A literal list of `in [...]`: sorted (strings bytewise, numbers numerically). */
typedef struct expr_list_t {
    int is_str;
    int n;
    value_t *items;
} expr_list_t;

struct expr_t {
    const char *text;
    expr_type_t type;
    uint64_t fields, numeric;
    int field_ref;
    int nops;
    expr_op_t *ops;
    int depth; /* stack slots the program needs */
    value_t *consts;
    expr_list_t *lists;
    expr_regex_t *regexes;
    int nwarnings;
    const char **warnings; /* "file:line:col: ..." of risky regexes */
};

struct expr_ctx_t {
    value_t stack[EXPR_STACK_MAX];
    pcre2_match_data *md;
    rematch_ctx_t re; /* the REMATCH_* limits */
    int limit_hit;    /* a match gave up since expr_ctx_reset */
    size_t used;      /* bytes of scratch in use */
    char scratch[EXPR_SCRATCH_SIZE];
};

/* Order of two values for in-lists and comparisons: numbers numerically (int
 * exactly, int against float exactly), strings bytewise. Returns <0, 0, >0, or
 * 2 when unordered (NaN). Both must be numbers, or both strings. */
int expr_num_cmp(int64_t ai, double af, int aint, int64_t bi, double bf, int bint);
int expr_str_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
