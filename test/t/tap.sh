# test/t/tap.sh: a few TAP helpers for shell tests.  Sourced.
#
# The environment comes from scripts/test: PGHOST, PGPORT, PGUSER,
# PGDATABASE, BILLY_WORK (logs), BILLY_PGBIN, SANDBOX_URL, SANDBOX_CONTROL.

TAP_N=0
TAP_FAILED=0

plan() { printf '1..%d\n' "$1"; }

ok() {  # ok CONDITION-EXIT-STATUS DESCRIPTION
    TAP_N=$((TAP_N + 1))
    if [ "$1" = 0 ]; then
        printf 'ok %d - %s\n' "$TAP_N" "$2"
    else
        printf 'not ok %d - %s\n' "$TAP_N" "$2"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

is() {  # is GOT EXPECTED DESCRIPTION
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"
    fi
}

diag() { printf '# %s\n' "$*"; }

# q runs one SQL statement and prints the result, unaligned, without headers
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# wait_until SECONDS COMMAND...: retry a command until it succeeds
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}

# q_is SQL VALUE: the query's result is VALUE (for wait_until)
q_is() { [ "$(q "$1" 2>/dev/null)" = "$2" ]; }

# quiet_queue cancels queued jobs and waits for a running one to end, so a
# test starts from a worker with nothing to do
quiet_queue() {
    q "UPDATE billy.jobs SET state = 'cancelled', finished_at = now() WHERE state = 'queued'" >/dev/null
    wait_until 60 q_is "SELECT count(*) FROM billy.jobs WHERE state = 'running'" 0
}

# org1_synced RESOURCE...: organization 1 connected, hot scans off, the
# queue quiet, and the resources synced now; prints the organization's id
org1_synced() {
    local list
    q "SELECT billy_test.clear_faults()" >/dev/null
    q "SELECT billy.connect(billy_test.token(1))" >/dev/null
    q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
    quiet_queue
    list=$(printf "'%s'," "$@")
    psql -X -q -c "SET client_min_messages = warning" \
        -c "SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY[${list%,}])" >/dev/null
    q "SELECT billy_test.org(1)"
}

# as_server runs a command as the user the server runs as
as_server() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# own_cluster DIR PORT: a second cluster of a test's own in DIR (socket in
# DIR, PORT), started, with extra postgresql.conf lines from stdin;
# stop_own_cluster DIR stops it
own_cluster() {
    chmod 755 "$1"
    [ "$(id -u)" = 0 ] && chown postgres: "$1"
    as_server "$BILLY_PGBIN/initdb" -D "$1/pg" -U postgres --auth=trust >/dev/null 2>&1
    { printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = %s\n" "$1" "$2"; cat; } \
        >>"$1/pg/postgresql.conf"
    as_server "$BILLY_PGBIN/pg_ctl" -D "$1/pg" -l "$1/log" -w start >/dev/null
}
stop_own_cluster() { as_server "$BILLY_PGBIN/pg_ctl" -D "$1/pg" -m immediate stop >/dev/null 2>&1; }

done_testing() { exit $((TAP_FAILED > 0)); }
