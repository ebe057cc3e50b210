#!/usr/bin/env bash
# docs/install.md as a test: its marked blocks run in order against the
# system's PostgreSQL 15 on a cluster of its own (test/install-guide/run-guide
# says how and what it checks).  Built from this source tree.
exec "$(dirname "$0")/../install-guide/run-guide" source
