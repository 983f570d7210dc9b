# callrelay — hand-written Makefile: explicit object lists, -MMD -MP dependency files.
CC       ?= gcc
PKGS     := libwebsockets hiredis jansson libcurl libuv openssl
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wformat=2 -Ibroker -Ibroker/lib -Ibroker/net -Ibroker/api -Ibroker/hub -Ibroker/store -Ibroker/out -Iadapters -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -luv -lm
BUILD    ?= build
PYTHON   := /usr/bin/python3

# Pure code: no sockets, no Redis, no loop. Unit-tested and fuzzed on its own.
PURE_SRC := broker/lib/digest.c broker/lib/strmap.c broker/lib/cidr.c broker/lib/streamid.c broker/config.c broker/lib/names.c broker/lib/token.c broker/hub/ticket.c \
            broker/stdwebhooks.c broker/event.c broker/ingest_plan.c broker/lib/redact.c broker/hub/wakeup.c \
            broker/hub/wsproto.c broker/net/wsscan.c broker/hub/frame.c broker/hub/held.c broker/net/http_head.c \
            broker/net/connscan.c broker/lib/form.c broker/event_check.c broker/store/store_reply.c broker/lib/credentials.c broker/lib/forwarded.c broker/api/settings_check.c broker/lib/utf8.c \
            broker/store/call_state.c broker/store/online.c broker/lib/rfc3339.c broker/out/notify_rule.c broker/command_check.c broker/log_level.c broker/lib/request_id.c \
            broker/lib/bounds.c broker/lib/feed_shard.c \
            $(sort $(wildcard adapters/*.c))
# The server: loop, HTTP, websockets, Redis.
SERVER_SRC := broker/log.c broker/metrics.c broker/store/redis_uv.c broker/store/store.c broker/store/store_users.c broker/store/store_integrations.c \
            broker/integrations.c broker/net/listener.c broker/net/connguard.c broker/net/http.c broker/net/http_stream.c \
            broker/api/api_admin.c broker/api/api_users.c broker/ingest.c broker/api/api_hooks.c broker/api/api_ops.c broker/api/api_auth.c \
            broker/api/api_routes.c broker/api/api_static.c \
            broker/store/store_presence.c broker/store/store_calls.c broker/hub/presence.c broker/api/api_calls.c \
            broker/store/store_notifications.c broker/api/api_notifications.c broker/notifier.c \
            broker/hub/hub.c broker/main.c \
            broker/out/http_client.c broker/commands.c broker/store/store_commands.c broker/api/api_commands.c \
            broker/api/api_record.c broker/api/api_finaz.c broker/poller.c broker/out/relay.c broker/net/tls.c
LUA      := $(wildcard broker/store/redis/*.lua)
C_FILES  := $(shell find broker adapters -name '*.[ch]' | sort)

PURE_OBJ   := $(PURE_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/scripts.o $(BUILD)/gen/files.o
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

all: $(BUILD)/callrelay

# The broker allocates through jemalloc (Debian's libjemalloc-dev): fewer instructions per
# allocation than glibc's (tests/load/callgrind.sh). Not under ASan, which brings its own.
MALLOC_LIBS ?= -ljemalloc
$(BUILD)/callrelay: $(PURE_OBJ) $(SERVER_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The Lua scripts are embedded as C strings: scripts.h declares one per file.
$(BUILD)/gen/scripts.c $(BUILD)/gen/scripts.h &: $(LUA) $(wildcard broker/store/redis/lib/*.lua) tools/embed_lua.sh
	@mkdir -p $(BUILD)/gen
	sh tools/embed_lua.sh $(BUILD)/gen $(LUA)
$(BUILD)/gen/scripts.o: $(BUILD)/gen/scripts.c
	$(CC) $(CFLAGS) -c -o $@ $<
$(SERVER_OBJ): $(BUILD)/gen/scripts.h

# The browser module and the demo page are embedded too (api_static.c serves them), so the
# binary stays one file. files.h declares the table; each entry is named by its path here.
EMBEDDED := client/callrelay.js client/callrelay.d.ts demo/index.html demo/demo.css demo/demo.js
$(BUILD)/gen/files.c $(BUILD)/gen/files.h &: $(EMBEDDED) tools/embed_files.sh
	@mkdir -p $(BUILD)/gen
	sh tools/embed_files.sh $(BUILD)/gen $(EMBEDDED)
$(BUILD)/gen/files.o: $(BUILD)/gen/files.c
	$(CC) $(CFLAGS) -c -o $@ $<
$(SERVER_OBJ): $(BUILD)/gen/files.h

# Unit tests #include the .c they test (static functions reachable); link the other pure code.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(PURE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests/unit -o $@ $< $(filter-out %/$*.o,$(PURE_OBJ)) $(LDLIBS) -lcmocka

test-unit: $(UNIT_TESTS)
	@set -e; for t in $(abspath $(UNIT_TESTS)); do echo "== $$t"; (cd tests/unit && $$t); done

# The browser client's unit tests (client/callrelay.js), under node's built-in test runner.
.PHONY: test-client
test-client:
	node --test tests/client/

# The integration suite runs in INTEGRATION_JOBS pytest-xdist workers (each test starts its own
# redis-server and broker), then the tests marked serial (they time or measure memory) alone.
# A suite running beside another takes its ports from another TEST_PORT_BASE (conftest.py).
INTEGRATION_JOBS ?= 4
TEST_PORT_BASE ?= 10000
INTEGRATION = CALLRELAY_BIN=$(abspath $(BUILD)/callrelay) CALLRELAY_TEST_PORT_BASE=$(TEST_PORT_BASE) \
  $(PYTHON) -m pytest -q tests/integration
test-integration: $(BUILD)/callrelay
	$(INTEGRATION) -n $(INTEGRATION_JOBS) -m "not serial"
	$(INTEGRATION) -m serial
test-integration-parallel: $(BUILD)/callrelay
	$(INTEGRATION) -n $(INTEGRATION_JOBS) -m "not serial"
test-integration-serial: $(BUILD)/callrelay
	$(INTEGRATION) -m serial

# deploy/Dockerfile and deploy/compose.yaml run for real under a private dockerd (root, Debian's
# docker.io, debootstrap, docker-compose): minutes, so not part of `make test`. Prints SKIP and
# succeeds when Docker cannot start here. The base image is cached in build/docker-cache/.
.PHONY: test-docker
test-docker:
	/usr/bin/python3 tests/docker/run.py

ASAN_MAKE = $(MAKE) BUILD=build-asan CC=gcc TEST_PORT_BASE=21000 MALLOC_LIBS= \
  CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
  LDFLAGS="-fsanitize=address,undefined"

# The whole suite: formatting, unit, browser client, integration, then C unit and integration
# again under ASan+UBSan, and every fuzz target briefly from its seeds. The same steps as
# format-check test-unit test-client test-integration test-asan fuzz-smoke, overlapped on two
# cores: every build first, then the parallel part of both integration suites and the fuzz
# targets at once, then the serial tests of each suite alone.
test: format-check
	$(MAKE) -j2 -Otarget test-build test-build-asan
	$(MAKE) test-unit test-client
	$(ASAN_MAKE) test-unit
	$(MAKE) -j3 -Otarget test-integration-parallel test-asan-integration-parallel fuzz-smoke
	$(MAKE) test-integration-serial
	$(ASAN_MAKE) test-integration-serial

test-build:  # a recipe: FUZZ_TARGETS is defined below
	$(MAKE) $(BUILD)/callrelay $(UNIT_TESTS) $(FUZZ_TARGETS)
test-build-asan:
	$(ASAN_MAKE) build-asan/callrelay test-unit-build
test-unit-build: $(UNIT_TESTS)
test-asan-integration-parallel:
	$(ASAN_MAKE) test-integration-parallel

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),5)

test-asan:
	$(ASAN_MAKE) test-unit test-integration

FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/fuzz/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30
# Builds every target and runs each for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/NAME,
# read only); what it finds new goes to $(BUILD)/fuzz/corpus/NAME, a crash stops make.
fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$${t##*/fuzz_}; mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  if ! $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/fuzz/corpus/$$n \
	      tests/fuzz/corpus/$$n > $(BUILD)/fuzz/$$n.log 2>&1; then \
	    tail -40 $(BUILD)/fuzz/$$n.log; exit 1; fi; \
	  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(BUILD)/fuzz/$$n.log; done
# The pure code is compiled for fuzzing once (instrumented, not linked with libFuzzer's main);
# each target links against it.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ibroker -Ibroker/lib -Ibroker/net -Ibroker/api -Ibroker/hub -Ibroker/store -Ibroker/out -Iadapters $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ := $(PURE_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
.SECONDARY: $(FUZZ_OBJ)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# Load tool and benchmark against Nchan (tests/load/, README "Performance"). crbench is plain C11 + libc.
$(BUILD)/crbench: tests/load/crbench.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -o $@ $<
crbench: $(BUILD)/crbench
crbench-check: $(BUILD)/crbench $(BUILD)/callrelay
	CRBENCH=$(abspath $(BUILD)/crbench) CALLRELAY_BIN=$(abspath $(BUILD)/callrelay) bash tests/load/crbench-check.sh
bench: $(BUILD)/crbench $(BUILD)/callrelay
	CRBENCH=$(abspath $(BUILD)/crbench) CALLRELAY_BIN=$(abspath $(BUILD)/callrelay) bash tests/load/bench.sh
bench-compare: $(BUILD)/crbench $(BUILD)/callrelay
	CRBENCH=$(abspath $(BUILD)/crbench) CALLRELAY_BIN=$(abspath $(BUILD)/callrelay) bash tests/load/compare.sh
.PHONY: crbench crbench-check bench bench-compare

run: $(BUILD)/callrelay
	sh deploy/run.sh

format:
	clang-format -i $(C_FILES) tests/unit/*.c tests/fuzz/*.c
format-check:
	clang-format --dry-run --Werror $(C_FILES) tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build build-asan

.PHONY: all test test-unit test-integration test-integration-parallel test-integration-serial test-asan test-build test-build-asan test-unit-build test-asan-integration-parallel fuzz fuzz-smoke run format format-check clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
