/* SPDX-License-Identifier: MIT */
/*
 * ui.c: everything the client shows, in both modes, and the terminal's
 * line editor.
 *
 * Terminal mode uses GNU readline's callback interface: a libevent event
 * on standard input feeds rl_callback_read_char(), and a line printed while
 * the user is typing is put above the prompt (clear the visible line,
 * print, redraw the prompt and the half-typed line).
 *
 * Batch mode prints each received message to standard output as exactly
 * "PEER: TEXT" (flushed at once) and everything else to standard error.
 *
 * Text from peers is shown only after ui_sanitize(): C0 controls, DEL, C1
 * controls and invalid UTF-8 become '?', so a peer cannot move the cursor,
 * change colours or fake a line from someone else.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "client.h"
#include "log.h"

#define COL_RESET  "\033[0m"
#define COL_NAME   "\033[1;35m" /* bold magenta */
#define COL_TIME   "\033[2m"    /* dim */
#define COL_STATUS "\033[2;36m" /* dim cyan */
#define COL_ERROR  "\033[31m"   /* red */
#define COL_WARN   "\033[33m"   /* yellow */

/* readline's line callback takes no argument: the one client of this process. */
static struct client *ui_client;
static int ui_in_handler;

static void ui_stdin_cb(evutil_socket_t fd, short what, void *arg);
static void ui_winch_cb(evutil_socket_t fd, short what, void *arg);
static void ui_line_cb(char *line);
static void ui_emit(struct client *c, int is_err, const char *color, const char *line);
static void ui_vformat(struct client *c, const char *color, const char *prefix, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));
static void ui_vdiag(struct client *c, enum srm_log_level level, const char *word,
                     const char *color, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static int utf8_seq(const uint8_t *in, size_t n, size_t *seqlen);

/* Terminal mode: install the line editor once registered. */
int ui_start(struct client *c)
{
    if (c->rl_installed || c->exiting) {
        return 0;
    }
    ui_client = c;
    /* libevent owns the signals: readline must not install handlers of its own. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    c->stdin_ev = event_new(c->base, STDIN_FILENO, EV_READ | EV_PERSIST, ui_stdin_cb, c);
    c->sig_winch = evsignal_new(c->base, SIGWINCH, ui_winch_cb, c);
    if (c->stdin_ev == NULL || c->sig_winch == NULL || event_add(c->stdin_ev, NULL) != 0 ||
        evsignal_add(c->sig_winch, NULL) != 0) {
        ui_error(c, "cannot watch the terminal");
        return -1;
    }
    ui_update_prompt(c);
    rl_callback_handler_install(c->prompt, ui_line_cb);
    c->rl_installed = 1;
    ui_print(c, "type a message, or /help");
    return 0;
}

/* Give the terminal back as it was; safe to call on every exit path. */
void ui_stop(struct client *c)
{
    if (c->batch) {
        return;
    }
    if (c->stdin_ev != NULL) {
        event_del(c->stdin_ev);
    }
    if (c->rl_installed) {
        if (!ui_in_handler) {
            /* Leave no prompt behind for the shell to write after. */
            rl_clear_visible_line();
        }
        rl_callback_handler_remove();
        c->rl_installed = 0;
        fflush(stdout);
    }
}

void ui_update_prompt(struct client *c)
{
    const char *cur = peers_current(c);
    char prompt[sizeof(c->prompt)];

    if (cur != NULL) {
        snprintf(prompt, sizeof(prompt), "[%s]> ", cur);
    } else {
        snprintf(prompt, sizeof(prompt), "> ");
    }
    if (strcmp(prompt, c->prompt) == 0) {
        return;
    }
    snprintf(c->prompt, sizeof(c->prompt), "%s", prompt);
    if (c->rl_installed && !ui_in_handler) {
        /* Erase the old prompt and the line, then draw both again with the new prompt. */
        rl_clear_visible_line();
        rl_set_prompt(c->prompt);
        rl_on_new_line();
        rl_forced_update_display();
    } else if (c->rl_installed) {
        /* Redrawn by readline after the handler returns. */
        rl_set_prompt(c->prompt);
    }
}

static void ui_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    rl_callback_read_char();
}

static void ui_winch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    (void)fd;
    (void)what;
    if (c->rl_installed) {
        rl_resize_terminal();
    }
}

static void ui_line_cb(char *line)
{
    struct client *c = ui_client;

    ui_in_handler = 1;
    if (line == NULL) {
        /* Ctrl-D: readline printed no newline. */
        fputc('\n', stdout);
        fflush(stdout);
        srm_debug("end of input (Ctrl-D)");
        client_exit(c, 0);
    } else {
        size_t len = strlen(line);
        if (len > 0) {
            add_history(line);
        }
        if (len > CLIENT_MAX_LINE) {
            ui_error(c, "line too long (%zu bytes, at most %u): not sent", len,
                     (unsigned)SRM_INNER_MAX_TEXT);
        } else {
            cmd_line(c, line, len);
        }
        free(line);
    }
    ui_in_handler = 0;
}

/*
 * Print one finished line.  On a live prompt: clear what is shown, print,
 * then let readline draw the prompt and the half-typed line again.
 */
static void ui_emit(struct client *c, int is_err, const char *color, const char *line)
{
    /* Batch: only messages go to standard output.  Terminal: errors to standard error. */
    FILE *out = (c->batch || is_err) ? stderr : stdout;
    int live = c->rl_installed && !ui_in_handler;

    if (live) {
        rl_clear_visible_line();
        /* readline draws on stdout; errors go to stderr: keep the order. */
        fflush(stdout);
    }
    if (color != NULL && c->color) {
        fprintf(out, "%s%s%s\n", color, line, COL_RESET);
    } else {
        fprintf(out, "%s\n", line);
    }
    fflush(out);
    if (live) {
        rl_on_new_line();
        rl_forced_update_display();
    }
}

static void ui_vformat(struct client *c, const char *color, const char *prefix, const char *fmt,
                       va_list ap)
{
    char line[1024];
    size_t pl = strlen(prefix);

    snprintf(line, sizeof(line), "%s", prefix);
    vsnprintf(line + pl, sizeof(line) - pl, fmt, ap);
    ui_emit(c, 0, color, line);
}

/* A message from a peer. */
void ui_message(struct client *c, const char *from, const uint8_t *text, size_t len)
{
    char *clean = malloc(len + 1);
    char when[16];
    time_t now = time(NULL);
    struct tm tm;

    if (clean == NULL) {
        ui_error(c, "out of memory: a message from %s could not be shown", from);
        return;
    }
    ui_sanitize(text, len, clean);
    if (c->batch) {
        /* The contract scripts rely on: exactly "PEER: TEXT", at once. */
        fprintf(stdout, "%s: %s\n", from, clean);
        fflush(stdout);
    } else {
        int live = c->rl_installed && !ui_in_handler;

        if (localtime_r(&now, &tm) == NULL || strftime(when, sizeof(when), "%H:%M", &tm) == 0) {
            snprintf(when, sizeof(when), "--:--");
        }
        if (live) {
            rl_clear_visible_line();
        }
        if (c->color) {
            printf(COL_TIME "[%s]" COL_RESET " " COL_NAME "%s" COL_RESET ": %s\n", when, from,
                   clean);
        } else {
            printf("[%s] %s: %s\n", when, from, clean);
        }
        fflush(stdout);
        if (live) {
            rl_on_new_line();
            rl_forced_update_display();
        }
    }
    OPENSSL_cleanse(clean, len + 1);
    free(clean);
}

/* "-- " status lines: terminal dim cyan, batch to standard error. */
void ui_status(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vformat(c, COL_STATUS, "-- ", fmt, ap);
    va_end(ap);
}

/* "error: " lines, always on standard error (red on a terminal), also in the debug log. */
void ui_error(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vdiag(c, SRM_LOG_ERROR, "error", COL_ERROR, fmt, ap);
    va_end(ap);
}

/* "warning: " lines, the same way as ui_error (yellow on a terminal). */
void ui_warn(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vdiag(c, SRM_LOG_WARN, "warning", COL_WARN, fmt, ap);
    va_end(ap);
}

/*
 * Errors and warnings: to the log (standard error) in batch mode or before
 * readline is up; otherwise "word: msg" on the terminal in color, and the
 * same into the debug log.
 */
static void ui_vdiag(struct client *c, enum srm_log_level level, const char *word,
                     const char *color, const char *fmt, va_list ap)
{
    char msg[1024];
    char line[1100];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (c->batch || !c->rl_installed) {
        srm_log(level, "%s", msg);
        return;
    }
    srm_debug("%s: %s", word, msg);
    snprintf(line, sizeof(line), "%s: %s", word, msg);
    ui_emit(c, 1, color, line);
}

/* Plain output (help, fingerprints): terminal stdout, batch standard error. */
void ui_print(struct client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ui_vformat(c, NULL, "", fmt, ap);
    va_end(ap);
}

/*
 * Copy n bytes of peer text to out (room n + 1, NUL-terminated) with every
 * control character and every byte of invalid UTF-8 replaced by '?'.
 * Returns the output length (<= n).
 */
size_t ui_sanitize(const uint8_t *in, size_t n, char *out)
{
    size_t i = 0;
    size_t o = 0;

    while (i < n) {
        size_t seq = 0;

        if (utf8_seq(in + i, n - i, &seq) != 0) {
            /* A whole forbidden character, or one byte of a broken one, becomes one '?'. */
            out[o++] = '?';
            i += seq > 0 ? seq : 1;
            continue;
        }
        memcpy(out + o, in + i, seq);
        o += seq;
        i += seq;
    }
    out[o] = '\0';
    return o;
}

/*
 * 0 if in[0..n) starts with one printable UTF-8 character (*seqlen bytes):
 * well-formed (no overlong form, no surrogate, at most U+10FFFF) and not a
 * C0/C1 control, DEL, a line or paragraph separator or a bidi override.
 * -1 otherwise, with *seqlen the length of a well-formed but refused
 * character, or 0 if the bytes are not UTF-8.
 */
static int utf8_seq(const uint8_t *in, size_t n, size_t *seqlen)
{
    uint8_t b = in[0];
    uint32_t cp;
    uint32_t min;
    size_t need;
    size_t k;

    *seqlen = 0;
    if (b < 0x80) {
        if (b < 0x20 || b == 0x7f) {
            return -1;
        }
        *seqlen = 1;
        return 0;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1fu;
        min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0fu;
        min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07u;
        min = 0x10000;
    } else {
        return -1;
    }
    if (need > n - 1) {
        return -1;
    }
    for (k = 1; k <= need; k++) {
        if ((in[k] & 0xc0u) != 0x80u) {
            return -1;
        }
        cp = (cp << 6) | (in[k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) {
        return -1;
    }
    /* Well-formed from here: a refused character is skipped whole. */
    *seqlen = need + 1;
    /* C1 controls: some terminals act on U+009B as CSI. */
    if (cp >= 0x80u && cp <= 0x9fu) {
        return -1;
    }
    /* Line breaks and bidi controls could make text look like another line or sender. */
    if (cp == 0x2028u || cp == 0x2029u || (cp >= 0x202au && cp <= 0x202eu) ||
        (cp >= 0x2066u && cp <= 0x2069u)) {
        return -1;
    }
    *seqlen = need + 1;
    return 0;
}
