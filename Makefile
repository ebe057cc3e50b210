# billy: PGXS build of the extension, plus billy-sandbox.
#
#   make                 build the extension and billy-sandbox
#   make install         install both (DESTDIR= for a staged install)
#   make installcheck    pg_regress against a running server (see test/run)
#   make fuzz-csv        libFuzzer on the CSV reader (FUZZ_SECONDS, default 600);
#                        not part of the tests; installs clang-14 when missing

EXTENSION   = billy
MODULE_big  = billy
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# Released versions are frozen files; the version under work is assembled from
# one file per concern (extension/<version>/NN-concern.sql).  CREATE EXTENSION
# runs billy--0.1.0.sql and then each upgrade script in turn.
DATA        = extension/billy--0.1.0.sql
DATA_built  = extension/billy--0.1.0--0.2.0.sql
REGRESS     = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --use-existing --dbname=billy_test

PG_CONFIG  ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK  = -lcurl -lcrypto

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

extension/billy--0.1.0--0.2.0.sql: $(sort $(wildcard $(srcdir)/extension/0.2.0/*.sql))
	cat $^ > $@

.PHONY: sandbox install-sandbox clean-sandbox fuzz-csv

fuzz-csv:
	$(srcdir)/scripts/fuzz-csv $(FUZZ_SECONDS)

all: sandbox

sandbox:
	$(MAKE) -C sandbox

install: install-sandbox

install-sandbox: sandbox
	$(MAKE) -C sandbox install DESTDIR='$(DESTDIR)' bindir='$(bindir)'

clean: clean-sandbox

clean-sandbox:
	$(MAKE) -C sandbox clean
