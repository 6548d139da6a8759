/* fixture_source.h - the shared fixture of the source-layer suites (tests/check_source.c,
 * tests/check_task.c): an APR pool and a temporary directory per test, removed afterwards,
 * and small helpers to name and write files in it.
 *
 * Each suite compiles its own copy (everything here is static); it defines FIXTURE_SUITE
 * (its name: the tmpdir prefix) before including this header. */
#ifndef ABBEY_TESTS_FIXTURE_SOURCE_H
#define ABBEY_TESTS_FIXTURE_SOURCE_H

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef FIXTURE_SUITE
#error "define FIXTURE_SUITE (the suite's name) before including fixture_source.h"
#endif

static apr_pool_t *pool;
static char tmpdir[256];

static inline int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static inline void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/" FIXTURE_SUITE ".XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    apr_terminate();
}

/* tmpdir/name, in the test's pool. */
static inline const char *tpath(const char *name)
{
    return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

/* Write text[0..len) to path (created or truncated). */
static inline void put_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

#endif
