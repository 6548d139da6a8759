/* fixture_top.h - the job of the top-K suites (tests/check_top.c, tests/check_top_reports.c):
 * lines "PATH STATUS BYTES", an entry hits (by path: the top 2 by a count, 4 rows kept) and an
 * entry vol (by status: the top 2 by a sum, 2 rows kept), and three reports of them. Each suite
 * compiles its own copy (everything here is static). */
#ifndef ABBEY_TESTS_FIXTURE_TOP_H
#define ABBEY_TESTS_FIXTURE_TOP_H

static const char *TOP_RULES =
    "jobs:\n"
    "  - name: j\n"
    "    sources: [/dev/null]\n"
    "    format: {split: \" \", fields: [path, status:int, bytes:int]}\n"
    "    groups:\n"
    "      - name: g\n"
    "        entries:\n"
    "          - name: hits\n"
    "            key: [path]\n"
    "            values: {hits: count, bytes: sum(bytes)}\n"
    "            top: {k: 2, by: hits, capacity: 4}\n"
    "          - name: vol\n"
    "            key: [status]\n"
    "            values: {bytes: sum(bytes), n: count}\n"
    "            top: {k: 2, by: bytes, capacity: 2}\n"
    "    reports:\n"
    "      - {name: hits, entry: hits, metrics: true}\n"
    "      - {name: hits_json, entry: hits, format: json, columns: [path, hits, hits_error]}\n"
    "      - {name: vol, entry: vol, limit: 1}\n";

#endif
