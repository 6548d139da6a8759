/* fixture_sqlite.h - a history database read back with SQLite's own API, not abbey's reader
 * (tests/check_history.c, tests/check_keys_top.c): the rows of a query as text. Each suite
 * compiles its own copy (everything here is static). */
#ifndef ABBEY_TESTS_FIXTURE_SQLITE_H
#define ABBEY_TESTS_FIXTURE_SQLITE_H

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* The rows of sql over the database file (read with SQLite's API) as text: cells '|'-separated,
 * rows '\n'-ended, NULL as "<null>", reals as %.6g, text in brackets. */
static const char *sqlite_rows(const char *file, const char *sql)
{
    static char out[4096];
    sqlite3 *db;
    sqlite3_stmt *st;
    size_t o = 0;
    ck_assert_int_eq(sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *sep = i ? "|" : "";
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                o += (size_t)snprintf(out + o, sizeof out - o, "%s%lld", sep,
                                      (long long)sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                o += (size_t)snprintf(out + o, sizeof out - o, "%s%.6g", sep,
                                      sqlite3_column_double(st, i));
                break;
            case SQLITE_TEXT:
                o += (size_t)snprintf(out + o, sizeof out - o, "%s[", sep);
                ck_assert_uint_lt(o + (size_t)sqlite3_column_bytes(st, i) + 2, sizeof out);
                memcpy(out + o, sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
                o += (size_t)sqlite3_column_bytes(st, i);
                o += (size_t)snprintf(out + o, sizeof out - o, "]");
                break;
            default:
                o += (size_t)snprintf(out + o, sizeof out - o, "%s<null>", sep);
            }
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

#endif
