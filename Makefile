# SPDX-License-Identifier: GPL-2.0
#
# Convenience targets. Kbuild reads ./Kbuild, not this file, when the kernel
# build system descends here (make -C $KDIR M=$PWD).
#
#   make          build livegraft.ko against the cached test kernel (or KDIR=)
#   make test     every test: host cargo tests + VM scenarios (tools/test.sh)
#   make demo     the demo in a VM (tools/demo.sh)
#   make kernel   build (or reuse) the cached test kernel and print its path
#   make clean    remove build outputs from the tree

.PHONY: all module test demo kernel clean

all: module

module:
	@tools/build-module.sh >/dev/null

test:
	@tools/test.sh

demo:
	@tools/demo.sh

kernel:
	@tools/build-kernel.sh

clean:
	rm -rf out src/bindings_generated.rs
	find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name 'Module.symvers' -o -name 'modules.order' \) \
		-not -path './target/*' -delete
