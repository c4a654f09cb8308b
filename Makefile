# wordcount — build, run, test.
#
#   make            build bin/wordcount-web, bin/wordcount-worker, bin/wordcount-migrate,
#                   bin/wordcount (the admin CLI)
#   make run        install missing packages, start local Redis/Postgres, migrate, run
#   make demo       beside make run: serve a corpus on loopback, submit it as one batch
#   make test       unit + integration tests, then the same suite under ASan+UBSan
#   make check      the suite once, in the current build mode
#   make chaos      the long chaos run (kills, Redis and Postgres restarts)
#   make deps       install missing Debian packages (idempotent)
#   make format     clang-format every C file; make format-check fails on drift
#   make install    PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined   sanitizer build under build/san/
#
# Sources are picked up by directory, so a new module needs no Makefile edit:
# common/*.c, web/*.c, worker/*.c, migrations/*.c and cli/*.c, each program's main.c
# kept apart so tests link every other object. A tree's Lua scripts
# (<tree>/lua/*.lua) are embedded into its library the same way (see LUA_DIRS).

SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc

SANITIZE ?=
FUZZ ?=
ifneq ($(FUZZ),)
# make fuzz: everything built by clang with libFuzzer's coverage hooks.
BUILD := build/fuzz
BIN := build/fuzz/bin
OPT ?= -O1
CC := clang
SANITIZE := fuzzer-no-link,address,undefined
else ifeq ($(SANITIZE),)
BUILD := build/default
BIN := bin
OPT ?= -O2
else
BUILD := build/san
BIN := build/san/bin
OPT ?= -O1
endif

PKGS := libuv hiredis libpq libcurl libxml-2.0 jansson icu-uc icu-i18n inih libssl libcrypto
# yaml-0.1: tests/integration/test_deploy_files.c parses docker-compose.yml;
# zlib: tests/lib/page_server.c makes a gzip bomb.
TEST_PKGS := criterion yaml-0.1 zlib

# pkg-config is asked once per make run, not once per file.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

override CFLAGS += -std=c17 -Wall -Wextra -Werror -Wformat=2 -g $(OPT) \
	-D_GNU_SOURCE -I. $(PKG_CFLAGS) -MMD -MP \
	-DWC_SRCDIR='"$(CURDIR)"' -DWC_DATADIR='"$(PREFIX)/share/wordcount"'
ifneq ($(SANITIZE),)
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDLIBS += $(PKG_LIBS) -lhttp_parser -lcsv -lm

COMMON_SRC := $(sort $(wildcard common/*.c))
WEB_SRC := $(sort $(filter-out web/main.c,$(wildcard web/*.c)))
WORKER_SRC := $(sort $(filter-out worker/main.c,$(wildcard worker/*.c)))
MIGRATE_SRC := $(sort $(filter-out migrations/main.c,$(wildcard migrations/*.c)))
CLI_SRC := $(sort $(filter-out cli/main.c,$(wildcard cli/*.c)))

# Lua: every <tree>/lua/NAME.lua becomes const char lua_NAME[] in one
# generated C file per tree, $(BUILD)/gen/<tree>/lua_embed.c, compiled into
# that tree's library (common/lua/embed.awk; <tree>/lua_scripts.h declares
# them). The generated files live under build/, so `make clean` removes them.
LUA_DIRS := $(patsubst %/lua/,%,$(sort $(dir $(wildcard */lua/*.lua))))
lua_obj = $(if $(filter $(1),$(LUA_DIRS)),$(BUILD)/gen/$(1)/lua_embed.o)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(call lua_obj,common)
WEB_OBJ := $(call obj,$(WEB_SRC)) $(call lua_obj,web)
WORKER_OBJ := $(call obj,$(WORKER_SRC)) $(call lua_obj,worker)
MIGRATE_OBJ := $(call obj,$(MIGRATE_SRC)) $(call lua_obj,migrations)
CLI_OBJ := $(call obj,$(CLI_SRC)) $(call lua_obj,cli)

# Each tree is an archive, so a test links only the objects it uses.
COMMON_LIB := $(BUILD)/libcommon.a
WEB_LIB := $(BUILD)/libweb.a
WORKER_LIB := $(BUILD)/libworker.a
MIGRATE_LIB := $(BUILD)/libmigrate.a
CLI_LIB := $(BUILD)/libcli.a

PROGRAMS := $(BIN)/wordcount-web $(BIN)/wordcount-worker $(BIN)/wordcount-migrate $(BIN)/wordcount

# One Criterion binary per test file; each links the objects of the tree it
# mirrors (tests/unit/web links common + web, and so on), never a main.o.
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
INTEG_SRC := $(sort $(wildcard tests/integration/test_*.c))
CHAOS_SRC := $(sort $(wildcard tests/chaos/test_*.c))
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJ := $(call obj,$(TESTLIB_SRC))
UNIT_BIN := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))
INTEG_BIN := $(patsubst %.c,$(BUILD)/%,$(INTEG_SRC))
CHAOS_BIN := $(patsubst %.c,$(BUILD)/%,$(CHAOS_SRC))

.PHONY: all deps test-deps run demo test check chaos clean install uninstall format format-check fuzz bench valgrind
all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c -o $@ $<

define lua_embed_rule
$(BUILD)/gen/$(1)/lua_embed.c: $(sort $(wildcard $(1)/lua/*.lua $(1)/lua/lib/*.lua)) common/lua/embed.awk
	@mkdir -p $$(dir $$@)
	awk -v header=$(1)/lua_scripts.h -v table=$(1)_lua_scripts -f common/lua/embed.awk \
		$(sort $(wildcard $(1)/lua/*.lua)) >$$@.tmp && mv $$@.tmp $$@
endef
$(foreach d,$(LUA_DIRS),$(eval $(call lua_embed_rule,$(d))))

$(COMMON_LIB): $(COMMON_OBJ)
$(WEB_LIB): $(WEB_OBJ)
$(WORKER_LIB): $(WORKER_OBJ)
$(MIGRATE_LIB): $(MIGRATE_OBJ)
$(CLI_LIB): $(CLI_OBJ)
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN)/wordcount-web: $(BUILD)/web/main.o $(WEB_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/wordcount-worker: $(BUILD)/worker/main.o $(WORKER_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/wordcount-migrate: $(BUILD)/migrations/main.o $(MIGRATE_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/wordcount: $(BUILD)/cli/main.o $(CLI_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tbin = $(patsubst %.c,$(BUILD)/%,$(sort $(wildcard $(1))))
UNIT_COMMON_BIN := $(call tbin,tests/unit/common/test_*.c)
UNIT_WEB_BIN := $(call tbin,tests/unit/web/test_*.c)
UNIT_WORKER_BIN := $(call tbin,tests/unit/worker/test_*.c)
UNIT_MIGRATE_BIN := $(call tbin,tests/unit/migrations/test_*.c)
UNIT_CLI_BIN := $(call tbin,tests/unit/cli/test_*.c)

$(UNIT_COMMON_BIN): %: %.o $(TESTLIB_OBJ) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(UNIT_WEB_BIN): %: %.o $(TESTLIB_OBJ) $(WEB_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(UNIT_WORKER_BIN): %: %.o $(TESTLIB_OBJ) $(WORKER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(UNIT_MIGRATE_BIN): %: %.o $(TESTLIB_OBJ) $(MIGRATE_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(UNIT_CLI_BIN): %: %.o $(TESTLIB_OBJ) $(CLI_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
$(INTEG_BIN) $(CHAOS_BIN): %: %.o $(TESTLIB_OBJ) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

tests-build: $(PROGRAMS) $(UNIT_BIN) $(INTEG_BIN) $(CHAOS_BIN)
.PHONY: tests-build

deps:
	@deploy/deps.sh

# test-deps: also what the tests need (browser, nginx, promtool, systemd-analyze).
test-deps:
	@deploy/deps.sh --test

# check: the suite once in this build mode. tests/run.sh starts a private
# Redis and Postgres on free loopback ports, runs every Criterion binary
# and stops what it started.
check: test-deps
	@$(MAKE) --no-print-directory tests-build
	BIN_DIR=$(CURDIR)/$(BIN) BUILD_DIR=$(CURDIR)/$(BUILD) tests/run.sh

# test: the suite, then the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer.
test: test-deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory check SANITIZE=address,undefined

# chaos: the long chaos run (tests/chaos; a short one is part of check):
# 10,000 jobs, 3 worker processes x 32, JOB_RESCUE_AFTER 5 s, a worker
# killed every 4 s, the supervisor, Redis, Postgres and the web server
# each killed once; fails when rescue p99 is 15 s or more.
# It starts its own Redis and Postgres. The CHAOS_* variables size it.
CHAOS_JOBS ?= 10000
CHAOS_SECONDS ?= 180
CHAOS_WORKERS ?= 3
CHAOS_CONCURRENCY ?= 32
CHAOS_RESCUE_AFTER_MS ?= 5000
CHAOS_KILL_MS ?= 4000
CHAOS_P99_MAX_MS ?= 15000
CHAOS_HOST_CONCURRENCY ?= 0
chaos: test-deps
	@$(MAKE) --no-print-directory tests-build
	BIN_DIR=$(CURDIR)/$(BIN) CHAOS_JOBS=$(CHAOS_JOBS) CHAOS_SECONDS=$(CHAOS_SECONDS) \
		CHAOS_WORKERS=$(CHAOS_WORKERS) CHAOS_CONCURRENCY=$(CHAOS_CONCURRENCY) \
		CHAOS_RESCUE_AFTER_MS=$(CHAOS_RESCUE_AFTER_MS) CHAOS_KILL_MS=$(CHAOS_KILL_MS) \
		CHAOS_P99_MAX_MS=$(CHAOS_P99_MAX_MS) CHAOS_HOST_CONCURRENCY=$(CHAOS_HOST_CONCURRENCY) \
		$(BUILD)/tests/chaos/test_chaos --jobs 1 --verbose

# fuzz: each libFuzzer target (clang, ASan+UBSan) for FUZZ_TIME seconds,
# one after the other, starting from tests/fuzz/corpus-<target>:
#   http     the HTTP request path (web)
#   extract  a page's bytes in any charset to words and counts (worker)
#   url      the URL check, the address policy and FETCH_ALLOW_ADDRESSES
# FUZZ_TARGETS picks some; findings land in build/fuzz/findings/<target>-*.
FUZZ_TIME ?= 60
FUZZ_TARGETS ?= http extract url
FUZZ_MAXLEN_http := 16384
FUZZ_MAXLEN_extract := 65536
FUZZ_MAXLEN_url := 4096
define fuzz_run
	@mkdir -p build/fuzz/corpus-$(1)
	@echo "fuzz: $(1) for $(FUZZ_TIME) s"
	build/fuzz/tests/fuzz/fuzz_$(1) -max_total_time=$(FUZZ_TIME) -max_len=$(FUZZ_MAXLEN_$(1)) \
		-timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/findings/$(1)- \
		build/fuzz/corpus-$(1) tests/fuzz/corpus-$(1)

endef
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 $(addprefix build/fuzz/tests/fuzz/fuzz_,$(FUZZ_TARGETS))
	@mkdir -p build/fuzz/findings
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t)))

build/fuzz/tests/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(WEB_LIB) $(WORKER_LIB) $(COMMON_LIB)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# bench: benchmarks that print figures (nothing asserted), built with -O2:
# the HTTP front end against nginx, 10,000 long-poll waiters on one web
# process (tests/bench/longpoll.sh), extraction + counting against
# libxml2's bare parse (tests/bench/extract.sh), then the whole system end
# to end over the PostgreSQL manual, batches of 10,000 URLs (accept time,
# export lines/s), job searches over a million jobs, the submit, drain and
# Redis rates on 1, 2 and 3 Redis shards, and peak memory under
# worst-case pages and big result reads (see tests/bench/README.md).
BENCH_EXTRACT := $(BUILD)/tests/bench/extract
$(BENCH_EXTRACT): $(BUILD)/tests/bench/extract.o $(WORKER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

BENCH_LONGPOLL := $(BUILD)/tests/bench/longpoll
$(BENCH_LONGPOLL): $(BUILD)/tests/bench/longpoll.o
	$(CC) $(LDFLAGS) -o $@ $^

BENCH_JOBMEM := $(BUILD)/tests/bench/jobmem
$(BENCH_JOBMEM): $(BUILD)/tests/bench/jobmem.o $(WORKER_LIB) $(COMMON_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: deps all $(BENCH_EXTRACT) $(BENCH_JOBMEM) $(BENCH_LONGPOLL)
	tests/bench/http.sh
	BENCH_LONGPOLL=$(CURDIR)/$(BENCH_LONGPOLL) tests/bench/longpoll.sh
	BENCH_EXTRACT=$(CURDIR)/$(BENCH_EXTRACT) tests/bench/extract.sh
	@command -v /usr/sbin/nginx >/dev/null && [ -d /usr/share/doc/postgresql-doc-15/html ] || \
		apt-get install -y -q --no-install-recommends nginx postgresql-doc-15 wrk >/dev/null
	python3 tests/bench/e2e.py
	python3 tests/bench/batch.py
	python3 tests/bench/search.py
	python3 tests/bench/shards.py
	python3 tests/bench/memory.py

# valgrind: web and a worker process serve jobs under valgrind and stop
# on SIGTERM with no errors and no leaks.
valgrind: deps all
	tests/valgrind/shutdown.sh

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/run.sh

# demo: run beside `make run` (PORT the same): serves the PostgreSQL manual
# (postgresql-doc-15) or tests/fixtures/pages on 127.0.0.1:DEMO_PORT and
# submits it as one batch, then follows the batch (deploy/demo.sh).
demo:
	@deploy/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/wordcount/static \
		$(DESTDIR)$(PREFIX)/share/wordcount/migrations
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 worker/data/stopwords-english.txt web/openapi.json $(DESTDIR)$(PREFIX)/share/wordcount/
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/wordcount/migrations/
	if ls web/static/* >/dev/null 2>&1; then \
		install -m 0644 web/static/* $(DESTDIR)$(PREFIX)/share/wordcount/static/; fi

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,wordcount-web wordcount-worker wordcount-migrate wordcount)
	rm -rf $(DESTDIR)$(PREFIX)/share/wordcount

# format rewrites every C file with the project's .clang-format;
# format-check (run by .ci/run before the tests) fails on any drift.
FORMAT_SRC = $(wildcard common/*.[ch] web/*.[ch] worker/*.[ch] migrations/*.[ch] cli/*.[ch] \
	tests/*/*.[ch] tests/*/*/*.[ch])
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (make test-deps)" >&2; exit 1; }
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files clean"

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
