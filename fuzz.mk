# baseledger: fuzzing and memory-checking builds, apart from the main Makefile.
#
#   make -f fuzz.mk fuzz-build          libFuzzer target over src/core (ASan + UBSan)
#   make -f fuzz.mk fuzz-run FUZZ_SECONDS=60
#   make -f fuzz.mk fuzz-selftest       every planted bug in test/fuzz/mutants is caught
#   make -f fuzz.mk ext-asan            the extension built with -fsanitize=address,undefined
#   make -f fuzz.mk ext-plain           the extension built as usual, in a private copy
#
# The extension builds happen in copies of the tree under build/fuzz/ and are
# installed with DESTDIR into private PostgreSQL roots (see
# test/fuzz/private-cluster.sh): nothing here writes to the system's
# PostgreSQL installation. The scripts scripts/fuzz.sh, scripts/sanitize.sh and
# scripts/valgrind.sh drive these targets.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
CLANGXX   ?= clang++-14
FUZZ_DIR  := build/fuzz

CORE_SRCS := $(wildcard src/core/*.cpp)
CORE_HDRS := $(wildcard src/core/*.hpp)

# -O1 keeps the target fast while ASan's reports stay readable. UBSan checks
# are recoverable only so that test/fuzz/ubsan.supp can list known, reported
# issues; halt_on_error=1 makes every other finding a crash for libFuzzer.
# FUZZ_STRICT=1 builds build/fuzz/core_fuzz_strict: no suppressions, and the
# checks that the known issues would fail are on (-DFUZZ_STRICT).
FUZZ_CXXFLAGS := -std=c++17 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
  -fsanitize=fuzzer,address,undefined -fsanitize-recover=undefined
FUZZ_STRICT ?=
ifeq ($(FUZZ_STRICT),1)
FUZZ_BIN  := $(FUZZ_DIR)/core_fuzz_strict
UBSAN_RUN := print_stacktrace=1:halt_on_error=1
else
FUZZ_BIN  := $(FUZZ_DIR)/core_fuzz
UBSAN_RUN := print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/test/fuzz/ubsan.supp
endif
export UBSAN_OPTIONS := $(UBSAN_RUN)

FUZZ_SECONDS   ?= 60
FUZZ_JOBS      ?= 1
MUTANT_SECONDS ?= 60
FUZZ_CORPUS    := $(FUZZ_DIR)/corpus
SEED_CORPUS    := test/fuzz/corpus

.PHONY: fuzz-build fuzz-run fuzz-selftest fuzz-mutants ext-asan ext-plain fuzz-sql-selftest fuzz-clean

# ---- the libFuzzer target ----
fuzz-build: $(FUZZ_BIN)

$(FUZZ_DIR)/core_fuzz: test/fuzz/core_fuzz.cpp $(CORE_SRCS) $(CORE_HDRS) fuzz.mk
	@mkdir -p $(@D)
	$(CLANGXX) $(FUZZ_CXXFLAGS) -Isrc -o $@ test/fuzz/core_fuzz.cpp $(CORE_SRCS) -lcrypto

$(FUZZ_DIR)/core_fuzz_strict: test/fuzz/core_fuzz.cpp $(CORE_SRCS) $(CORE_HDRS) fuzz.mk
	@mkdir -p $(@D)
	$(CLANGXX) $(FUZZ_CXXFLAGS) -DFUZZ_STRICT -Isrc -o $@ test/fuzz/core_fuzz.cpp $(CORE_SRCS) -lcrypto

# Fuzzes for FUZZ_SECONDS with FUZZ_JOBS processes from the seed corpus; new
# inputs go to build/fuzz/corpus and a failing input to build/fuzz/crash-*.
# Exits non-zero on any finding. To replay one input:
#   UBSAN_OPTIONS=halt_on_error=1:suppressions=test/fuzz/ubsan.supp build/fuzz/core_fuzz FILE
fuzz-run: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_CORPUS) $(SEED_CORPUS)
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-fork=$(FUZZ_JOBS)) \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_CORPUS) $(SEED_CORPUS)

# ---- planted bugs: each test/fuzz/mutants/NAME.sed edits one file of a copy
# of src/core (named on its "# file:" line); the target built on that copy
# must find the bug. A mutant that no longer changes its file fails the build,
# so the self-test cannot pass by testing the unchanged code.
MUTANTS := $(sort $(basename $(notdir $(wildcard test/fuzz/mutants/*.sed))))

fuzz-mutants: $(foreach m,$(MUTANTS),$(FUZZ_DIR)/mutant-$(m)/core_fuzz)

$(FUZZ_DIR)/mutant-%/core_fuzz: test/fuzz/mutants/%.sed test/fuzz/core_fuzz.cpp $(CORE_SRCS) $(CORE_HDRS) fuzz.mk
	@rm -rf $(@D) && mkdir -p $(@D)/core
	@cp src/core/*.cpp src/core/*.hpp $(@D)/core/
	@file=$$(sed -n 's/^# file: *//p' $<); \
	  sed -f $< src/core/$$file > $(@D)/core/$$file; \
	  if cmp -s src/core/$$file $(@D)/core/$$file; then \
	    echo "fuzz.mk: mutant $* no longer changes src/core/$$file" >&2; exit 1; fi; \
	  echo "mutant $*: planted in core/$$file"; diff src/core/$$file $(@D)/core/$$file || true
	$(CLANGXX) $(FUZZ_CXXFLAGS) -I$(@D) -o $@ test/fuzz/core_fuzz.cpp $(@D)/core/*.cpp -lcrypto

fuzz-selftest: fuzz-mutants
	bash test/fuzz/run-mutants.sh $(MUTANT_SECONDS) $(MUTANTS)

# ---- the extension, built in a copy of the tree ----
# ext-asan: -fsanitize=address,undefined with g++ (the compiler of the normal
# build), linked against the shared libasan that the postmaster gets through
# LD_PRELOAD. No LLVM bitcode: it would only serve JIT inlining.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize=vptr
TREE_FILES := Makefile baseledger.control src sql expected test scripts

define build_copy
	@rm -rf $(1)/tree && mkdir -p $(1)/tree
	cp -a $(wildcard $(TREE_FILES)) $(1)/tree/
	find $(1)/tree \( -name '*.o' -o -name '*.bc' -o -name '*.so' \) -delete
	rm -rf $(1)/tree/build
	$(3)
	$(MAKE) -C $(1)/tree -j2 PG_CONFIG=$(PG_CONFIG) with_llvm=no $(2)
	rm -rf $(1)/stage && $(MAKE) -C $(1)/tree PG_CONFIG=$(PG_CONFIG) with_llvm=no \
	  DESTDIR=$(abspath $(1))/stage $(2) install
endef

# Where the instrumented server's backends write their sanitizer reports.
SANITIZER_LOG_DIR ?= /tmp/baseledger-sanitizer-reports

ext-asan:
	$(call build_copy,$(FUZZ_DIR)/asan,CXX="g++ $(SAN_FLAGS) -DSANITIZER_LOG_DIR='\"$(SANITIZER_LOG_DIR)\"'" COPT="$(SAN_FLAGS)",cp test/fuzz/sanitizer_options.cpp $(FUZZ_DIR)/asan/tree/src/pg/)

ext-plain:
	$(call build_copy,$(FUZZ_DIR)/plain,)

# ---- planted bugs for the SQL fuzzer: test/fuzz/sql-mutants/NAME.sed edits
# one file of a copy of the tree (its "# file:" line, relative to the top);
# test/fuzz/run-sql-mutants.sh runs the SQL fuzzer against each on a private
# server and expects it to report the bug.
SQL_MUTANTS := $(sort $(basename $(notdir $(wildcard test/fuzz/sql-mutants/*.sed))))

# Planted memory errors for the valgrind run (scripts/valgrind.sh --mutant NAME)
# are built the same way from test/fuzz/memory-mutants/NAME.sed.
vpath %.sed test/fuzz/sql-mutants test/fuzz/memory-mutants

ext-mutant-%: %.sed
	$(call build_copy,$(FUZZ_DIR)/sqlmut-$*,,file=$$(sed -n 's/^# file: *//p' $<); sed -i -f $< $(FUZZ_DIR)/sqlmut-$*/tree/$$file; if cmp -s $$file $(FUZZ_DIR)/sqlmut-$*/tree/$$file; then echo "fuzz.mk: mutant $* no longer changes $$file" >&2; exit 1; fi)

fuzz-sql-selftest:
	bash test/fuzz/run-sql-mutants.sh $(SQL_MUTANTS)

fuzz-clean:
	rm -rf $(FUZZ_DIR)
