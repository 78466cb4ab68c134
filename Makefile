# Keel's front door. CMake does the building, in build/<type>/ (never in-source).
#
#   make run    install what is missing, build, start a local three-node cluster
#   make test   install what is missing, build Debug and Sanitize, run every test in both
#
# Other targets: deps, build, release, bench, clean.

DEB_PACKAGES := build-essential cmake pkg-config libraft-dev liblmdb-dev libuv1-dev libhiredis-dev redis-tools \
                libcmocka-dev libxxhash-dev lmdb-utils libjansson-dev iptables nftables iproute2 libfaketime \
                libmicrohttpd-dev prometheus
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CTEST_ARGS ?=

.PHONY: all deps build release sanitize test run bench clean

all: build

# Install the Debian packages that are not installed yet (as root, or via sudo).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build/%/CMakeCache.txt:
	cmake -S . -B build/$* -DCMAKE_BUILD_TYPE=$(if $(filter debug,$*),Debug,$(if $(filter release,$*),Release,Sanitize))

build: deps build/debug/CMakeCache.txt
	cmake --build build/debug -j$(JOBS)

release: deps build/release/CMakeCache.txt
	cmake --build build/release -j$(JOBS)

sanitize: deps build/sanitize/CMakeCache.txt
	cmake --build build/sanitize -j$(JOBS)

# Every test, in a Debug build and in an ASan+UBSan build.
test: build sanitize
	cd build/debug && ctest --output-on-failure -j2 $(CTEST_ARGS)
	cd build/sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2 $(CTEST_ARGS)

# A local three-node cluster (in one process until keeld lands).
run: release
	./examples/local-cluster.sh $(ARGS)

bench: release
	./build/release/bench/apply_bench

clean:
	rm -rf build
