/* SPDX-License-Identifier: MIT */
/*
 * batch.c: batch mode (standard input is not a terminal).
 *
 * Lines are read once registered (so "the only other user online" is
 * known) and go through the same syntax as the terminal.  At the end of
 * input the client waits until every message it queued is acknowledged end
 * to end, or --wait seconds pass: exit 0 if all were delivered (and every
 * line could be queued), else 1 after naming what was not delivered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "client.h"
#include "log.h"

#define BATCH_READ_CHUNK 4096

static void batch_read_cb(evutil_socket_t fd, short what, void *arg);
static void batch_lines(struct client *c, int eof);
static void batch_wait_cb(evutil_socket_t fd, short what, void *arg);

int batch_start(struct client *c)
{
    if (c->stdin_ev != NULL) {
        /* Registered again after a new connection: input is already being read. */
        return 0;
    }
    c->inbuf = evbuffer_new();
    c->stdin_ev = event_new(c->base, STDIN_FILENO, EV_READ | EV_PERSIST, batch_read_cb, c);
    if (c->inbuf == NULL || c->stdin_ev == NULL || event_add(c->stdin_ev, NULL) != 0) {
        srm_error("cannot read standard input");
        return -1;
    }
    srm_debug("batch: reading standard input");
    return 0;
}

void batch_stop(struct client *c)
{
    if (c->batch && c->stdin_ev != NULL) {
        event_del(c->stdin_ev);
    }
}

/* The link's output drained: read more input if we had paused. */
void batch_resume(struct client *c)
{
    if (c->batch && c->input_paused && !c->input_eof && !c->exiting && c->stdin_ev != NULL) {
        c->input_paused = 0;
        if (event_add(c->stdin_ev, NULL) != 0) {
            srm_error("cannot read standard input");
            client_exit(c, 1);
        }
    }
}

static void batch_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    int n;

    (void)what;
    /* Input is cheap and output is not: stop reading while the relay catches up. */
    if (conn_output_pending(c) > BATCH_PAUSE_OUTBUF) {
        srm_debug("batch: output backlog, pausing input");
        c->input_paused = 1;
        event_del(c->stdin_ev);
        return;
    }
    n = evbuffer_read(c->inbuf, fd, BATCH_READ_CHUNK);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            return;
        }
        ui_error(c, "cannot read standard input: %s", strerror(errno));
        c->failed++;
        n = 0;
    }
    batch_lines(c, n == 0);
}

static void batch_lines(struct client *c, int eof)
{
    while (!c->exiting && !c->input_eof) {
        size_t len = 0;
        char *line = evbuffer_readln(c->inbuf, &len, EVBUFFER_EOL_LF);

        if (line == NULL) {
            break;
        }
        if (c->discarding) {
            /* The end of an over-long line already reported. */
            c->discarding = 0;
        } else {
            cmd_line(c, line, len);
        }
        free(line);
    }
    if (c->exiting || c->input_eof) {
        return;
    }
    if (evbuffer_get_length(c->inbuf) > CLIENT_MAX_LINE) {
        if (!c->discarding) {
            ui_error(c, "line too long (more than %u bytes): not sent",
                     (unsigned)SRM_INNER_MAX_TEXT);
            c->failed++;
        }
        c->discarding = 1;
        evbuffer_drain(c->inbuf, evbuffer_get_length(c->inbuf));
    }
    if (!eof) {
        return;
    }
    /* A last line without a newline still counts. */
    {
        size_t len = evbuffer_get_length(c->inbuf);
        if (len > 0 && !c->discarding) {
            char *line = malloc(len + 1);
            if (line == NULL) {
                ui_error(c, "out of memory");
                c->failed++;
            } else {
                evbuffer_remove(c->inbuf, line, len);
                line[len] = '\0';
                cmd_line(c, line, len);
                free(line);
            }
        }
        evbuffer_drain(c->inbuf, evbuffer_get_length(c->inbuf));
    }
    srm_debug("batch: end of input, %zu message(s) waiting for acknowledgement",
              peers_pending_total(c));
    c->input_eof = 1;
    batch_stop(c);
    batch_check_done(c);
}

/* After the end of input: exit once everything is acknowledged, or start the --wait timer. */
void batch_check_done(struct client *c)
{
    struct timeval tv;

    if (!c->batch || !c->input_eof || c->exiting) {
        return;
    }
    if (peers_pending_total(c) == 0 && c->who_pending == 0) {
        srm_debug("batch: all delivered (%lu line(s) failed)", c->failed);
        client_exit(c, c->failed > 0 ? 1 : 0);
        return;
    }
    if (c->wait_timer != NULL) {
        return;
    }
    c->wait_timer = evtimer_new(c->base, batch_wait_cb, c);
    tv.tv_sec = (time_t)c->wait_secs;
    tv.tv_usec = 0;
    if (c->wait_timer == NULL || evtimer_add(c->wait_timer, &tv) != 0) {
        ui_error(c, "cannot start the --wait timer");
        client_exit(c, 1);
    }
}

static void batch_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    (void)fd;
    (void)what;
    srm_debug("batch: --wait %lu s passed", c->wait_secs);
    peers_report_undelivered(c);
    client_exit(c, 1);
}
