# billy: PGXS build of the extension, plus billy-sandbox and billy-mcp-bridge.
#
#   make                 build the extension, billy-sandbox and billy-mcp-bridge
#   make install         install the extension and billy-mcp-bridge (DESTDIR=
#                        for a staged install); the bridge goes next to
#                        PostgreSQL's programs
#   make deb             Debian packages into dist/ (scripts/package, pg_buildext)
#   make pgxn            the PGXN source archive into dist/ (META.json)
#   make install-sandbox install billy-sandbox, the fake Billy API for trying
#                        billy, into SANDBOX_BINDIR (/usr/local/bin), never
#                        into PostgreSQL's directories
#   make installcheck    pg_regress on a temporary instance of its own, with
#                        billy-sandbox (scripts/installcheck); make install first
#   make fuzz-csv        libFuzzer on the CSV reader (FUZZ_SECONDS, default 600);
#                        not part of the tests; installs clang-14 when missing

EXTENSION   = billy
MODULE_big  = billy
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))
# Released versions are frozen files; the version under work is assembled from
# one file per concern (extension/<version>/NN-concern.sql).  CREATE EXTENSION
# runs billy--0.1.0.sql and then each upgrade script in turn.
DATA        = extension/billy--0.1.0.sql
DATA_built  = extension/billy--0.1.0--0.2.0.sql
# make installcheck: the pg_regress suite (sql/, expected/) on a temporary
# instance with billy and pg_cron preloaded and billy-sandbox running
# (scripts/installcheck), not PGXS's run against an existing server
REGRESS     = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
NO_INSTALLCHECK = 1

PG_CONFIG  ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK  = -lcurl -lcrypto

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header dependencies: PGXS tracks them only when PostgreSQL itself was
# configured with --enable-depend, which Debian's is not; without them a
# changed struct in a header left stale objects behind.  In CFLAGS, not
# CPPFLAGS: the bitcode rule (clang -emit-llvm) uses CPPFLAGS too, and its .d
# files, written over the compiler's, named the .bc as the target, so objects
# did not follow their headers after all.
override CFLAGS += -MMD -MP
-include $(OBJS:.o=.d)
clean: clean-deps
clean-deps:
	rm -f $(OBJS:.o=.d)

extension/billy--0.1.0--0.2.0.sql: $(sort $(wildcard $(srcdir)/extension/0.2.0/*.sql))
	cat $^ > $@

.PHONY: installcheck sandbox install-sandbox clean-sandbox mcp-bridge install-mcp-bridge clean-mcp-bridge fuzz-csv deb pgxn

deb:
	$(srcdir)/scripts/package deb

pgxn:
	$(srcdir)/scripts/package pgxn

fuzz-csv:
	$(srcdir)/scripts/fuzz-csv $(FUZZ_SECONDS)

all: sandbox mcp-bridge

installcheck: sandbox
	PG_CONFIG='$(PG_CONFIG)' $(srcdir)/scripts/installcheck

# the sandbox and the bridge are plain programs with flags of their own: not
# PGXS's, which a build environment that exports CFLAGS (dpkg-buildpackage)
# would otherwise hand down to them
PROGRAM_CFLAGS ?= -O2 -g

sandbox:
	$(MAKE) -C sandbox CFLAGS='$(PROGRAM_CFLAGS)'

SANDBOX_BINDIR ?= /usr/local/bin

install-sandbox: sandbox
	$(MAKE) -C sandbox install CFLAGS='$(PROGRAM_CFLAGS)' DESTDIR='$(DESTDIR)' bindir='$(SANDBOX_BINDIR)'

clean: clean-sandbox

clean-sandbox:
	$(MAKE) -C sandbox clean

# Fuzzing (outside the test suite): clang-14 with libFuzzer, ASan and UBSan
# (Debian: clang-14 libclang-rt-14-dev).  Run e.g.
#   make fuzz-pagescan && mkdir -p /tmp/corpus &&
#   fuzz/pagescan_fuzz -max_total_time=600 /tmp/corpus fuzz/corpus/pagescan
FUZZ_CC ?= clang-14
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wno-ignored-attributes

.PHONY: fuzz-pagescan
fuzz-pagescan: fuzz/pagescan_fuzz

fuzz/pagescan_fuzz: fuzz/pagescan_fuzz.c src/pagescan.c src/pagescan.h
	$(FUZZ_CC) $(FUZZ_FLAGS) -I$(srcdir)/src -I$(includedir_server) \
		fuzz/pagescan_fuzz.c src/pagescan.c -L$(pkglibdir) -lpgcommon -lpgport -o $@

mcp-bridge:
	$(MAKE) -C mcp-bridge PG_CONFIG='$(PG_CONFIG)' CFLAGS='$(PROGRAM_CFLAGS)'

install: install-mcp-bridge

install-mcp-bridge: mcp-bridge
	$(MAKE) -C mcp-bridge install PG_CONFIG='$(PG_CONFIG)' CFLAGS='$(PROGRAM_CFLAGS)' DESTDIR='$(DESTDIR)' bindir='$(bindir)'

clean: clean-mcp-bridge

clean-mcp-bridge:
	$(MAKE) -C mcp-bridge clean

# The dashboard (dashboard/): one HTML page, bundled from npm packages pinned in
# dashboard/package-lock.json; needs Node.js and npm, so `make` leaves it out.
# `make install` installs it when it was built: billy.mcp serves it as the MCP
# App ui://billy/dashboard and billy-mcp-bridge --http at /.
.PHONY: dashboard install-dashboard
DASHBOARD_HTML = dashboard/dist/billy-dashboard.html

dashboard:
	cd dashboard && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

install: install-dashboard

install-dashboard:
	@if [ -f '$(DASHBOARD_HTML)' ]; then \
		$(INSTALL_DATA) '$(DASHBOARD_HTML)' '$(DESTDIR)$(datadir)/extension/'; \
	else \
		echo "note: the dashboard is not built (make dashboard needs Node.js and npm): ui://billy/dashboard stays unlisted" >&2; \
	fi
