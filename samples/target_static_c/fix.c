// SPDX-License-Identifier: GPL-2.0
/*
 * The fixed lg_target_fix() (tests/modules/lg_target): it was x + 1; now it
 * is lg_target_scale(x) + lg_target_factor + 2000, through the file's own
 * static helper and variable ([[symbol]]s of patch.toml).
 */
#include <linux/compiler.h>

/* lg_target.h's declaration (a header beside fix.c would be found too). */
void lg_target_record(int kind, int v_unit, int v_a, int v_b);

/*
 * Static in this patch: livegraft-gen's generated file includes this one.
 * Calling lg_target_record (an export) also makes the patch module depend
 * on lg_target, so that lg_target cannot be unloaded under the patch.
 */
static noinline int fixed_lg_target_fix(int x)
{
	int factor = READ_ONCE(LIVEGRAFT_SYM(lg_target_factor));

	if (x < 0)
		lg_target_record(0, 6, 6, 6);
	return LIVEGRAFT_SYM(lg_target_scale)(x) + factor + 2000;
}
