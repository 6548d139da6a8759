/* log.c - one-line, thread-safe log messages carrying the process identity (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "abbey", *log_role = "", *log_name = NULL;

void log_set_identity(const char *program, const char *role, const char *name)
{
    log_program = program;
    log_role = role;
    log_name = name;
}

void log_msg(const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = (size_t)snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld abbey-%s[%s%s%s]: ", tm.tm_hour,
                         tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_program, log_role,
                         log_name ? " " : "", log_name ? log_name : "");
    if (n >= sizeof line)
        n = sizeof line - 1;
    va_start(ap, fmt);
    n += (size_t)vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (n >= sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    if (write(2, line, n) < 0) {
        /* nowhere left to report a failing stderr */
    }
}
