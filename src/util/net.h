/* SPDX-License-Identifier: MIT */
/* net.h: address and path helpers shared by relay and client (no sockets of their own). */
#ifndef SRM_UTIL_NET_H
#define SRM_UTIL_NET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated, at most
 * hostlen - 1 chars) and port (1..65535).  Returns 0, or -1 with a reason
 * in err (errlen bytes).
 */
int srm_net_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
                           size_t errlen);
/* DIR/NAME.EXT into out; -1 if it does not fit. */
int srm_net_key_path(char *out, size_t n, const char *dir, const char *name, const char *ext);
/* Parse a decimal in [min, max]; 0 or -1. */
int srm_net_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
