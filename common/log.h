/* log.h - one logging call for every Pacer program.
 *
 * Lines go to stderr (or a file given with log_open) as
 *   2026-11-26T02:40:01.123Z pacerctld[1234]: error: message
 * A daemon calls log_init once; a CLI never logs, it prints its own errors.
 */
#ifndef PACER_LOG_H
#define PACER_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Name the program for every line and set the most verbose level printed. */
void log_init(const char *progname, enum log_level level);

/* Change the most verbose level printed; returns the one before.  (A job
 * supervisor keeps the setup lines its node daemon already logged out of
 * the log.) */
enum log_level log_set_level(enum log_level level);

/* Send lines to PATH (appended, created 0640) instead of stderr.
 * Returns 0, or -1 with errno. */
int log_open(const char *path);

/* Re-open the log file (after logrotate moved it).  Returns 0 or -1. */
int log_reopen(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Parse "error", "warn", "info" or "debug".  Returns 0 or -1 (EINVAL). */
int log_level_parse(const char *s, enum log_level *level);

#endif
