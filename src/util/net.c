/* SPDX-License-Identifier: MIT */
/* net.c: address and path helpers shared by relay and client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

int srm_net_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') {
        return -1;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int srm_net_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                           size_t errlen)
{
    const char *colon, *hstart, *hend;
    unsigned long p;
    size_t hl;

    if (s[0] == '[') {
        hend = strchr(s, ']');
        if (hend == NULL || hend[1] != ':') {
            snprintf(err, errlen, "'%s' is not [ADDRESS]:PORT", s);
            return -1;
        }
        hstart = s + 1;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "'%s' is not HOST:PORT", s);
            return -1;
        }
        if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            snprintf(err, errlen, "'%s': write an IPv6 address as [ADDRESS]:PORT", s);
            return -1;
        }
        hstart = s;
        hend = colon;
    }
    hl = (size_t)(hend - hstart);
    if (hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "'%s': missing or overlong host", s);
        return -1;
    }
    if (srm_net_parse_uint(colon + 1, 1, 65535, &p) != 0) {
        snprintf(err, errlen, "'%s': port must be 1-65535", s);
        return -1;
    }
    memcpy(host, hstart, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int srm_net_key_path(char *out, size_t n, const char *dir, const char *name, const char *ext)
{
    int w = snprintf(out, n, "%s/%s.%s", dir, name, ext);

    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
