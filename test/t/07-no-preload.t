#!/usr/bin/env bash
# Without shared_preload_libraries: CREATE EXTENSION works (so dumps restore
# anywhere), and every function that needs the worker, shared memory or the
# API refuses with a clear error and a hint.
source "$(dirname "$0")/tap.sh"
plan 6

data=$(mktemp -d "$BILLY_WORK/nopreload.XXXXXX")
chmod 755 "$data"
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$data"
as_server "$BILLY_PGBIN/initdb" -D "$data/pg" -U postgres --auth=trust >/dev/null 2>&1
cat >>"$data/pg/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$data'
port = 5433
CONF
as_server "$BILLY_PGBIN/pg_ctl" -D "$data/pg" -l "$data/log" -w start >/dev/null
trap 'as_server "$BILLY_PGBIN/pg_ctl" -D "$data/pg" -m immediate stop >/dev/null 2>&1' EXIT
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
