/* SPDX-License-Identifier: MIT */
/* log.c: one-line logging to standard error and an optional debug file (see log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "srm/crypto.h"
#include "log.h"

/* Longest log line kept (longer ones are cut): bounded, like every buffer here. */
#define SRM_LOG_LINE_MAX 4096

static const char *log_prog = "srm";
static FILE *log_info;
static FILE *log_debug;
static int log_debug_owned;

void srm_log_init(const char *prog, FILE *info)
{
    log_prog = prog;
    log_info = info;
}

void srm_log_set_debug(FILE *debug)
{
    log_debug = debug;
}

int srm_log_open_debug(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    FILE *f;

    if (fd < 0) {
        return -1;
    }
    f = fdopen(fd, "a");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    srm_log_close();
    log_debug = f;
    log_debug_owned = 1;
    return 0;
}

int srm_log_debug_enabled(void)
{
    return log_debug != NULL;
}

void srm_log_close(void)
{
    if (log_debug != NULL && log_debug_owned) {
        fclose(log_debug);
    }
    log_debug = NULL;
    log_debug_owned = 0;
}

static void stamp(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    snprintf(out, n, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(tv.tv_usec / 1000));
}

void srm_log(enum srm_log_level level, const char *fmt, ...)
{
    va_list ap;
    FILE *out;
    const char *prefix;
    char ts[32], msg[SRM_LOG_LINE_MAX];

    /* Format once: both outputs print the same text, and one va_list pass is all we need. */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    switch (level) {
    case SRM_LOG_ERROR:
        out = stderr;
        prefix = "error: ";
        break;
    case SRM_LOG_WARN:
        out = stderr;
        prefix = "warning: ";
        break;
    case SRM_LOG_INFO:
        out = log_info;
        prefix = NULL;
        break;
    case SRM_LOG_DEBUG:
    default:
        out = log_debug;
        prefix = "debug: ";
        break;
    }
    if (out != NULL) {
        if (level == SRM_LOG_DEBUG) {
            stamp(ts, sizeof(ts));
            fprintf(out, "%s %s", ts, prefix);
        } else if (prefix != NULL) {
            fputs(prefix, out);
        } else {
            stamp(ts, sizeof(ts));
            fprintf(out, "%s %s: ", ts, log_prog);
        }
        fputs(msg, out);
        fputc('\n', out);
        fflush(out);
    }
    /* Errors and warnings are also kept in the debug log, with a time. */
    if ((level == SRM_LOG_ERROR || level == SRM_LOG_WARN) && log_debug != NULL &&
        log_debug != out) {
        stamp(ts, sizeof(ts));
        fprintf(log_debug, "%s %s%s\n", ts, level == SRM_LOG_ERROR ? "error: " : "warning: ", msg);
    }
}

void srm_log_crypto_errors(const char *what)
{
    char buf[512];

    if (srm_crypto_drain_errors(buf, sizeof(buf)) > 0) {
        srm_debug("%s: libcrypto: %s", what, buf);
    }
}
