/* SPDX-License-Identifier: MIT */
/*
 * harden.h: process hardening shared by relay and client.
 *
 * Both programs hold private keys and session keys in memory; a core dump or
 * a ptrace attach by another process of the same user would copy them out.
 */
#ifndef SRM_UTIL_HARDEN_H
#define SRM_UTIL_HARDEN_H

/*
 * Disable core dumps (RLIMIT_CORE 0) and mark the process non-dumpable
 * (PR_SET_DUMPABLE 0, which also refuses ptrace attach by non-root).
 * Call once at start-up, before any key is loaded.  Returns 0, or -1 if a
 * step failed (errno set; the caller warns and goes on: the steps are
 * defence in depth, not a precondition).
 */
int srm_harden_process(void);

#endif
