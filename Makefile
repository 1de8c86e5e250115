# synfin: `make demo` runs every scenario, `make test` runs every test.
CC ?= cc
CSTD = -std=c11 -D_POSIX_C_SOURCE=200809L
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Iinclude -Isrc $(CFLAGS)
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CORE_SRC = $(wildcard src/wire/*.c) $(wildcard src/tcp/*.c) $(wildcard src/ip/*.c) $(wildcard src/eth/*.c) $(wildcard src/arp/*.c)
DEV_SRC  = $(wildcard src/dev/*.c)
LAB_SRC  = $(wildcard tools/lab/*.c)
TEST_SRC = $(wildcard tests/*.c)
SOCK_SRC = $(wildcard tools/sock/*.c)
BENCH_SRC = $(wildcard tools/bench/*.c)
HDRS     = $(wildcard include/synfin/*.h) $(wildcard src/*/*.h) $(wildcard tools/*/*.h) $(wildcard tests/*.h)

B = build
A = build/asan

.PHONY: all demo test deps clang-check valgrind clean bench fuzz FORCE
FORCE:

all: $(B)/synfin-lab $(B)/libsynfin.a $(B)/synfin-sock

# ---- normal build ----
$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/libsynfin.a: $(CORE_SRC:%.c=$(B)/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(B)/synfin-lab: $(LAB_SRC:%.c=$(B)/obj/%.o) $(DEV_SRC:%.c=$(B)/obj/%.o) $(B)/libsynfin.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ -lm

$(B)/unit-tests: $(TEST_SRC:%.c=$(B)/obj/%.o) $(DEV_SRC:%.c=$(B)/obj/%.o) $(B)/libsynfin.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ -lm

# sock over a TAP device (Linux): the core, the drivers in src/dev, the tool
$(B)/synfin-sock: $(SOCK_SRC:%.c=$(B)/obj/%.o) $(DEV_SRC:%.c=$(B)/obj/%.o) $(B)/libsynfin.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ -lm

# synfin-bench: synfin against the Linux kernel (docs/BENCHMARKS.md). It
# is built as a release build: the core and the bench at -O3 with
# link-time optimization (the core's calls across files, such as the
# parser's from the input path, are inlined), never sanitizers.
# With gcc on x86-64, small fixed-size memset/memcpy (zeroing a 224-byte
# block) are expanded as vector stores, not `rep stos`, whose start-up
# costs tens of cycles on AMD Zen (measured: -5% per connection cycle).
R = build/rel
REL_IS_CLANG := $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1))
REL_IS_X86 := $(findstring x86_64,$(shell $(CC) -dumpmachine 2>/dev/null))
REL_STRINGOPS = $(if $(REL_IS_X86),$(if $(REL_IS_CLANG),,-mmemset-strategy=vector_loop:2048:noalign,libcall:-1:noalign -mmemcpy-strategy=vector_loop:2048:noalign,libcall:-1:noalign))
REL_OPT ?= -O3 -g $(if $(REL_IS_CLANG),-flto,-flto=auto) $(REL_STRINGOPS)
REL_CFLAGS = $(CSTD) $(WARN) $(REL_OPT) -Iinclude -Isrc $(CFLAGS)
# the flags in a file that changes only when they do: new flags, new objects
$(R)/flags: FORCE
	@mkdir -p $(R)
	@echo '$(CC) $(REL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(REL_CFLAGS)' > $@
$(R)/obj/%.o: %.c $(HDRS) $(R)/flags
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c $< -o $@
$(B)/synfin-bench: $(BENCH_SRC:%.c=$(R)/obj/%.o) $(CORE_SRC:%.c=$(R)/obj/%.o) $(R)/flags
	$(CC) $(REL_CFLAGS) -o $@ $(filter %.o,$^) -lm -pthread

# ---- AddressSanitizer + UndefinedBehaviorSanitizer build, used by make test ----
$(A)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN) -c $< -o $@

$(A)/unit-tests: $(TEST_SRC:%.c=$(A)/obj/%.o) $(DEV_SRC:%.c=$(A)/obj/%.o) $(CORE_SRC:%.c=$(A)/obj/%.o)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ -lm

$(A)/synfin-lab: $(LAB_SRC:%.c=$(A)/obj/%.o) $(DEV_SRC:%.c=$(A)/obj/%.o) $(CORE_SRC:%.c=$(A)/obj/%.o)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ -lm

$(A)/synfin-sock: $(SOCK_SRC:%.c=$(A)/obj/%.o) $(DEV_SRC:%.c=$(A)/obj/%.o) $(CORE_SRC:%.c=$(A)/obj/%.o)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ -lm

demo: deps
	@$(MAKE) --no-print-directory $(B)/synfin-lab
	./$(B)/synfin-lab run all

# Everything compiles warning-free with clang too (objects not kept).
clang-check:
	@command -v clang >/dev/null || { echo "clang not found: apt-get install clang"; exit 1; }
	@for f in $(CORE_SRC) $(DEV_SRC) $(LAB_SRC) $(TEST_SRC) $(SOCK_SRC) $(BENCH_SRC); do \
		clang $(CSTD) $(WARN) -O1 -Iinclude -Isrc -fsyntax-only $$f || exit 1; done
	@echo "clang: all sources compile with -Wall -Wextra -Werror"

deps:
	@sh tools/deps.sh

# deps runs first, on its own, so that a missing compiler is installed
# before anything is built
test: deps
	@$(MAKE) --no-print-directory $(A)/unit-tests $(A)/synfin-lab $(B)/synfin-bench
	@sh tests/run.sh $(A)

# every figure for synfin and Linux in one run; as root the Linux side runs
# in a network namespace of its own (docs/BENCHMARKS.md)
bench: deps
	@$(MAKE) --no-print-directory $(B)/synfin-bench
	./$(B)/synfin-bench --json $(B)/bench.json

valgrind: $(B)/unit-tests $(B)/synfin-lab
	valgrind --error-exitcode=1 --leak-check=full -q ./$(B)/unit-tests
	valgrind --error-exitcode=1 --leak-check=full -q ./$(B)/synfin-lab run all --quiet

clean:
	rm -rf build

# ---- fuzzing (clang's libFuzzer): make fuzz FUZZ_SECONDS=60 ----
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = $(CSTD) -Wall -Wextra -Werror -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
build/fuzz/fuzz_input: tests/fuzz/fuzz_input.c $(CORE_SRC) $(HDRS)
	@mkdir -p build/fuzz/corpus
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_input.c $(CORE_SRC) -o $@

fuzz: build/fuzz/fuzz_input
	./build/fuzz/fuzz_input -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 build/fuzz/corpus
