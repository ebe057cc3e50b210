#!/usr/bin/env bash
# The Debian packages: docs/install.md's steps with billy installed the way
# its packages section says (make deb: pg_buildext; then apt-get install of
# postgresql-15-billy, billy-mcp-bridge and billy-sandbox), against the
# system's PostgreSQL 15 on a cluster of its own; the packages are removed
# afterwards (test/install-guide/run-guide says how and what it checks).
exec "$(dirname "$0")/../install-guide/run-guide" packages
