# dmabufd — build, run and test. `make run` and `make test` do all set-up on a fresh
# Debian machine of this project's kind (they install what is missing, as root).

SWIFT       ?= swift
PYTHON      ?= python3
SOCKET      ?= /run/dmabufd/dmabufd.sock
DEBUG_BIN    = .build/debug
RELEASE_BIN  = .build/release

# Debian packages: the C libraries the Swift targets link, and what the tests drive.
BUILD_DEBS = libbpf-dev libelf-dev zlib1g-dev libjansson-dev pkg-config
# linux-libc-dev-arm64-cross: arm64's kernel headers, so `make test` also compiles the BPF
# object for arm64 (test-bpf-arm64).
TEST_DEBS  = util-linux varlink-go mandoc zsh fish systemd-container iproute2 curl linux-libc-dev-arm64-cross
# PyPI: a Varlink client we did not write, the test runner, a Prometheus text parser, and
# the Kubernetes manifest checks (schemas carried offline) and YAML linter.
TEST_PIP   = varlink==31.0.0 pytest prometheus-client==0.26.0 kubernetes-validate==1.37.0 yamllint==1.38.0

# promtool checks the metrics text. It is unpacked from Debian's prometheus package, so
# the Prometheus server is never installed.
PROMTOOL = .build-tools/prometheus/usr/bin/promtool

.PHONY: service-user bench test-bench stage install uninstall all build release run test test-unit test-fuzz test-host test-vm e2e demo deps test-deps clean help fuzz conformance test-bpf-arm64

all: build

help:
	@echo "make run     build release and start dmabufd in the foreground (socket $(SOCKET))"
	@echo "make test    install test needs, build once, run the unit, fuzz, host and VM tiers"
	@echo "make e2e     only the VM tier: real DMA-BUFs in a VM (udmabuf, system heap)"
	@echo "make bench   measure passes, Scan, debugfs, fdinfo, Subscribe, memory in the VM; report in bench/results"
	@echo "make fuzz    fuzz the protocol decoder for FUZZ_SECONDS (default 300), corpus in .build-fuzz/corpus"
	@echo "make conformance  the Varlink certification in all four directions (ours and the reference clients and services)"
	@echo "make demo    boot the VM, make a few named buffers, show dmabufctl on them"
	@echo "make build   debug build of dmabufd and dmabufctl"
	@echo "make install static release binaries, man pages, completions, systemd units, the dmabufd user (PREFIX, DESTDIR)"
	@echo "make uninstall  remove what make install installed (same PREFIX, DESTDIR)"
	@echo "make service-user  create the dmabufd system user the service becomes once loaded (make run and make test do)"
	@echo "make clean   remove build output"

deps:
	@missing=""; for p in $(BUILD_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The user the service becomes once loaded, as make install creates it: make run and
# every test tier run dmabufd as it runs installed.
service-user:
	@getent passwd dmabufd >/dev/null || systemd-sysusers $(CURDIR)/dist/sysusers/dmabufd.conf

test-deps: deps service-user $(PROMTOOL)
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@$(PYTHON) -m pip install -q --disable-pip-version-check --root-user-action=ignore $(TEST_PIP)

$(PROMTOOL):
	rm -rf .build-tools/prometheus && mkdir -p .build-tools/prometheus
	cd .build-tools && { apt-get download prometheus 2>/dev/null || { apt-get update -qq && apt-get download prometheus; }; }
	dpkg-deb -x .build-tools/prometheus_*.deb .build-tools/prometheus && rm .build-tools/prometheus_*.deb
	$@ --version >/dev/null

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release service-user
	$(RELEASE_BIN)/dmabufd --socket $(SOCKET)

# One debug build serves every tier: the unit tests link it, the host and VM tiers run
# its binaries (the VM shares this machine's files).
test: test-deps
	$(SWIFT) build --build-tests
	$(MAKE) test-unit test-bpf-arm64 test-fuzz test-host test-vm test-bench

e2e: test-deps
	$(SWIFT) build
	$(MAKE) test-vm

demo: deps
	$(SWIFT) build
	vm/run --timeout 900 -- vm/demo $(CURDIR)/$(DEBUG_BIN)

test-unit:
	$(SWIFT) test --skip-build

# The BPF object for arm64 (the phones, boards and SoCs where camera and display buffers
# live) with the same BPFEmbedder the build uses, so an aarch64 build cannot break unseen.
# clang and llvm-objcopy are the Swift toolchain's, as in the build.
TOOLCHAIN_BIN = $(dir $(realpath $(shell command -v $(SWIFT))))
test-bpf-arm64:
	work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	for source in bpf/*.bpf.c; do \
		name=$$(basename "$$source" .bpf.c) && \
		$(DEBUG_BIN)/BPFEmbedder arm64 $(TOOLCHAIN_BIN)clang $(TOOLCHAIN_BIN)llvm-objcopy "$$source" \
			"$$work/$$name.swift" "$${name}BPFObject" && \
		grep -q "^let $${name}BPFObject: \[UInt8\] = \[" "$$work/$$name.swift" && \
		echo "BPF object $$name for arm64: $$(sed -n 2p "$$work/$$name.swift")" || exit 1; \
	done

# org.varlink.certification in all four directions: our client and service against PyPI
# varlink's and varlink-go's (Tests/integration/test_certification.py).
conformance: test-deps
	$(SWIFT) build
	DMABUFD_BIN_DIR=$(CURDIR)/$(DEBUG_BIN) $(PYTHON) -m pytest -q Tests/integration/test_certification.py

# The protocol decoder under libFuzzer and ASan (Fuzz/): Fuzz/build compiles it into .build-fuzz/.
# SWIFT_BACKTRACE is off because the Swift runtime's crash handler trips ASan; libFuzzer
# prints the stack instead, and saves the input that crashed in .build-fuzz/artifacts/.
FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 30
FUZZ = mkdir -p .build-fuzz/artifacts && SWIFT_BACKTRACE=enable=no .build-fuzz/fuzz-protocol \
	-max_len=1024 -timeout=5 -dict=Fuzz/protocol.dict -artifact_prefix=.build-fuzz/artifacts/

# Grows .build-fuzz/corpus from the seeds in Fuzz/corpus; copy what is worth keeping there.
fuzz: deps
	Fuzz/build
	mkdir -p .build-fuzz/corpus
	$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 .build-fuzz/corpus Fuzz/corpus

# Every seed must pass, then a short run; new inputs go to a temporary folder (the first
# one given), so Fuzz/corpus stays as committed. Any crash, leak or timeout fails.
test-fuzz: deps
	Fuzz/build
	$(FUZZ) Fuzz/corpus/*
	work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
		$(FUZZ) -max_total_time=$(FUZZ_TEST_SECONDS) -print_final_stats=1 "$$work" Fuzz/corpus

# make install: the usual PREFIX (default /usr/local) and DESTDIR; dist/stage builds and
# gathers, dist/install copies (and, with --uninstall, removes) by one table.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL_DIRS = DESTDIR="$(DESTDIR)" BINDIR="$(BINDIR)" SBINDIR="$(SBINDIR)" DATADIR="$(DATADIR)" \
	MANDIR="$(MANDIR)" UNITDIR="$(UNITDIR)" SYSUSERSDIR="$(SYSUSERSDIR)"

stage: deps
	dist/stage $(SBINDIR)

install: stage
	$(INSTALL_DIRS) dist/install

uninstall:
	$(INSTALL_DIRS) dist/install --uninstall

# The benchmark (bench/METHOD.md): release binaries, real buffers in the VM, a report in
# bench/results. make test runs its smoke run (tiny N, debug binaries) so it cannot rot.
bench: release
	DMABUFD_BIN_DIR=$(CURDIR)/$(RELEASE_BIN) bench/run

test-bench:
	DMABUFD_BIN_DIR=$(CURDIR)/$(DEBUG_BIN) bench/run --quick

test-host:
	DMABUFD_BIN_DIR=$(CURDIR)/$(DEBUG_BIN) PROMTOOL=$(CURDIR)/$(PROMTOOL) $(PYTHON) -m pytest -q Tests/integration

# The guest mounts this folder read-only: no pytest cache, no bytecode.
test-vm:
	vm/run --timeout 1800 -- env DMABUFD_BIN_DIR=$(CURDIR)/$(DEBUG_BIN) PROMTOOL=$(CURDIR)/$(PROMTOOL) \
		PYTHONDONTWRITEBYTECODE=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/vm

clean:
	rm -rf .build
