# SPDX-License-Identifier: GPL-2.0
#
# Convenience targets. Kbuild reads ./Kbuild, not this file, when the kernel
# build system descends here (make -C $KDIR M=$PWD).
#
#   make          build livegraft.ko against the cached test kernel (or KDIR=)
#   make test     every test: host cargo tests + VM scenarios (tools/test.sh)
#   make demo     the demo in a VM (tools/demo.sh)
#   make kernel   build (or reuse) the cached test kernel and print its path
#   make install  install livegraft.ko into /lib/modules/<release>/extra and run
#                 depmod (INSTALL_MOD_PATH= a staging root, KDIR= the kernel tree)
#   make install-cli   cargo install the livegraft command (PREFIX, default
#                 /usr/local) and its systemd unit (SYSTEMD_UNIT_DIR)
#   make clean    remove build outputs from the tree

.PHONY: all module test demo kernel clean install install-cli
export KDIR INSTALL_MOD_PATH
PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system

all: module

module:
	@tools/build-module.sh >/dev/null

test:
	@tools/test.sh

demo:
	@tools/demo.sh

kernel:
	@tools/build-kernel.sh

install:
	@tools/install-module.sh

install-cli:
	cargo install --locked --path tools/livegraft --root $(DESTDIR)$(PREFIX)
	install -D -m 644 tools/livegraft/systemd/livegraft.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/livegraft.service
	sed -i 's|/usr/local/bin/livegraft|$(PREFIX)/bin/livegraft|' $(DESTDIR)$(SYSTEMD_UNIT_DIR)/livegraft.service

clean:
	rm -rf out src/bindings_generated.rs
	find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name 'Module.symvers' -o -name 'modules.order' \) \
		-not -path './target/*' -delete
