#!/usr/bin/env bash
# The token never shows: not in a pg_dump, not in the server log even at
# log_min_messages = debug5, not in an error.
source "$(dirname "$0")/tap.sh"
plan 10

q "SELECT billy_test.clear_faults()" >/dev/null
token1=$(q "SELECT billy_test.token(1)")
token2=$(q "SELECT billy_test.token(2)")
log=$BILLY_WORK/postgres.log
mark=$(wc -c <"$log")
wpid=$(q "SELECT pid FROM billy.worker_status()")

# everything that handles a token, at the most verbose log level
q "ALTER SYSTEM SET log_min_messages = debug5" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
psql -X -q -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<'SQL'
SET client_min_messages = warning;
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url'));
SELECT billy.check_connection(billy_test.org(1));
SELECT billy.api_get(billy_test.org(2), '/invoices?pageSize=2');
SELECT billy.refresh_organization();
SELECT pg_sleep(2);
SELECT billy_test.fault('{"kind":"status","status":500,"path":"/v2/organization","count":1}');
SELECT billy.connect(billy_test.token(1));
SET statement_timeout = '300ms';
SELECT billy_test.fault('{"kind":"latency","ms":3000,"path":"/v2/organization","count":1}');
SELECT billy.connect(billy_test.token(1));
RESET statement_timeout;
SELECT billy_test.clear_faults();
SQL
q "ALTER SYSTEM RESET log_min_messages" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 1

tail -c +"$((mark + 1))" "$log" >"$BILLY_WORK/debug5.log"
grep -q 'billy: GET /organization: HTTP 200' "$BILLY_WORK/debug5.log"
ok $? "the run was logged at debug level (billy's own request lines are there)"
grep -qE "\\[$wpid\\] DEBUG: +billy: GET /organization" "$BILLY_WORK/debug5.log"
ok $? "the worker's requests were logged too"
! grep -qF "$token1" "$BILLY_WORK/debug5.log"
ok $? "the first token appears nowhere in the log"
! grep -qF "$token2" "$BILLY_WORK/debug5.log"
ok $? "the second token appears nowhere in the log"

# pg_dump: the credential table is dumped, but only sealed
pg_dump --exclude-schema=billy_test -f "$BILLY_WORK/dump.sql" "$PGDATABASE"
grep -q '_credentials' "$BILLY_WORK/dump.sql"
ok $? "pg_dump includes billy's credential table (a restore keeps the connections)"
! grep -qF "$token1" "$BILLY_WORK/dump.sql" && ! grep -qF "$token2" "$BILLY_WORK/dump.sql"
ok $? "pg_dump holds no token in clear"
grep -q '^COPY billy.audit_log ' "$BILLY_WORK/dump.sql" && grep -q '^COPY billy.changes ' "$BILLY_WORK/dump.sql" &&
    grep -q '^COPY billy.invoices ' "$BILLY_WORK/dump.sql" && grep -q '^COPY billy.write_ops ' "$BILLY_WORK/dump.sql"
ok $? "pg_dump keeps the mirror, the change log, the audit trail and the write outbox"
grep -q "setval('billy.audit_log_id_seq'" "$BILLY_WORK/dump.sql"
ok $? "and the audit trail's sequence, so a restored log goes on without collisions"

# no setting holds one
! psql -X -A -t -c "SELECT setting FROM pg_settings" | grep -qF "$token1"
ok $? "no setting holds a token"

# nor the organizations table a reader sees
! psql -X -A -t -c "SELECT row_to_json(o) FROM billy.organizations o" | grep -qF "$token1"
ok $? "billy.organizations holds no token"

done_testing
