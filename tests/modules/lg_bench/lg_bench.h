/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LG_BENCH_H
#define _LG_BENCH_H
int lg_bench_target(int x);
void lg_bench_hold(void);
#endif
