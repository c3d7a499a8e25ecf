/* SPDX-License-Identifier: MIT */
/*
 * log.h: logging shared by relay and client.
 *
 * Errors and warnings always go to standard error as one line starting with
 * "error: " or "warning: " (DESIGN.md section 8).  Info lines go to the info
 * stream (the relay: standard error; the client: off unless asked).  Debug
 * lines, only with --debug, go to the debug stream (the relay: standard
 * error; the client: NAME.debug.log).  Never log keys, secrets or message text.
 */
#ifndef SRM_UTIL_LOG_H
#define SRM_UTIL_LOG_H

#include <stdio.h>

enum srm_log_level {
    SRM_LOG_ERROR = 0,
    SRM_LOG_WARN = 1,
    SRM_LOG_INFO = 2,
    SRM_LOG_DEBUG = 3,
};

/* prog prefixes info lines ("relay: ..."); info may be NULL to drop info lines. */
void srm_log_init(const char *prog, FILE *info);
/* Enable debug lines to `debug` (not closed by us unless opened by srm_log_open_debug). */
void srm_log_set_debug(FILE *debug);
/* Open path for appending (mode 0600) as the debug stream; 0 or -1 with errno. */
int srm_log_open_debug(const char *path);
/* 1 when debug logging is on (skip building expensive debug text otherwise). */
int srm_log_debug_enabled(void);
/* Close a debug file opened by srm_log_open_debug. */
void srm_log_close(void);

void srm_log(enum srm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define srm_error(...) srm_log(SRM_LOG_ERROR, __VA_ARGS__)
#define srm_warn(...)  srm_log(SRM_LOG_WARN, __VA_ARGS__)
#define srm_info(...)  srm_log(SRM_LOG_INFO, __VA_ARGS__)
#define srm_debug(...)                                                                             \
    do {                                                                                           \
        if (srm_log_debug_enabled()) {                                                             \
            srm_log(SRM_LOG_DEBUG, __VA_ARGS__);                                                   \
        }                                                                                          \
    } while (0)

/* Drain OpenSSL's error queue into the debug log, prefixed by what failed. */
void srm_log_crypto_errors(const char *what);

#endif
