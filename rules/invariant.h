/* invariant.h - ABBEY_ASSERT: invariants of subtle state, checked at run time.
 *
 * ABBEY_ASSERT(cond) states what the code itself guarantees about its own
 * state (range sets sorted and disjoint, a table never full, rounds kept in
 * ascending order, one lease per task): never what a peer, a file or a log
 * line may get wrong, which is an error with a message (error.h). A false
 * condition writes "abbey: assertion failed: FILE:LINE: FUNCTION: COND" to
 * stderr in one write and aborts, so a broken invariant stops the process
 * where it broke instead of corrupting counts later.
 *
 * On by default (the test and sanitizer builds run with them). configure
 * --disable-assertions defines ABBEY_NO_ASSERT, which compiles them to
 * nothing (cond is then not evaluated): so cond must not have side effects.
 * Checks are O(1) or a walk the code does anyway; keep them so. */
#ifndef ABBEY_INVARIANT_H
#define ABBEY_INVARIANT_H

/* Report a failed assertion (the text of cond, where it is) and abort. */
void invariant_failed(const char *cond, const char *file, int line, const char *func)
    __attribute__((noreturn));

#ifdef ABBEY_NO_ASSERT
#define ABBEY_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define ABBEY_ASSERT(cond)                                                                         \
    (__builtin_expect(!!(cond), 1) ? (void)0                                                       \
                                   : invariant_failed(#cond, __FILE__, __LINE__, __func__))
#endif

#endif
