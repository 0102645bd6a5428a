/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers whose declarations livegraft needs but the 6.12 `kernel` crate's
 * bindings lack. Only what src/bindings.allow names is generated.
 */
#include <linux/ftrace.h>
#include <linux/tracepoint.h>
#include <linux/stacktrace.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include "livegraft.h"
#include "livegraft_symbols.h"
#include <linux/smp.h>
#include <linux/rcupdate.h>
#include <linux/rcupdate_wait.h>
#include "livegraft_glue.h"
