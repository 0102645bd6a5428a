// SPDX-License-Identifier: GPL-2.0
/* The same test patch at version 3, for stacking tests. */
#define LG_VERSION 3
#define LG_NAME "lg_testpatch2"
#include "lg_testpatch.c"
