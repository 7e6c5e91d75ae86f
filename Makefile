# formpost — build, test, install.  `make`, `make test`, `make run`, `make fuzz`.
# New modules need no Makefile edit: every src/*.c but main.c is library code,
# every tests/unit/test_*.c is a cmocka program, every tests/fuzz/fuzz_*.c a
# libFuzzer target with its seed corpus in tests/fuzz/corpus/<name>/.

PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
SHAREDIR ?= $(PREFIX)/share/formpost
MANDIR   ?= $(PREFIX)/share/man
# systemd's search paths include /usr/local/lib/...; the Debian package
# passes UNITDIR=/lib/systemd/system.
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CC       ?= cc
CLANG    ?= clang
PYTHON   ?= /usr/bin/python3
FUZZ_SECONDS ?= 60

VERSION  := 0.2.0
WARN     := -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wvla -Werror
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DFORMPOST_VERSION='"$(VERSION)"' \
            -DFORMPOST_SHAREDIR='"$(SHAREDIR)"'
# Only code outside src/ needs src/ on the quote path: with src/limits.h
# in an -iquote directory, GCC's <limits.h> include_next finds it instead
# of glibc's (no MB_LEN_MAX: -D_FORTIFY_SOURCE builds fail).
SRCINC   := -iquote src
LDLIBS   := -lcurl -lyaml -lcrypto -lidn2 -lresolv -lz -lpthread
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS     := $(wildcard src/*.c)
LIBSRCS  := $(filter-out src/main.c,$(SRCS))
HDRS     := $(wildcard src/*.h)
UNITS    := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
TOOLS    := $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c))

all: formpost

formpost: $(SRCS:src/%.c=build/%.o)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The worker with ASan+UBSan, for integration tests that hunt memory errors
# and leaks in the running process (tests/integration/test_intake.py).
formpost-asan: $(SRCS:src/%.c=build-asan/%.o)
	$(CC) -O1 -g $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The worker with a schedule of 64 messages, so that tests reach what a
# backlog beyond LIM_SCHEDULE does (tests/integration/test_backlog.py).
formpost-smallq: build/sender-smallq.o $(filter-out build/sender.o,$(SRCS:src/%.c=build/%.o))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/sender-smallq.o: src/sender.c $(HDRS) | build
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -DLIM_SCHEDULE=64 -c -o $@ $<

build/%.o: src/%.c $(HDRS) | build
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

build-asan/%.o: src/%.c $(HDRS) | build-asan
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) -c -o $@ $<

build-fuzz/%.o: src/%.c $(HDRS) | build-fuzz
	$(CLANG) $(WARN) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(CPPFLAGS) -c -o $@ $<

build/test_%: tests/unit/test_%.c $(LIBSRCS:src/%.c=build/%.o) $(wildcard tests/unit/*.h)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(SRCINC) -Itests/unit -o $@ $< $(LIBSRCS:src/%.c=build/%.o) -lcmocka $(LDLIBS)

build-asan/test_%: tests/unit/test_%.c $(LIBSRCS:src/%.c=build-asan/%.o) $(wildcard tests/unit/*.h)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(SRCINC) -Itests/unit -o $@ $< $(LIBSRCS:src/%.c=build-asan/%.o) -lcmocka $(LDLIBS)

# Test helper programs (drivers that integration tests call).
build/tool_%: tests/tools/%.c $(LIBSRCS:src/%.c=build/%.o)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(SRCINC) -o $@ $< $(LIBSRCS:src/%.c=build/%.o) $(LDLIBS)

# The benchmark's helpers: bare (the FastCGI ceiling formpost is compared
# to), sink (an SMTP server that keeps nothing), disk (the fsync reference).
build/bench_metrics: tests/bench/metrics.c build/metrics.o build/util.o
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(SRCINC) -o $@ $^ -lpthread

build/bench_%: tests/bench/%.c | build
	$(CC) $(WARN) $(CFLAGS) -D_GNU_SOURCE -o $@ $< -lfcgi -lpthread

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBSRCS:src/%.c=build-fuzz/%.o) $(wildcard tests/unit/ref_*.h)
	$(CLANG) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined $(CPPFLAGS) $(SRCINC) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

build build-asan build-fuzz:
	mkdir -p $@

# The default template folder is compiled in: rebuild when PREFIX changes.
$(shell mkdir -p build; echo '$(SHAREDIR)' | cmp -s - build/sharedir || \
    echo '$(SHAREDIR)' > build/sharedir)
build/config.o: build/sharedir

units: $(UNITS:%=build/%) $(UNITS:%=build-asan/%) $(TOOLS:%=build/tool_%) formpost-asan \
    formpost-smallq
fuzzers: $(FUZZERS:%=build-fuzz/%)

# Install what is missing (apt-get as root, else print the command).
deps:
	@sh tests/deps.sh

test: deps formpost units fuzzers
	@$(PYTHON) tests/run.py

# Run every fuzzer for FUZZ_SECONDS each, growing its corpus.
fuzz: fuzzers
	@for f in $(FUZZERS); do \
	  n=$${f#fuzz_}; mkdir -p tests/fuzz/corpus/$$n; \
	  echo "== $$f ($(FUZZ_SECONDS)s)"; \
	  build-fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    tests/fuzz/corpus/$$n || exit 1; \
	done

run: deps formpost
	@$(PYTHON) tests/demo.py

# wrk through nginx, formpost beside a bare libfcgi responder; see tests/bench/.
bench: deps formpost build/bench_bare build/bench_sink build/bench_disk build/bench_metrics
	@$(PYTHON) tests/bench/run.py $(BENCH_ARGS)

install: formpost
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/templates/ja $(DESTDIR)$(SHAREDIR)/templates/en
	install -m 0755 formpost $(DESTDIR)$(BINDIR)/formpost
	install -m 0644 templates/ja/* $(DESTDIR)$(SHAREDIR)/templates/ja/
	install -m 0644 templates/en/* $(DESTDIR)$(SHAREDIR)/templates/en/
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 doc/formpost.8 $(DESTDIR)$(MANDIR)/man8/formpost.8
	install -m 0644 doc/formpost.yaml.5 $(DESTDIR)$(MANDIR)/man5/formpost.yaml.5
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	for u in formpost.service formpost.socket; do \
	  sed 's|/usr/bin/formpost|$(BINDIR)/formpost|' conf/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 conf/formpost.sysusers $(DESTDIR)$(SYSUSERSDIR)/formpost.conf
	install -m 0644 conf/formpost.tmpfiles $(DESTDIR)$(TMPFILESDIR)/formpost.conf

# formpost_$(VERSION)_*.deb from a clean copy of the tracked tree, built,
# listed and lintian-checked in a temporary directory (tests/package.py).
deb:
	@$(PYTHON) tests/package.py --out build/deb

clean:
	rm -rf build build-asan build-fuzz formpost formpost-asan formpost-smallq

.PHONY: all units fuzzers deps test fuzz run bench install deb clean
.SECONDARY:
