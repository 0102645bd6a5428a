/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the two halves of lg_dup and by lg_sympos. */
#ifndef _LG_DUP_H
#define _LG_DUP_H

/* Each calls the lg_dup_value() of its own C file and returns its result. */
int lg_dup_a_call(void);
int lg_dup_b_call(void);
/* The address of the lg_dup_value() of each C file. */
unsigned long lg_dup_a_addr(void);
unsigned long lg_dup_b_addr(void);

#endif
