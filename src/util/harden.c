/* SPDX-License-Identifier: MIT */
/* harden.c: keep key material out of core dumps and away from debuggers. */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "harden.h"

int srm_harden_process(void)
{
    struct rlimit rl;
    int r = 0;
    int saved = 0;

    /* Both limits to 0: a soft limit alone could be raised again by us later. */
    rl.rlim_cur = 0;
    rl.rlim_max = 0;
    if (setrlimit(RLIMIT_CORE, &rl) != 0) {
        saved = errno;
        r = -1;
    }
    /* Non-dumpable also stops same-user ptrace attach and /proc/PID/mem reads. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        saved = errno;
        r = -1;
    }
    if (r != 0) {
        errno = saved;
    }
    return r;
}
