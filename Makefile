# SPDX-License-Identifier: MIT
# kiln build. `make` builds into .output/; `make V=1` shows the commands.

OUT := .output
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
VMLINUX_H ?= $(OUT)/vmlinux.h
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
BUILD_ID := $(shell (git rev-parse --short=12 HEAD 2>/dev/null || echo dev) | tr -d '\n')

CFLAGS ?= -O2 -g
KILN_CFLAGS := $(CFLAGS) -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-I. -I$(OUT) -DKILN_BUILD_ID='"$(BUILD_ID)"' -MMD -MP
LDLIBS := -lbpf -lelf -ldw -liberty -lz -lsqlite3 -lcurl -lcivetweb -lprotobuf-c -lpcre2-8 -lpthread -lm

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Keep generated intermediates (BPF object, skeleton) between builds.
.SECONDARY:
.PHONY: all deps run test bench fuzz install clean tsan

# Generated sources: BPF skeleton, protobuf-c pprof bindings, embedded assets.
SKEL := $(OUT)/profile.skel.h
PROTO_SRCS := $(wildcard profile/*.proto)
PROTO_C := $(patsubst profile/%.proto,$(OUT)/%.pb-c.c,$(PROTO_SRCS))
UI_FILES := $(sort $(shell find web/ui -type f 2>/dev/null))
SQL_FILES := $(sort $(wildcard storage/*.sql))
GEN_C := $(OUT)/ui_assets.c $(OUT)/sql_assets.c $(OUT)/tls_assets.c $(PROTO_C)

# Folders in dependency order (see README's layout; scripts/check-layout.sh).
LAYERS := lib symbolizer profile profiler storage web cli
MODULE_SRCS := $(filter-out cli/main.c,$(foreach d,$(LAYERS),$(wildcard $(d)/*.c)))
MODULE_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(MODULE_SRCS)) \
	$(patsubst $(OUT)/%.c,$(OUT)/obj/gen/%.o,$(GEN_C))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))
# The synthetic history generator the tests and benches share (not in kiln).
HISTGEN_OBJ := $(OUT)/obj/tests/histgen.o

all: $(OUT)/kiln $(TEST_BINS) $(BENCH_BINS)

deps:
	$(Q)scripts/deps.sh

$(OUT) $(OUT)/obj $(OUT)/tests $(OUT)/bench:
	$(Q)mkdir -p $@

$(VMLINUX_H): | $(OUT)
	$(call msg,GEN,$@)
	$(Q)if [ ! -r $(VMLINUX_BTF) ]; then \
		echo "kiln: error: '$(VMLINUX_BTF)' is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y is needed), or pass VMLINUX_H=path" >&2; exit 1; fi
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(VMLINUX_H) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(OUT) -Ibpf \
		$(if $(filter $(OUT)/vmlinux.h,$(VMLINUX_H)),,-include $(VMLINUX_H)) \
		-c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/%.pb-c.c $(OUT)/%.pb-c.h: profile/%.proto | $(OUT)
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=profile --c_out=$(OUT) $<

$(OUT)/ui_assets.c: scripts/embed.sh $(UI_FILES) | $(OUT)
	$(call msg,EMBED,$@)
	$(Q)scripts/embed.sh ui_assets web/ui $(UI_FILES) > $@

# civetweb's OpenSSL 3 compatibility shim (see web/compat/libssl_shim.c).
$(OUT)/compat/libssl_shim.so: web/compat/libssl_shim.c | $(OUT)
	$(call msg,CC-SO,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -shared -fPIC -O2 -Wl,-soname,libssl.so $< -l:libssl.so.3 -o $@

$(OUT)/tls_assets.c: scripts/embed.sh $(OUT)/compat/libssl_shim.so | $(OUT)
	$(call msg,EMBED,$@)
	$(Q)scripts/embed.sh tls_assets $(OUT)/compat $(OUT)/compat/libssl_shim.so > $@

$(OUT)/sql_assets.c: scripts/embed.sh $(SQL_FILES) | $(OUT)
	$(call msg,EMBED,$@)
	$(Q)scripts/embed.sh sql_assets storage $(SQL_FILES) > $@

# Every object may include generated headers, so they come first.
$(OUT)/obj/%.o: %.c $(SKEL) $(PROTO_C) | $(OUT)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(KILN_CFLAGS) -c $< -o $@

$(OUT)/obj/gen/%.o: $(OUT)/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -I$(OUT) -c $< -o $@

$(OUT)/libkiln.a: $(MODULE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/kiln: $(OUT)/obj/cli/main.o $(OUT)/libkiln.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/%: tests/%.c $(HISTGEN_OBJ) $(OUT)/libkiln.a | $(OUT)/tests
	$(call msg,TEST-CC,$<)
	$(Q)$(CC) $(KILN_CFLAGS) $< $(HISTGEN_OBJ) $(OUT)/libkiln.a $(LDLIBS) -lcmocka -o $@

$(OUT)/bench/%: bench/%.c $(HISTGEN_OBJ) $(OUT)/libkiln.a | $(OUT)/bench
	$(call msg,BENCH-CC,$<)
	$(Q)$(CC) $(KILN_CFLAGS) $< $(HISTGEN_OBJ) $(OUT)/libkiln.a $(LDLIBS) -o $@

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all tsan
	$(Q)scripts/run-tests.sh

# The server built with ThreadSanitizer, for the concurrent web tests
# (tests/integration/web_concurrent.sh): its own objects under .output/tsan.
TSAN_OUT := $(OUT)/tsan
tsan:
	$(Q)$(MAKE) --no-print-directory OUT=$(TSAN_OUT) \
		CFLAGS='-O1 -g -fsanitize=thread' $(TSAN_OUT)/kiln

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run-bench.sh

fuzz: deps
	$(Q)scripts/fuzz.sh

install: $(OUT)/kiln
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX)/bin/kiln)
	$(Q)install -D -m 0755 $(OUT)/kiln $(DESTDIR)$(PREFIX)/bin/kiln
	@# The agent's web process runs as this system user (kiln agent --user).
	$(Q)if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && ! getent passwd kiln >/dev/null; then \
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kiln; fi
	$(Q)mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system
	$(Q)sed 's|@PREFIX@|$(PREFIX)|g' scripts/kiln.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/kiln.service

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
