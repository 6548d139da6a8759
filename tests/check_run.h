/* check_run.h - the one way every Check suite of abbey's is run from its main(). */
#ifndef ABBEY_CHECK_RUN_H
#define ABBEY_CHECK_RUN_H

#include <check.h>

/* Run suite s (CK_NORMAL output: the summary line reaches stdout) and return
 * the number of failed tests. */
static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

#endif
