/* SPDX-License-Identifier: MIT */
/*
 * cmd.c: the line syntax shared by the terminal and batch modes.
 *
 *   /msg NAME TEXT   send TEXT to NAME
 *   /to NAME         make NAME the current peer
 *   /who             ask the relay who is online
 *   /queue           what waits in the outbox, per peer
 *   /fingerprint [NAME]  NAME's pinned key's fingerprint; without NAME
 *                    yours, the relay's and every known peer's
 *   /replay          send the last record again (the peer must refuse it)
 *   /tamper [NAME]   send a record with one bit flipped (ditto)
 *   /help            the list of commands
 *   /quit            leave (batch mode: like the end of input)
 *   //TEXT           send "/TEXT" to the current peer
 *   TEXT             send TEXT to the current peer
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"

#include "client.h"
#include "log.h"

static void cmd_send(struct client *c, const char *to, const char *text, size_t len);
static void cmd_to(struct client *c, const char *arg);
static void cmd_fingerprint(struct client *c, const char *arg);
static void cmd_fingerprint_all(struct client *c);
static void cmd_replay(struct client *c);
static void cmd_tamper(struct client *c, const char *arg);
static void cmd_help(struct client *c);
static void cmd_quit(struct client *c);
static const char *skip_spaces(const char *s);
static size_t word_len(const char *s);

void cmd_line(struct client *c, const char *line, size_t len)
{
    char word[32];
    const char *arg;
    size_t wl;

    /* Lines from Windows editors end in CR LF. */
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len == 0) {
        return;
    }
    if (line[0] != '/' || (len > 1 && line[1] == '/')) {
        const char *to = peers_current(c);
        const char *text = line[0] == '/' ? line + 1 : line;
        size_t tlen = line[0] == '/' ? len - 1 : len;

        if (to == NULL) {
            ui_error(c, "no recipient: use /to NAME");
            c->failed++;
            return;
        }
        cmd_send(c, to, text, tlen);
        return;
    }
    wl = word_len(line);
    if (wl >= sizeof(word)) {
        wl = sizeof(word) - 1;
    }
    memcpy(word, line, wl);
    word[wl] = '\0';
    arg = skip_spaces(line + word_len(line));
    srm_debug("command %s", word);
    if (strcmp(word, "/msg") == 0) {
        char to[SRM_WIRE_MAX_NAME + 2];
        size_t nl = word_len(arg);
        const char *text;

        if (nl == 0 || nl > SRM_WIRE_MAX_NAME) {
            ui_error(c,
                     nl == 0 ? "usage: /msg NAME TEXT" : "invalid name: use 1-32 of a-z 0-9 _ -");
            c->failed++;
            return;
        }
        memcpy(to, arg, nl);
        to[nl] = '\0';
        text = arg + nl;
        if (*text == ' ' || *text == '\t') {
            text++;
        }
        if (*text == '\0') {
            ui_error(c, "usage: /msg NAME TEXT");
            c->failed++;
            return;
        }
        /* text lies within line[0..len): its length is what remains of the line. */
        cmd_send(c, to, text, len - (size_t)(text - line));
    } else if (strcmp(word, "/to") == 0) {
        cmd_to(c, arg);
    } else if (strcmp(word, "/who") == 0) {
        (void)conn_send_who(c);
    } else if (strcmp(word, "/queue") == 0) {
        peers_list_queue(c);
    } else if (strcmp(word, "/replay") == 0) {
        cmd_replay(c);
    } else if (strcmp(word, "/tamper") == 0) {
        cmd_tamper(c, arg);
    } else if (strcmp(word, "/fingerprint") == 0) {
        cmd_fingerprint(c, arg);
    } else if (strcmp(word, "/help") == 0) {
        cmd_help(c);
    } else if (strcmp(word, "/quit") == 0) {
        cmd_quit(c);
    } else {
        ui_error(c, "unknown command '%s': type /help for the list", word);
    }
}

static void cmd_send(struct client *c, const char *to, const char *text, size_t len)
{
    if (peers_send_text(c, to, text, len) != 0) {
        c->failed++;
    }
}

static void cmd_to(struct client *c, const char *arg)
{
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t nl = word_len(arg);
    struct peer *p;

    if (nl == 0) {
        const char *cur = peers_current(c);
        if (cur != NULL) {
            ui_status(c, "messages go to %s", cur);
        } else {
            ui_status(c, "no current peer: use /to NAME");
        }
        return;
    }
    if (nl > SRM_WIRE_MAX_NAME || *skip_spaces(arg + nl) != '\0') {
        ui_error(c, "usage: /to NAME (1-32 of a-z 0-9 _ -)");
        return;
    }
    memcpy(name, arg, nl);
    name[nl] = '\0';
    if (srm_name_check_str(name) != 0) {
        ui_error(c, "invalid name '%s': use 1-32 of a-z 0-9 _ -", name);
        return;
    }
    if (strcmp(name, c->name) == 0) {
        ui_error(c, "cannot talk to yourself: choose another name");
        return;
    }
    p = peers_get(c, name);
    if (p == NULL) {
        ui_error(c, "cannot add %s: too many peers", name);
        return;
    }
    /* Say now, not at the first message, if we have no key for them. */
    if (p->pub == NULL && client_load_public(c, name, &p->pub, 0) != 0) {
        p->pub = NULL;
        return;
    }
    snprintf(c->to, sizeof(c->to), "%s", name);
    ui_status(c, "messages go to %s%s", name,
              p->presence == PEER_ONLINE ? "" : " (offline: messages wait in the outbox)");
    ui_update_prompt(c);
}

static void cmd_fingerprint(struct client *c, const char *arg)
{
    char name[SRM_WIRE_MAX_NAME + 2];
    size_t nl = word_len(arg);
    char fp[SRM_FP_STR_LEN];
    struct peer *p;

    if (nl == 0) {
        cmd_fingerprint_all(c);
        return;
    }
    if (nl == strlen(c->name) && strncmp(arg, c->name, nl) == 0) {
        ui_print(c, "%s: %s (you)", c->name, c->self_fp);
        return;
    }
    if (nl > SRM_WIRE_MAX_NAME) {
        ui_error(c, "invalid name: use 1-32 of a-z 0-9 _ -");
        return;
    }
    memcpy(name, arg, nl);
    name[nl] = '\0';
    if (strcmp(name, "relay") == 0) {
        if (srm_key_fingerprint_str(c->relay_pub, fp, sizeof(fp)) == 0) {
            ui_print(c, "relay: %s (pinned %s)", fp, c->relay_pub_path);
        }
        return;
    }
    if (srm_name_check_str(name) != 0) {
        ui_error(c, "invalid name '%s': use 1-32 of a-z 0-9 _ -", name);
        return;
    }
    p = peers_get(c, name);
    if (p == NULL) {
        ui_error(c, "cannot add %s: too many peers", name);
        return;
    }
    if (p->pub == NULL && client_load_public(c, name, &p->pub, 0) != 0) {
        p->pub = NULL;
        return;
    }
    if (srm_key_fingerprint_str(p->pub, fp, sizeof(fp)) != 0) {
        ui_error(c, "cannot compute the fingerprint of %s's key", name);
        return;
    }
    ui_print(c, "%s: %s", name, fp);
}

/* Yours, the relay's, then every peer we know of (online users and contacts). */
static void cmd_fingerprint_all(struct client *c)
{
    char fp[SRM_FP_STR_LEN];

    ui_print(c, "%s: %s (you)", c->name, c->self_fp);
    if (srm_key_fingerprint_str(c->relay_pub, fp, sizeof(fp)) == 0) {
        ui_print(c, "relay: %s (pinned %s)", fp, c->relay_pub_path);
    }
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (p->pub == NULL && client_load_public(c, p->name, &p->pub, 1) != 0) {
            p->pub = NULL;
            ui_print(c, "%s: no pinned key (%s/%s.pub missing or unreadable)", p->name, c->keys_dir,
                     p->name);
            continue;
        }
        if (srm_key_fingerprint_str(p->pub, fp, sizeof(fp)) == 0) {
            ui_print(c, "%s: %s", p->name, fp);
        }
    }
}

/* Send the last record again, byte for byte, as a replaying attacker would. */
static void cmd_replay(struct client *c)
{
    char to[SRM_WIRE_MAX_NAME + 1];

    if (c->last_rec_len == 0) {
        ui_error(c, "nothing to replay yet: send a message first");
        return;
    }
    if (!conn_is_online(c)) {
        ui_error(c, "not connected to the relay");
        return;
    }
    snprintf(to, sizeof(to), "%s", c->last_rec_to);
    if (conn_send_payload(c, to, c->last_rec, c->last_rec_len, NULL) == 0) {
        ui_status(c, "sent %s your last record again (%zu bytes)", to, c->last_rec_len);
    }
}

static void cmd_tamper(struct client *c, const char *arg)
{
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t nl = word_len(arg);
    const char *to;

    if (nl > SRM_WIRE_MAX_NAME) {
        ui_error(c, "usage: /tamper [NAME]");
        return;
    }
    if (nl > 0) {
        memcpy(name, arg, nl);
        name[nl] = '\0';
        to = name;
    } else if (c->last_rec_len > 0) {
        to = c->last_rec_to;
    } else {
        to = peers_current(c);
    }
    if (to == NULL) {
        ui_error(c, "usage: /tamper NAME (no current peer)");
        return;
    }
    snprintf(name, sizeof(name), "%s", to);
    (void)peers_tamper(c, name);
}

static void cmd_help(struct client *c)
{
    ui_print(c, "commands:");
    ui_print(c, "  /msg NAME TEXT       send TEXT to NAME");
    ui_print(c, "  /to NAME             send plain lines to NAME");
    ui_print(c, "  /who                 list the users online");
    ui_print(c, "  /queue               list the messages waiting for an acknowledgement");
    ui_print(c, "  /fingerprint [NAME]  NAME's pinned key's fingerprint; alone: yours, "
                "the relay's, every peer's");
    ui_print(c, "  /replay              send your last record again (the peer must "
                "refuse it)");
    ui_print(c, "  /tamper [NAME]       send a record with one bit flipped (the peer must "
                "refuse it)");
    ui_print(c, "  /help                this list");
    ui_print(c, "  /quit                leave (also Ctrl-D)");
    ui_print(c, "  TEXT                 send TEXT to the current peer (//TEXT "
                "sends /TEXT)");
}

static void cmd_quit(struct client *c)
{
    size_t pending;

    if (c->batch) {
        /* The same as the end of input: wait for the acknowledgements. */
        c->input_eof = 1;
        batch_stop(c);
        batch_check_done(c);
        return;
    }
    pending = peers_pending_total(c);
    if (pending > 0) {
        ui_warn(c, "%zu message(s) not delivered yet are dropped", pending);
    }
    client_exit(c, 0);
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

static size_t word_len(const char *s)
{
    size_t n = 0;

    while (s[n] != '\0' && s[n] != ' ' && s[n] != '\t') {
        n++;
    }
    return n;
}
