/* SPDX-License-Identifier: MIT */
/* Keeps srm_testutil non-empty before any helper exists. */
int srm_testutil_dummy(void);
int srm_testutil_dummy(void)
{
    return 0;
}
