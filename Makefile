# Keel's front door. CMake does the building, in build/<type>/ (never in-source).
#
#   make run    install what is missing, build, start a local three-node cluster
#   make test   install what is missing, build Debug and Sanitize, run every test in both,
#               and each fuzz target for FUZZ_SECONDS
#
# Other targets: deps, build, release, fuzz, bench, clean.

DEB_PACKAGES := build-essential cmake pkg-config libraft-dev liblmdb-dev libuv1-dev libhiredis-dev redis-tools \
                libcmocka-dev libxxhash-dev lmdb-utils libjansson-dev iptables nftables iproute2 libfaketime \
                libmicrohttpd-dev prometheus clang libclang-rt-14-dev libssl-dev openssl curl python3-redis python3-flask-session tcl8.6 nodejs
# npm installs ioredis for tests/integration/test_clients_tls_acl. Installed
# only when there is no npm command: a nodejs package that bundles npm
# conflicts with Debian's npm.
NPM_PACKAGE := npm
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CTEST_ARGS ?=

# The libFuzzer targets (tests/fuzz, docs/fuzzing.md), each run this long by `make fuzz`.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := restore resp codec acl

.PHONY: all deps build release sanitize fuzz test run bench clean

all: build

# Install the Debian packages that are not installed yet (as root, or via sudo).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing $(NPM_PACKAGE)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# deps is order-only: under `make -j` the configure step must wait for the
# packages it looks for, without re-running cmake on every make. A configure
# that fails leaves a CMakeCache.txt behind; it is removed so the next make
# configures again instead of building a half-configured tree.
build/%/CMakeCache.txt: | deps
	cmake -S . -B build/$* -DCMAKE_BUILD_TYPE=$(if $(filter debug,$*),Debug,$(if $(filter release,$*),Release,Sanitize)) \
	  || { rm -f $@; exit 1; }

build: deps build/debug/CMakeCache.txt
	cmake --build build/debug -j$(JOBS)

release: deps build/release/CMakeCache.txt
	cmake --build build/release -j$(JOBS)

sanitize: deps build/sanitize/CMakeCache.txt
	cmake --build build/sanitize -j$(JOBS)

# The fuzz targets, built by clang (ASan+UBSan+libFuzzer) in build/fuzz, each
# run for FUZZ_SECONDS from its committed seeds (tests/fuzz/corpus/<target>,
# never written to: new inputs go to build/fuzz/corpus). A crash, a leak or a
# sanitizer report fails the build; its input is in build/fuzz/artifacts.
build/fuzz/CMakeCache.txt: | deps
	CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Sanitize -DKEEL_FUZZ=ON || { rm -f $@; exit 1; }

fuzz: deps build/fuzz/CMakeCache.txt
	cmake --build build/fuzz -j$(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@mkdir -p build/fuzz/artifacts
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  ./build/fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$t- \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>build/fuzz/fuzz_$$t.log \
	    || { tail -n 60 build/fuzz/fuzz_$$t.log; echo "fuzz_$$t FAILED: input in build/fuzz/artifacts"; exit 1; }; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' build/fuzz/fuzz_$$t.log; \
	done

# Every test, in a Debug build and in an ASan+UBSan build, then the fuzz targets.
test: build sanitize
	cd build/debug && ctest --output-on-failure -j2 $(CTEST_ARGS)
	cd build/sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2 $(CTEST_ARGS)
	$(MAKE) fuzz

# A local three-node cluster (in one process until keeld lands).
run: release
	./examples/local-cluster.sh $(ARGS)

bench: release
	./build/release/bench/apply_bench

clean:
	rm -rf build
