/* fuzz_rules.c - libFuzzer target for the rules loader: rules_load_buffer on
 * arbitrary bytes must return a config or a positioned error, never crash,
 * read out of bounds or leak (the config's pool is destroyed either way).
 * Build: clang -fsanitize=fuzzer,address,undefined -Irules tests/fuzz/fuzz_rules.c
 *        rules/rules_*.c rules/assign.c rules/expr_*.c rules/agg*.c rules/format*.c
 *        rules/value.c rules/buf.c rules/error.c $(libs) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "rules.h"

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rules_config_t *c = NULL;
    abbey_err_t err;
    apr_status_t rv = rules_load_buffer((const char *)data, size, "fuzz.yaml", root, &c, &err);
    if (rv == APR_SUCCESS) {
        /* touch the model: every group placed on a real master */
        for (int j = 0; j < c->njobs; j++)
            for (int g = 0; g < c->jobs[j].ngroups; g++)
                if (c->jobs[j].groups[g].master < 0 || c->jobs[j].groups[g].master >= c->nmasters)
                    __builtin_trap();
        rules_free(c);
    } else if (c != NULL || memchr(err.msg, '\0', sizeof err.msg) == NULL) {
        __builtin_trap();
    }
    apr_pool_clear(root);
    return 0;
}
