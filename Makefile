# vigil top-level build. `make help` lists the targets.

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

PKGS     := libbpf libelf zlib openssl jansson liburing tss2-esys tss2-tctildr tss2-mu libcurl libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -I. -I$(BUILD)/bpf $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread

# The unit-test build: same sources, sanitizers on.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

MODULES  := policies attest exporters agent
lib_srcs  = $(filter-out %/main.c %/vigild.c,$(wildcard $(1)/*.c))
LIB_SRCS := $(foreach m,$(MODULES),$(call lib_srcs,$(m)))
TOOL_SRCS := $(wildcard tools/vigil*.c)

OBJS      := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SAN_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o)

BPF_OBJ  := $(BUILD)/bpf/vigil.bpf.o
SKEL     := $(BUILD)/bpf/vigil.skel.h
VMLINUX  := $(BUILD)/bpf/vmlinux.h
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# Static helper programs copied into the guest by the VM suites (as /tests/bin/NAME).
GUEST_PROGS := $(patsubst tests/vm/progs/%.c,$(BUILD)/guest-tests/%,$(wildcard tests/vm/progs/*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo-run guest-tests check-fuzz check check-unit check-host check-tpm check-vm bench demo clean format format-check help kernel
all: $(BUILD)/vigild $(BUILD)/vigil

help:
	@echo "make            build vigild, vigil and the BPF object into $(BUILD)/"
	@echo "make deps       install the Debian packages vigil needs (idempotent)"
	@echo "make check      all tests: unit (ASan/UBSan), TPM (swtpm), VM (QEMU guest)"
	@echo "make check-unit / check-fuzz / check-host / check-tpm / check-vm   one suite"
	@echo "make bench      benchmarks; figures go to docs/BENCHMARKS.md"
	@echo "make demo       boot a guest with vigild enforcing policies/examples/demo.json"
	@echo "make format     clang-format every C file"

deps:
	$(Q)scripts/deps.sh

# --- BPF ----------------------------------------------------------------
$(VMLINUX):
	$(Q)mkdir -p $(@D)
	$(Q)scripts/vmlinux-h.sh $@

$(BPF_OBJ): bpf/vigil.bpf.c $(wildcard bpf/*.h) $(VMLINUX)
	$(Q)mkdir -p $(@D)
	@echo "  BPF     $@"
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__VIGIL_BPF__ \
		-I$(BUILD)/bpf -Ibpf -Wall -Werror -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(SKEL): $(BPF_OBJ)
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name vigil_bpf > $@.tmp && mv $@.tmp $@

# --- user space -----------------------------------------------------------
$(BUILD)/obj/%.o: %.c | $(SKEL)
	$(Q)mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: %.c | $(SKEL)
	$(Q)mkdir -p $(@D)
	@echo "  CC san  $@"
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libvigil.a: $(OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libvigil-san.a: $(SAN_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/vigild: $(BUILD)/obj/agent/vigild.o $(BUILD)/libvigil.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/vigil: $(TOOL_OBJS) $(BUILD)/libvigil.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- tests ----------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvigil-san.a tests/unit/testutil.h
	$(Q)mkdir -p $(@D)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -Itests/unit -o $@ $< $(BUILD)/libvigil-san.a $(LDLIBS) -lcmocka
$(BUILD)/tests/test_sockaddr: bpf/sockaddr.h

# deps first, then a fresh make that sees the installed packages; -k runs every suite.
check: deps
	$(Q)$(MAKE) --no-print-directory -k check-unit check-fuzz check-host check-tpm check-vm

check-unit: all $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(BUILD) $(UNIT_BINS)

# libFuzzer targets: clang, ASan + UBSan, linked against the library sources directly.
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) | $(SKEL)
	$(Q)mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD)/bpf $(PKG_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRCS) $(LDLIBS)

check-fuzz: $(FUZZ_BINS)
	$(Q)tests/run-fuzz.sh $(BUILD) $(FUZZ_BINS)

check-host: all
	$(Q)tests/run-scripts.sh host $(BUILD)

check-tpm: all
	$(Q)tests/run-scripts.sh tpm $(BUILD)

kernel:
	$(Q)scripts/fetch-kernel.sh

$(BUILD)/guest-tests/%: tests/vm/progs/%.c
	$(Q)mkdir -p $(@D)
	@echo "  STATIC  $@"
	$(Q)$(CC) -O2 -static -std=gnu11 $(WARN) -D_GNU_SOURCE -o $@ $< -luring

guest-tests: $(GUEST_PROGS)

# The audit guest suite runs bench/audit_storm (tests/vm/audit.sh).
check-vm: $(BUILD)/bench/audit_storm

# Host benchmark programs (bench/*.c), run by their bench/*-bench.sh scripts.
$(BUILD)/bench/%: bench/%.c $(BUILD)/libvigil.a
	$(Q)mkdir -p $(@D)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LDLIBS)

check-vm: all kernel $(GUEST_PROGS)
	$(Q)tests/run-vm.sh $(BUILD)

bench: all kernel $(GUEST_PROGS)
	$(Q)bench/run.sh $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory demo-run

demo-run: all kernel
	$(Q)tools/demo.sh $(BUILD)

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	$(Q)clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(SAN_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(BUILD)/obj/agent/vigild.d
