/* format_json_scan.c - the json format's byte-level helpers (see
 * format_json_int.h): stage one's classifier, which marks the bytes that end
 * or interrupt a string 64 at a time (AVX2 when the build targets it or, on
 * x86-64 built without it, when the CPU has it; else SSE2; else a portable
 * loop), and the escapes: checking one, unescaping a
 * string's content into UTF-8. Nothing here allocates; every read stays
 * inside the line. */
#include "format_json_int.h"

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* ---- stage one ---------------------------------------------------------- */

/* The mask of the 64 bytes at p: '"', '\\' and bytes below 0x20: AVX2 (when
 * the build targets it, or in the run-time variant below), SSE2, or a loop. */
#if defined(__AVX2__) || JSON_AVX2_AT_RUN_TIME
#if JSON_AVX2_AT_RUN_TIME
__attribute__((target("avx2")))
#endif
static inline uint64_t
classify32_avx2(const char *p)
{
    const __m256i q = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
    const __m256i c1f = _mm256_set1_epi8(0x1f);
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, q), _mm256_cmpeq_epi8(x, bs)),
                                _mm256_cmpeq_epi8(_mm256_min_epu8(x, c1f), x)); /* x <= 0x1f */
    return (uint32_t)_mm256_movemask_epi8(m);
}

#if JSON_AVX2_AT_RUN_TIME
__attribute__((target("avx2")))
#endif
static inline uint64_t
classify64_avx2(const char *p)
{
    return classify32_avx2(p) | classify32_avx2(p + 32) << 32;
}
#endif

#if defined(__AVX2__)
#define classify64_base classify64_avx2
#elif defined(__SSE2__)
static inline uint64_t classify16(const char *p)
{
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                             _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x)); /* x <= 0x1f */
    return (uint16_t)_mm_movemask_epi8(m);
}

static inline uint64_t classify64_base(const char *p)
{
    return classify16(p) | classify16(p + 16) << 16 | classify16(p + 32) << 32 |
           classify16(p + 48) << 48;
}
#else
static inline uint64_t classify64_base(const char *p)
{
    uint64_t m = 0;
    for (int k = 0; k < 64; k++) {
        unsigned char c = (unsigned char)p[k];
        m |= (uint64_t)(c == '"' || c == '\\' || c < 0x20) << k;
    }
    return m;
}
#endif

/* json_bits_fill with the classifier classify (inlined into each variant). */
static inline size_t fill(json_bits_t *b, size_t w, uint64_t (*classify)(const char *))
{
    size_t end = w + JSON_WIN_WORDS < b->nwords ? w + JSON_WIN_WORDS : b->nwords, k = w;
    ABBEY_ASSERT(w < b->nwords);
    for (; k < end && k * 64 + 64 <= b->len; k++)
        b->bits[k - w] = classify(b->line + k * 64);
    if (k == end)
        return end;
    /* the last word, holding position len: the line's tail, then marks from len on */
    size_t tail = b->len - k * 64; /* 0..63 bytes */
    uint64_t past = ~(uint64_t)0 << tail;
    if (b->len >= 64) { /* the line's last 64 bytes, shifted into place */
        b->bits[k - w] = (tail ? classify(b->line + b->len - 64) >> (64 - tail) : 0) | past;
    } else {
        char buf[64];
        memcpy(buf, b->line, b->len);
        memset(buf + b->len, 0, 64 - b->len);
        b->bits[k - w] = classify(buf) | past;
    }
    return end;
}

static size_t fill_base(json_bits_t *b, size_t w)
{
    return fill(b, w, classify64_base);
}

#if JSON_AVX2_AT_RUN_TIME
__attribute__((target("avx2"))) static size_t fill_avx2(json_bits_t *b, size_t w)
{
    return fill(b, w, classify64_avx2);
}
#endif

int json_simd = JSON_SIMD_BEST;

size_t json_bits_fill(json_bits_t *b, size_t w)
{
#if JSON_AVX2_AT_RUN_TIME
    /* libgcc (or compiler-rt) reads the CPU's features before main */
    if (json_simd == JSON_SIMD_BEST && __builtin_cpu_supports("avx2"))
        return fill_avx2(b, w);
#endif
    return fill_base(b, w);
}

/* ---- escapes ------------------------------------------------------------ */

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
    if (end - p < 6 || (u = format_hex4(p + 2)) < 0)
        return NULL;
    if (u < 0xd800 || u > 0xdfff) {
        *cp = (uint32_t)u;
        return p + 6;
    }
    /* a high surrogate must be followed by a low one; a low one alone is bad */
    if (u > 0xdbff || end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
        (lo = format_hex4(p + 8)) < 0xdc00 || lo > 0xdfff)
        return NULL;
    *cp = 0x10000 + (((uint32_t)u - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    return p + 12;
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
        o += format_utf8_put(cp, o);
    }
    return (size_t)(o - out);
}
