/* log.h - process log lines: "abbey-<program>[<role> <name>]: message" on stderr.
 *
 * One line per call, written with a single write(2) so lines from threads
 * never interleave. log_set_identity is called once at start-up, before
 * threads; log_msg is thread-safe. */
#ifndef ABBEY_LOG_H
#define ABBEY_LOG_H

/* program: "master", "slave", "replay"; role: "primary", "secondary", "slave", ...;
 * name: the process's --name (may be NULL). The strings must outlive the process. */
void log_set_identity(const char *program, const char *role, const char *name);

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
