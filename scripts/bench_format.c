/* bench_format.c - line-format throughput: parse a log file N times, count by status.
 *
 * Not part of the build. From the source tree:
 *   gcc -O2 -std=gnu11 -D_GNU_SOURCE -Irules $(pkg-config --cflags apr-1) scripts/bench_format.c
 * rules/format*.c rules/error.c rules/invariant.c -o /tmp/bench_format
 * $(pkg-config --libs apr-1) /tmp/bench_format data/apache_combined_10k.log 200
 * [combined|common|json] [need-bits-hex] Prints lines/s for format_parse alone (the file is in
 * memory, lines are found with memchr, status counted in an array), on one core, by wall clock and
 * by CPU time (the latter is steadier on a busy machine). need-hex defaults to 100 (status only);
 * fff also splits the request. json (a file from scripts/gen_json.c) counts the member "status"
 * (need bit 0). */
#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE N [combined|common] [need-hex]\n", argv[0]);
        return 2;
    }
    const char *fmtname = argc > 3 ? argv[3] : "combined";
    uint64_t need = argc > 4 ? strtoull(argv[4], NULL, 16) : (1u << 8); /* status */
    int rounds = atoi(argv[2]);
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) {
        perror(argv[1]);
        return 1;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, fp) != (size_t)size) {
        perror("read");
        return 1;
    }
    fclose(fp);

    apr_pool_t *pool;
    format_t *f;
    abbey_err_t err;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    if (format_create_builtin(fmtname, pool, &f, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int status = 8; /* combined and common; json: the member "status" (need bit 0) */
    if (format_is_open(f)) {
        status = format_field_index(f, "status", 6);
        need = argc > 4 ? need : (uint64_t)1 << status;
    }
    format_state_t *st = format_state_create(f, 1 << 20, pool);
    value_t fields[FORMAT_MAX_FIELDS];
    long counts[10000] = {0}, bad = 0, lines = 0;
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int r = 0; r < rounds; r++) {
        const char *p = data, *end = data + size;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                nl = end;
            if (format_parse(st, p, (size_t)(nl - p), need, 0, fields) == FORMAT_OK)
                counts[fields[status].kind == VALUE_INT && (uint64_t)fields[status].i < 10000
                           ? fields[status].i
                           : 0]++;
            else
                bad++;
            lines++;
            p = nl + 1;
        }
    }
    double dt = now(CLOCK_MONOTONIC) - t0, dc = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    printf("%s: %ld lines in %.3f s: %.2f M lines/s, %.0f MB/s; per CPU second %.2f M lines/s "
           "(bad %ld, 200: %ld)\n",
           fmtname, lines, dt, lines / dt / 1e6, (double)size * rounds / dt / 1e6, lines / dc / 1e6,
           bad, counts[200]);
    apr_pool_destroy(pool);
    apr_terminate();
    free(data);
    return 0;
}
