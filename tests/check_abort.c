/* check_abort.c - unit tests for the two ways abbey stops on purpose: a failed
 * ABBEY_ASSERT (rules/invariant.c) and control-plane memory that cannot be had
 * (rules/mem.c, mem_x*). Each abort runs in a child process whose stderr the
 * test reads: the oracle is the exact text the contract promises (the file and
 * line this test computes with __FILE__/__LINE__) and the signal. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "invariant.h"
#include "mem.h"

typedef struct child_t {
    int status;     /* waitpid's */
    char err[2048]; /* what it wrote to stderr */
} child_t;

/* Run fn(arg) in a child with stderr into a pipe; the child exits 0 if fn returns. */
static void run_child(void (*fn)(void *), void *arg, child_t *out)
{
    int fds[2];
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    memset(out, 0, sizeof *out);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    while (got < sizeof out->err - 1 &&
           (n = read(fds[0], out->err + got, sizeof out->err - 1 - got)) > 0)
        got += (size_t)n;
    out->err[got] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &out->status, 0), pid);
}

static int aborted(const child_t *c)
{
    return WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGABRT;
}

/* ================================================================ ABBEY_ASSERT */

static int evaluated;

static int count_eval(int v)
{
    evaluated++;
    return v;
}

START_TEST(assert_true_goes_on)
{
    evaluated = 0;
    ABBEY_ASSERT(count_eval(1) == 1);
#ifdef ABBEY_NO_ASSERT
    ck_assert_int_eq(evaluated, 0);
#else
    ck_assert_int_eq(evaluated, 1); /* once, not twice */
#endif
}
END_TEST

#ifndef ABBEY_NO_ASSERT
static void false_assertion(void *arg)
{
    int x = *(int *)arg;
    ABBEY_ASSERT(x == 2 && "ranges sorted");
}
static const int false_assertion_line = __LINE__ - 2;

START_TEST(assert_false_names_the_place_and_aborts)
{
    int one = 1;
    child_t c;
    char want[512];

    run_child(false_assertion, &one, &c);
    snprintf(want, sizeof want,
             "abbey: assertion failed: %s:%d: false_assertion: x == 2 && \"ranges sorted\"\n",
             __FILE__, false_assertion_line);
    ck_assert_msg(aborted(&c), "the child was not aborted (status %d)", c.status);
    ck_assert_str_eq(c.err, want);
}
END_TEST
#endif

/* ================================================================== mem_x* */

static void oom(void *arg)
{
    mem_oom((const char *)arg, 4096);
}

START_TEST(oom_names_what_and_aborts)
{
    child_t c;
    run_child(oom, "a spool segment list", &c);
    ck_assert(aborted(&c));
    ck_assert_str_eq(c.err, "abbey: out of memory: a spool segment list (4096 bytes)\n");
}
END_TEST

START_TEST(xalloc_gives_memory)
{
    char *s = mem_xstrdup("lease 7");
    uint64_t *v = mem_xcalloc(4, sizeof *v);
    ck_assert_str_eq(s, "lease 7");
    ck_assert(v[0] == 0 && v[3] == 0);
    v = mem_xrealloc(v, 1024 * sizeof *v);
    v[1023] = 5;
    ck_assert(v[0] == 0 && v[1023] == 5);
    free(v);
    free(s);
    free(mem_xmalloc(0)); /* never NULL, also for 0 bytes */
}
END_TEST

/* ASan refuses such sizes itself (its own report, not NULL): left to the plain build. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifndef __SANITIZE_ADDRESS__
static void huge_malloc(void *arg)
{
    (void)arg;
    mem_xmalloc(SIZE_MAX - 16);
}

static void huge_calloc(void *arg)
{
    (void)arg;
    mem_xcalloc(SIZE_MAX / 2, 4); /* n * size overflows */
}

START_TEST(xalloc_failure_aborts_with_the_size)
{
    child_t c;
    char want[128];
    run_child(huge_malloc, NULL, &c);
    ck_assert(aborted(&c));
    snprintf(want, sizeof want, "abbey: out of memory: malloc (%zu bytes)\n", SIZE_MAX - 16);
    ck_assert_str_eq(c.err, want);
    run_child(huge_calloc, NULL, &c);
    ck_assert(aborted(&c));
    ck_assert_ptr_nonnull(strstr(c.err, "abbey: out of memory: calloc ("));
}
END_TEST
#endif

static Suite *abort_suite(void)
{
    Suite *s = suite_create("abort");
    TCase *tc = tcase_create("assert");
    tcase_add_test(tc, assert_true_goes_on);
#ifndef ABBEY_NO_ASSERT
    tcase_add_test(tc, assert_false_names_the_place_and_aborts);
#endif
    suite_add_tcase(s, tc);
    tc = tcase_create("mem");
    tcase_add_test(tc, oom_names_what_and_aborts);
    tcase_add_test(tc, xalloc_gives_memory);
#ifndef __SANITIZE_ADDRESS__
    tcase_add_test(tc, xalloc_failure_aborts_with_the_size);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(abort_suite()) ? EXIT_FAILURE : EXIT_SUCCESS;
}
