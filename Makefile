# synfin: `make demo` runs every scenario, `make test` runs every test.
CC ?= cc
CSTD = -std=c11 -D_POSIX_C_SOURCE=200809L
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Iinclude -Isrc $(CFLAGS)
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CORE_SRC = $(wildcard src/wire/*.c) $(wildcard src/tcp/*.c) $(wildcard src/ip/*.c)
DEV_SRC  = $(wildcard src/dev/*.c)
LAB_SRC  = $(wildcard tools/lab/*.c)
TEST_SRC = $(wildcard tests/*.c)
HDRS     = $(wildcard include/synfin/*.h) $(wildcard src/*/*.h) $(wildcard tools/lab/*.h) tests/test.h

B = build
A = build/asan

.PHONY: all demo test deps clang-check valgrind clean

all: $(B)/synfin-lab $(B)/libsynfin.a

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

# ---- AddressSanitizer + UndefinedBehaviorSanitizer build, used by make test ----
$(A)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SAN) -c $< -o $@

$(A)/unit-tests: $(TEST_SRC:%.c=$(A)/obj/%.o) $(DEV_SRC:%.c=$(A)/obj/%.o) $(CORE_SRC:%.c=$(A)/obj/%.o)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ -lm

$(A)/synfin-lab: $(LAB_SRC:%.c=$(A)/obj/%.o) $(DEV_SRC:%.c=$(A)/obj/%.o) $(CORE_SRC:%.c=$(A)/obj/%.o)
	$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ -lm

demo: deps
	@$(MAKE) --no-print-directory $(B)/synfin-lab
	./$(B)/synfin-lab run all

# Everything compiles warning-free with clang too (objects not kept).
clang-check:
	@command -v clang >/dev/null || { echo "clang not found: apt-get install clang"; exit 1; }
	@for f in $(CORE_SRC) $(DEV_SRC) $(LAB_SRC) $(TEST_SRC); do \
		clang $(CSTD) $(WARN) -O1 -Iinclude -Isrc -fsyntax-only $$f || exit 1; done
	@echo "clang: all sources compile with -Wall -Wextra -Werror"

deps:
	@sh tools/deps.sh

# deps runs first, on its own, so that a missing compiler is installed
# before anything is built
test: deps
	@$(MAKE) --no-print-directory $(A)/unit-tests $(A)/synfin-lab
	@sh tests/run.sh $(A)

valgrind: $(B)/unit-tests $(B)/synfin-lab
	valgrind --error-exitcode=1 --leak-check=full -q ./$(B)/unit-tests
	valgrind --error-exitcode=1 --leak-check=full -q ./$(B)/synfin-lab run all --quiet

clean:
	rm -rf build
