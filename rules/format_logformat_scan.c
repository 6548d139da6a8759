/* format_logformat_scan.c - the splitter's first stage: a window of a line's
 * bytes classified into bit masks, 64 bytes at a time (see
 * format_logformat_int.h, "a line's bytes classified").
 *
 * Three classifiers of the same contract: plain C, SSE2 (every x86-64) and
 * AVX2 (chosen at run time when the CPU has it; the build itself stays at
 * plain -O2). None reads outside the line: the last, partial block of a line
 * is loaded as the line's last 64 bytes and shifted, or, for a line shorter
 * than 64 bytes, copied to a zeroed block first. */
#include "format_logformat_int.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LF_X86 1
#endif

/* The masks of the 64 bytes at p (inside the line, or a zeroed copy): one
 * function per instruction set, inlined into its window classifier. */
#define LF_ALWAYS static inline __attribute__((always_inline))

LF_ALWAYS void block_c(const char *stop, int nstop, const char *p, uint64_t *q, uint64_t *t)
{
    uint64_t mq = 0, mt = 0;
    for (int i = 0; i < 64; i++) {
        char ch = p[i];
        mq |= (uint64_t)(ch == '"' || ch == '\\') << i;
        for (int s = 0; s < nstop; s++)
            mt |= (uint64_t)(ch == stop[s]) << i;
    }
    *q = mq;
    *t = mt;
}

/* The window's blocks with BLOCK (a block_* above): the whole ones in place;
 * a partial last one as the line's last 64 bytes shifted, or from a zeroed
 * copy when the line is shorter than 64 bytes. */
#define CLASSIFY_WINDOW(BLOCK)                                                                     \
    do {                                                                                           \
        size_t len = (size_t)(c->wend - c->base), whole = len / 64, rest = len % 64;               \
        const char *p = c->base;                                                                   \
        for (size_t k = 0; k < whole; k++, p += 64)                                                \
            BLOCK(stop, nstop, p, &c->q[k], &c->t[k]);                                             \
        if (rest) {                                                                                \
            uint64_t q, t;                                                                         \
            if (c->wend - c->line >= 64) {                                                         \
                BLOCK(stop, nstop, c->wend - 64, &q, &t);                                          \
                q >>= 64 - rest;                                                                   \
                t >>= 64 - rest;                                                                   \
            } else {                                                                               \
                char tmp[64] = {0};                                                                \
                memcpy(tmp, p, rest);                                                              \
                BLOCK(stop, nstop, tmp, &q, &t);                                                   \
                q &= ((uint64_t)1 << rest) - 1;                                                    \
                t &= ((uint64_t)1 << rest) - 1;                                                    \
            }                                                                                      \
            c->q[whole] = q;                                                                       \
            c->t[whole] = t;                                                                       \
        }                                                                                          \
        c->nb = (int)(whole + (rest != 0));                                                        \
    } while (0)

static void classify_c(const char *stop, int nstop, lf_cls_t *c)
{
    CLASSIFY_WINDOW(block_c);
}

#ifdef LF_X86
LF_ALWAYS void block_sse2(const char *stop, int nstop, const char *p, uint64_t *q, uint64_t *t)
{
    const __m128i vq = _mm_set1_epi8('"'), vb = _mm_set1_epi8('\\');
    uint64_t mq = 0, mt = 0;
    for (int i = 0; i < 4; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        __m128i a = _mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vb));
        __m128i b = _mm_cmpeq_epi8(x, _mm_set1_epi8(stop[0]));
        for (int s = 1; s < nstop; s++)
            b = _mm_or_si128(b, _mm_cmpeq_epi8(x, _mm_set1_epi8(stop[s])));
        mq |= (uint64_t)(unsigned)_mm_movemask_epi8(a) << (16 * i);
        mt |= (uint64_t)(unsigned)_mm_movemask_epi8(b) << (16 * i);
    }
    *q = mq;
    *t = mt;
}

static void classify_sse2(const char *stop, int nstop, lf_cls_t *c)
{
    CLASSIFY_WINDOW(block_sse2);
}

static void classify_sse2_1(const char *stop, int nstop, lf_cls_t *c)
{
    (void)nstop;
    nstop = 1; /* one stop byte: the compiler drops the others */
    CLASSIFY_WINDOW(block_sse2);
}

#define LF_AVX2 __attribute__((target("avx2")))

LF_AVX2 LF_ALWAYS void block_avx2(const char *stop, int nstop, const char *p, uint64_t *q,
                                  uint64_t *t)
{
    const __m256i vq = _mm256_set1_epi8('"'), vb = _mm256_set1_epi8('\\');
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i a0 = _mm256_or_si256(_mm256_cmpeq_epi8(x0, vq), _mm256_cmpeq_epi8(x0, vb));
    __m256i a1 = _mm256_or_si256(_mm256_cmpeq_epi8(x1, vq), _mm256_cmpeq_epi8(x1, vb));
    __m256i s = _mm256_set1_epi8(stop[0]);
    __m256i b0 = _mm256_cmpeq_epi8(x0, s), b1 = _mm256_cmpeq_epi8(x1, s);
    for (int k = 1; k < nstop; k++) {
        s = _mm256_set1_epi8(stop[k]);
        b0 = _mm256_or_si256(b0, _mm256_cmpeq_epi8(x0, s));
        b1 = _mm256_or_si256(b1, _mm256_cmpeq_epi8(x1, s));
    }
    *q = (uint64_t)(uint32_t)_mm256_movemask_epi8(a0) | (uint64_t)(uint32_t)_mm256_movemask_epi8(a1)
                                                            << 32;
    *t = (uint64_t)(uint32_t)_mm256_movemask_epi8(b0) | (uint64_t)(uint32_t)_mm256_movemask_epi8(b1)
                                                            << 32;
}

LF_AVX2 static void classify_avx2(const char *stop, int nstop, lf_cls_t *c)
{
    CLASSIFY_WINDOW(block_avx2);
}

LF_AVX2 static void classify_avx2_1(const char *stop, int nstop, lf_cls_t *c)
{
    (void)nstop;
    nstop = 1;
    CLASSIFY_WINDOW(block_avx2);
}
#endif

lf_classify_fn *lf_classifier(int level, int nstop)
{
#ifdef LF_X86
    __builtin_cpu_init();
    if (level >= 2 && __builtin_cpu_supports("avx2"))
        return nstop == 1 ? classify_avx2_1 : classify_avx2;
    if (level >= 1)
        return nstop == 1 ? classify_sse2_1 : classify_sse2;
#endif
    (void)level, (void)nstop;
    return classify_c;
}
