/* SPDX-License-Identifier: MIT */
/*
 * users.c: who may register at this relay.
 *
 * A user is a file DIR/NAME.pub holding an RSA public key, NAME being a
 * valid user name other than "relay".  The key is read when NAME registers,
 * not at start-up, so users can be added (or removed) without a restart.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "log.h"
#include "net.h"
#include "relay.h"

#define PUB_EXT ".pub"

int users_lookup(void *arg, const char *name, struct srm_key **pub)
{
    const struct users *u = arg;
    char path[4096];
    int r;

    /* The name becomes part of a path: only a checked name may reach it. */
    if (srm_name_check_str(name) != 0 || strcmp(name, "relay") == 0) {
        srm_debug("lookup: refused name (not a user name)");
        return SRM_ERR_UNKNOWN_USER;
    }
    if (srm_net_key_path(path, sizeof(path), u->dir, name, "pub") != 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    r = srm_key_load_public(path, pub);
    switch (r) {
    case 0:
        return 0;
    case SRM_ERR_IO:
        srm_debug("lookup: %s: no such user (%s)", name, strerror(errno));
        return SRM_ERR_UNKNOWN_USER;
    default:
        /* A broken key file is the operator's problem: say so, refuse the user. */
        srm_warn("%s is not a usable public key (%s): user %s cannot register until it is "
                 "replaced",
                 path, srm_strerror(r), name);
        srm_log_crypto_errors("lookup");
        return SRM_ERR_UNKNOWN_USER;
    }
}

long users_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t n, ext = strlen(PUB_EXT);
    long count = 0;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);
        if (n <= ext || strcmp(e->d_name + (n - ext), PUB_EXT) != 0 ||
            n - ext > SRM_WIRE_MAX_NAME) {
            continue;
        }
        memcpy(name, e->d_name, n - ext);
        name[n - ext] = '\0';
        if (srm_name_check_str(name) == 0 && strcmp(name, "relay") != 0) {
            count++;
        }
    }
    closedir(d);
    return count;
}
