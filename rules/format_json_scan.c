/* format_json_scan.c - the json format's byte-level helpers (see
 * format_json_int.h): stage one's classifier, which marks the bytes that end
 * or interrupt a string 64 at a time (AVX2 when the build targets it, else
 * SSE2, else a portable loop), and the escapes: checking one, unescaping a
 * string's content into UTF-8. Nothing here allocates; every read stays
 * inside the line. */
#include "format_json_int.h"

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* ---- stage one ---------------------------------------------------------- */

/* The mask of the 64 bytes at p: '"', '\\' and bytes below 0x20. */
static inline uint64_t classify64(const char *p)
{
#if defined(__AVX2__)
    const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
    const __m256i c1f = _mm256_set1_epi8(0x1f);
    uint64_t m = 0;
    for (int k = 0; k < 2; k++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * k));
        __m256i s =
            _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, q), _mm256_cmpeq_epi8(x, bs)),
                            _mm256_cmpeq_epi8(_mm256_min_epu8(x, c1f), x)); /* x <= 0x1f */
        m |= (uint64_t)(uint32_t)_mm256_movemask_epi8(s) << (32 * k);
    }
    return m;
#elif defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i s = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x)); /* x <= 0x1f */
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(s) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++) {
        unsigned char c = (unsigned char)p[k];
        m |= (uint64_t)(c == '"' || c == '\\' || c < 0x20) << k;
    }
    return m;
#endif
}

void json_bits_fill(json_bits_t *b, size_t w)
{
    size_t end = w + JSON_WIN_WORDS < b->nwords ? w + JSON_WIN_WORDS : b->nwords;
    ABBEY_ASSERT(w < b->nwords);
    b->wbase = w;
    b->wend = end;
    for (size_t k = w; k < end; k++) {
        size_t at = k * 64;
        if (at + 64 <= b->len) {
            b->bits[k - w] = classify64(b->line + at);
        } else { /* the last word: the line's tail, then marks from len on */
            char tail[64];
            memset(tail, '"', sizeof tail);
            memcpy(tail, b->line + at, b->len - at);
            b->bits[k - w] = classify64(tail);
        }
    }
}

/* ---- escapes ------------------------------------------------------------ */

/* The four hex digits at p (p + 4 <= end checked by the caller), or -1. */
static int hex4(const char *p)
{
    int n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], d;
        if (c - '0' <= 9)
            d = c - '0';
        else if ((c | 0x20) - 'a' <= 5)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        n = n * 16 + (int)d;
    }
    return n;
}

const char *json_escape(const char *p, const char *end, uint32_t *cp)
{
    int u, lo;
    if (end - p < 2)
        return NULL;
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
        *cp = (unsigned char)p[1];
        return p + 2;
    case 'b':
        *cp = '\b';
        return p + 2;
    case 'f':
        *cp = '\f';
        return p + 2;
    case 'n':
        *cp = '\n';
        return p + 2;
    case 'r':
        *cp = '\r';
        return p + 2;
    case 't':
        *cp = '\t';
        return p + 2;
    case 'u':
        break;
    default:
        return NULL;
    }
    if (end - p < 6 || (u = hex4(p + 2)) < 0)
        return NULL;
    if (u < 0xd800 || u > 0xdfff) {
        *cp = (uint32_t)u;
        return p + 6;
    }
    /* a high surrogate must be followed by a low one; a low one alone is bad */
    if (u > 0xdbff || end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0xdc00 ||
        lo > 0xdfff)
        return NULL;
    *cp = 0x10000 + (((uint32_t)u - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    return p + 12;
}

/* cp as UTF-8 at out; returns the bytes written (1..4). */
static size_t utf8_put(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t json_unescape(const char *s, const char *e, char *out)
{
    char *o = out;
    while (s < e) {
        const char *b = memchr(s, '\\', (size_t)(e - s));
        uint32_t cp;
        if (!b) {
            memcpy(o, s, (size_t)(e - s));
            o += e - s;
            break;
        }
        memcpy(o, s, (size_t)(b - s));
        o += b - s;
        s = json_escape(b, e, &cp);
        ABBEY_ASSERT(s != NULL); /* the walk checked every escape */
        o += utf8_put(cp, o);
    }
    return (size_t)(o - out);
}
