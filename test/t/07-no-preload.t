#!/usr/bin/env bash
# Without shared_preload_libraries: CREATE EXTENSION works (so dumps restore
# anywhere), and every function that needs the worker, shared memory or the
# API refuses with a clear error and a hint.
source "$(dirname "$0")/tap.sh"
plan 6

data=$(mktemp -d "$BILLY_WORK/nopreload.XXXXXX")
own_cluster "$data" 5433 </dev/null
trap 'stop_own_cluster "$data"' EXIT
p() { psql -X -q -A -t -h "$data" -p 5433 -d postgres "$@"; }

p -c "CREATE EXTENSION billy" >/dev/null 2>&1
ok $? "CREATE EXTENSION billy works without preloading"
out=$(p -c "SELECT billy.connect('x', 'http://127.0.0.1:1/v2')" 2>&1)
echo "$out" | grep -q 'ERROR:  billy is not loaded through shared_preload_libraries'
ok $? "billy.connect refuses: billy is not loaded through shared_preload_libraries"
echo "$out" | grep -q "HINT:  Add 'billy' to shared_preload_libraries in postgresql.conf and restart the server."
ok $? "and says what to do"
p -c "SELECT billy.worker_status()" 2>&1 | grep -q 'not loaded through shared_preload_libraries'
ok $? "billy.worker_status refuses the same way"
p -c "SELECT count(*) FROM billy.sync_now()" 2>&1 | grep -q 'not loaded through shared_preload_libraries'
ok $? "billy.sync_now too"
is "$(p -c "SELECT count(*) FROM billy.organizations")" 0 "the tables are there and readable"
done_testing
