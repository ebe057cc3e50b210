#!/usr/bin/env bash
# Dead ends a new user met, each now said out loud:
#   - billy installed in another database than the worker serves
#     (billy.database_name): connect, sync and schedule_sync warn there, with
#     what to set; in the served database they do not;
#   - schedule_sync without pg_cron's second step explains both steps;
#   - billy.database_name names no database: the worker's FATAL is logged
#     once with a hint (not every 5 s with the postmaster's exit line), and
#     the worker starts by itself once the database exists.
source "$(dirname "$0")/tap.sh"
plan 13

# --- another database of the same cluster -----------------------------------
token=$(q "SELECT billy_test.token(2)")
url=$(q "SELECT billy_test.setting('api_url')")
psql -X -q -c "DROP DATABASE IF EXISTS billy_elsewhere WITH (FORCE)" -c "CREATE DATABASE billy_elsewhere" 2>/dev/null
trap 'psql -X -q -c "DROP DATABASE IF EXISTS billy_elsewhere WITH (FORCE)" >/dev/null 2>&1' EXIT
e() { psql -X -q -A -t -d billy_elsewhere -v ON_ERROR_STOP=1 "$@" 2>&1; }
e -c "CREATE EXTENSION billy" >/dev/null

out=$(e -v token="$token" -v url="$url" <<<"SELECT billy.connect(:'token', :'url')")
echo "$out" | grep -q "WARNING:  billy's worker serves database \"billy_test\", not \"billy_elsewhere\""
ok $? "billy.connect in another database warns that the worker serves billy_test"
echo "$out" | grep -q "HINT:  Set billy.database_name = 'billy_elsewhere' in postgresql.conf and restart the server, or use billy in database \"billy_test\"."
ok $? "and says what to set"
echo "$out" | grep -q 'after billy.connect() here, nothing in "billy_elsewhere" is synced'
ok $? "and why it matters"

out=$(e -c "SELECT billy.sync()")
echo "$out" | grep -q "WARNING:  billy's worker serves database \"billy_test\""
ok $? "billy.sync there warns too"
echo "$out" | grep -q "^[1-9]"
ok $? "and still queues (the jobs run if the worker is moved here)"

out=$(e -c "SELECT billy.schedule_sync()")
echo "$out" | grep -q "WARNING:  billy's worker serves database \"billy_test\""
ok $? "billy.schedule_sync there warns"
echo "$out" | grep -q 'ERROR:  pg_cron runs in database "billy_test", not in "billy_elsewhere"' &&
    echo "$out" | grep -q "set cron.database_name = 'billy_elsewhere'" &&
    echo "$out" | grep -q "cron.schedule_in_database('billy-sync'"
ok $? "and explains both ways out of pg_cron's other database"

# --- the served database: no warning; pg_cron's second step missing ------------
out=$(psql -X -q -A -t 2>&1 <<'SQL'
BEGIN;
SELECT billy.sync();
ROLLBACK;
SQL
)
echo "$out" | grep -q WARNING
ok $((! $?)) "billy.sync in the served database does not warn"
had_cron=$(q "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")
out=$(psql -X -q -A -t 2>&1 <<'SQL'
BEGIN;
DROP EXTENSION IF EXISTS pg_cron;
SELECT billy.schedule_sync();
ROLLBACK;
SQL
)
echo "$out" | grep -q 'ERROR:  pg_cron is loaded but not created in this database' &&
    echo "$out" | grep -q "DETAIL:  Step 1 of pg_cron's two is done" &&
    echo "$out" | grep -q 'HINT:  CREATE EXTENSION pg_cron; then call billy.schedule_sync() again.'
ok $? "schedule_sync without CREATE EXTENSION pg_cron says which step is missing (pg_cron was created: $had_cron)"

# --- a worker whose database does not exist ----------------------------------
data=$(mktemp -d "$BILLY_WORK/nodb.XXXXXX")
own_cluster "$data" 5434 <<'CONF'
shared_preload_libraries = 'billy'
billy.database_name = 'books'
CONF
trap 'psql -X -q -c "DROP DATABASE IF EXISTS billy_elsewhere WITH (FORCE)" >/dev/null 2>&1; stop_own_cluster "$data"' EXIT
# three starts of the worker at least (it is restarted every 5 s)
sleep 11
is "$(grep -c 'FATAL:  database "books" does not exist' "$data/log")" 1 \
    "the missing database is logged once in 11 s, not at every restart"
grep -q 'HINT:  billy.database_name names the database billy'"'"'s worker serves: create it (CREATE DATABASE books)' "$data/log"
ok $? "with a hint saying what to create or set"
is "$(grep -c 'background worker "billy worker" (PID [0-9]*) exited with exit code 1' "$data/log")" 0 \
    "the postmaster's line for each failed start is not logged either"
psql -X -q -h "$data" -p 5434 -d postgres -c "CREATE DATABASE books"
wait_until 15 grep -q 'billy worker started in database "books"' "$data/log"
ok $? "once the database exists the worker starts there by itself"

done_testing
