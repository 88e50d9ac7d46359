# baseledger: PGXS build of the extension, its unit tests and its test suites.
EXTENSION   = baseledger
MODULE_big  = baseledger
DATA        = $(wildcard sql/$(EXTENSION)--*.sql)
PGFILEDESC  = "baseledger - budget firewall for AI agents"

CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS   = $(wildcard src/pg/*.cpp)
OBJS      = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# Regression tests (sql/*.sql -> expected/*.out), isolation specs and pgTAP
# files are run by scripts/run-db-tests.sh against an existing database that
# has pg_cron installed, so they are not wired into PGXS's installcheck.
REGRESS_TESTS   = $(sort $(basename $(notdir $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))))
ISOLATION_TESTS = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))

PG_CONFIG ?= pg_config

# Server headers are system headers: -Werror applies to our code only.
PG_INCLUDE_SERVER := $(shell $(PG_CONFIG) --includedir-server)
CXX_STD   = -std=c++17
WARNINGS  = -Wall -Wextra -Werror -Wno-unused-parameter
PG_CPPFLAGS = -Isrc -isystem $(PG_INCLUDE_SERVER)
PG_CXXFLAGS = $(CXX_STD) $(WARNINGS) -fvisibility=hidden -fvisibility-inlines-hidden -MMD -MP
SHLIB_LINK  = -lstdc++ -lcrypto

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS adds the server include dir with -I, which would put PostgreSQL's own
# warnings under our -Werror: keep only our -isystem form.
override CPPFLAGS := $(filter-out -I$(PG_INCLUDE_SERVER),$(CPPFLAGS))

# PGXS compiles C++ to LLVM bitcode for JIT inlining without our -std flag.
COMPILE.cxx.bc = $(CLANG) -xc++ $(CXX_STD) -Wno-ignored-attributes $(BITCODE_CXXFLAGS) $(CPPFLAGS) -flto=thin -emit-llvm -c

# ---- unit tests of the pure core (GoogleTest, no server) ----
UNIT_SRCS = $(wildcard test/unit/*.cpp)
UNIT_BIN  = build/unit_tests
CORE_UNIT_OBJS = $(patsubst src/core/%.cpp,build/core/%.o,$(CORE_SRCS))

# The core must build without PostgreSQL headers: no server include path here.
$(CORE_SRCS:.cpp=.o) $(CORE_SRCS:.cpp=.bc): override CPPFLAGS := -Isrc

build/core/%.o: src/core/%.cpp $(wildcard src/core/*.hpp)
	@mkdir -p $(dir $@)
	$(CXX) $(CXX_STD) $(WARNINGS) -g -O1 -Isrc -c -o $@ $<

$(UNIT_BIN): $(UNIT_SRCS) $(CORE_UNIT_OBJS) $(wildcard src/core/*.hpp)
	@mkdir -p $(dir $@)
	$(CXX) $(CXX_STD) $(WARNINGS) -g -O1 -Isrc -o $@ $(UNIT_SRCS) $(CORE_UNIT_OBJS) -lgtest -lgtest_main -lpthread -lcrypto

.PHONY: unit format check-format print-tests
unit: $(UNIT_BIN)
	./$(UNIT_BIN)

format:
	clang-format -i src/core/*.cpp src/core/*.hpp src/pg/*.cpp src/pg/*.hpp test/unit/*.cpp

check-format:
	clang-format --dry-run --Werror src/core/*.cpp src/core/*.hpp src/pg/*.cpp src/pg/*.hpp test/unit/*.cpp

print-tests:
	@echo "regress: $(REGRESS_TESTS)"
	@echo "isolation: $(ISOLATION_TESTS)"

EXTRA_CLEAN = build results regression.diffs regression.out output_iso $(OBJS:.o=.d)

# Rebuild objects when a header they include changes.
-include $(OBJS:.o=.d)
