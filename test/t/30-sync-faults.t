#!/usr/bin/env bash
# The sync under faults (billy-sandbox's /_sandbox/faults): 429 storms, 5xx
# bursts, connections reset mid-body, truncated bodies, invalid JSON, latency
# beyond the timeout, a token revoked mid-scan, and upstream changes between
# and during scans.  For each: the failure is recorded with its cause, and
# once the fault clears one more sync makes the mirror equal the sandbox's
# truth again: no duplicates, no false deletions, no lost change.
source "$(dirname "$0")/tap.sh"
plan 51

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(2)")
q "SELECT billy.connect(billy_test.token(2))" >/dev/null

# short timeouts, few retries, small pages (several pages per scan)
q "ALTER SYSTEM SET billy.max_retries = 1" >/dev/null
q "ALTER SYSTEM SET billy.max_retry_wait_ms = 300" >/dev/null
q "ALTER SYSTEM SET billy.http_timeout_ms = 1500" >/dev/null
q "ALTER SYSTEM SET billy.sync_page_size = 100" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
# one page at a time: a slow scan stays visible for a second per page (below)
q "ALTER SYSTEM SET billy.sync_concurrency = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue

# start from a complete mirror
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "a first sync mirrors the organization exactly"

# run_sync queues a sync of the resources and waits for its jobs
run_sync() {
    local first
    first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
    q "SELECT billy.sync('$org', ARRAY[$1])" >/dev/null
    q "SELECT billy_test.job_outcome($first, '60 s')"
}

# recover: clear the faults, run what is queued now (or queue anew), wait
recover() {
    local first
    q "SELECT billy_test.clear_faults()" >/dev/null
    # an attempt still running under the fault (a slow machine lets one start
    # just before the clear) ends first, as retrying: otherwise a sync queued
    # here would meet its lock, and what is queued would be decided too early
    q "DO \$\$ BEGIN FOR i IN 1..300 LOOP EXIT WHEN NOT EXISTS (SELECT 1 FROM billy.jobs WHERE kind = 'sync' AND state = 'running'); PERFORM pg_sleep(0.1); END LOOP; END \$\$" >/dev/null
    first=$(q "SELECT coalesce(min(id), 0) FROM billy.jobs WHERE kind = 'sync' AND state = 'queued'")
    if [ "$first" = 0 ]; then
        first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
        q "SELECT billy.sync('$org', ARRAY['invoices', 'bills', 'contacts'])" >/dev/null
    fi
    # job_outcome calls a queued job that has attempts "retrying": wait until
    # the worker has taken up what was queued (or run it) before asking
    local before outcome
    before=$(q "SELECT coalesce(sum(attempts), 0) FROM billy.jobs WHERE id >= $first AND kind = 'sync'")
    q "UPDATE billy.jobs SET run_after = now() WHERE kind = 'sync' AND state = 'queued'; SELECT billy._wake_worker_at_commit()" >/dev/null
    q "DO \$\$ BEGIN FOR i IN 1..600 LOOP EXIT WHEN NOT EXISTS (SELECT 1 FROM billy.jobs WHERE id >= $first AND kind = 'sync' AND state = 'queued') OR (SELECT sum(attempts) FROM billy.jobs WHERE id >= $first AND kind = 'sync') > $before; PERFORM pg_sleep(0.1); END LOOP; END \$\$" >/dev/null
    outcome=$(q "SELECT billy_test.job_outcome($first, '60 s')")
    [ "$outcome" = done ] ||
        { echo "$outcome: $(q "SELECT string_agg(format('%s %s %s attempts %s: %s', j.id, j.args ->> 'resource', j.state, j.attempts, left(j.last_error, 160)), '; ' ORDER BY j.id) FROM billy.jobs j WHERE j.id >= $first")"; return; }
    # and a full sync of everything
    first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
    q "SELECT billy.sync('$org')" >/dev/null
    q "UPDATE billy.jobs SET run_after = now() WHERE kind = 'sync' AND state = 'queued'; SELECT billy._wake_worker_at_commit()" >/dev/null
    q "SELECT billy_test.job_outcome($first, '60 s')"
}

last_cause() { q "SELECT error_cause FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' ORDER BY id DESC LIMIT 1"; }

# scenario NAME FAULT CAUSE OUTCOME: upstream changes, then a sync under the
# fault fails with CAUSE; after the fault clears, one more sync repairs all
scenario() {
    local name=$1 fault=$2 cause=$3 outcome=$4
    q "SELECT billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":6}')" >/dev/null
    q "SELECT billy_test.fault('$fault')" >/dev/null
    is "$(run_sync "'invoices'")" "$outcome" "$name: the sync fails ($outcome)"
    is "$(last_cause)" "$cause" "$name: the run records the cause"
    is "$(q "SELECT last_error_cause || ' ' || (consecutive_failures > 0) FROM billy.sync_status WHERE organization_id = '$org' AND resource = 'invoices'")" \
       "$cause true" "$name: billy.sync_status shows it"
    is "$(recover)" done "$name: after the fault clears, the next sync succeeds"
    is "$(q "SELECT billy_test.mirror_equal('$org')")" t "$name: the mirror equals the sandbox again (nothing lost, nothing falsely deleted)"
}

scenario "429 storm" '{"kind":"status","status":429,"retry_after":0,"path":"/v2/invoices"}' http_429 retrying
scenario "5xx burst" '{"kind":"status","status":503,"path":"/v2/invoices","skip":1}' http_5xx retrying
scenario "reset mid-body" '{"kind":"reset","after_bytes":2000,"path":"/v2/invoices","skip":1}' transfer retrying
scenario "truncated body" '{"kind":"truncate","after_bytes":3000,"path":"/v2/invoices","skip":2}' invalid_json retrying
scenario "invalid JSON" '{"kind":"invalid_json","path":"/v2/invoices"}' invalid_json retrying
scenario "latency beyond the timeout" '{"kind":"latency","ms":4000,"path":"/v2/invoices","skip":1}' timeout retrying
scenario "token revoked mid-scan" "{\"kind\":\"revoke_token\",\"org\":\"$org\",\"skip\":2}" http_401 failed

# a short 5xx burst is absorbed by the retries
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":502,\"path\":\"/v2/invoices\",\"count\":1}')" >/dev/null
is "$(run_sync "'invoices'")" done "a single 502 is retried within the sync, which succeeds"
q "SELECT billy_test.clear_faults()" >/dev/null

# upstream changes during a scan: pages arrive slowly while drafts are
# deleted and invoices added; nothing is falsely deleted, and one more sync
# catches up.  Page 1 comes at once and each later one after a second (one at
# a time), so the scan is seen running for seconds however loaded the machine.
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":1000,\"path\":\"/v2/invoices\",\"skip\":1}')" >/dev/null
first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
q "SELECT billy.sync('$org', ARRAY['invoices'])" >/dev/null
wait_until 20 q_is "SELECT coalesce(max(pages_done), 0) >= 1 FROM billy.sync_progress WHERE organization_id = '$org'" t
ok $? "during a slow scan, billy.sync_progress shows its pages"
is "$(q "SELECT pages_total FROM billy.sync_progress WHERE organization_id = '$org' LIMIT 1")" \
   "$(q "SELECT ceil(count(*) / 100.0)::int FROM billy.invoices WHERE organization_id = '$org' AND deleted_at IS NULL")" \
   "with the page count"
q "SELECT billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":25,\"kinds\":[\"deleteDraft\",\"newInvoice\",\"pay\",\"void\"]}')" >/dev/null
is "$(q "SELECT billy_test.job_outcome($first, '60 s')")" done "the scan that saw the changes half-way completes"
is "$(q "SELECT sum(false_deletions) FROM billy_test.mirror_diff('$org')")" 0 "and deleted nothing the sandbox still has"
q "SELECT billy_test.clear_faults()" >/dev/null
is "$(recover)" done "one more sync"
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "makes the mirror equal the sandbox"

# nothing is ever duplicated: ids are unique per organization by key, and
# the change log has one insert per record
is "$(q "SELECT count(*) FROM (SELECT record_id FROM billy.changes WHERE organization_id = '$org' AND resource = 'invoices' AND operation = 'insert' GROUP BY record_id HAVING count(*) > 1) d")" 0 \
   "no record was inserted twice"

# the breaker: after billy.breaker_failures failed scans it opens, and
# queued syncs wait instead of calling Billy.  The cooldown is the test's to
# end: an hour while the test looks at the open breaker (however slow the
# machine), then 1 s, which a reload applies to the breaker already open.
q "ALTER SYSTEM SET billy.breaker_failures = 2" >/dev/null
q "ALTER SYSTEM SET billy.breaker_cooldown_ms = 3600000" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":500,\"path\":\"/v2/\"}')" >/dev/null
run_sync "'contacts'" >/dev/null
run_sync "'products'" >/dev/null
is "$(q "SELECT state FROM billy.breaker_status() WHERE organization_id = '$org'")" open "two failed scans open the breaker"
q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
q "SELECT billy.sync('$org', ARRAY['accounts'])" >/dev/null
wait_until 30 q_is "SELECT state || ' ' || (run_after > now() + interval '30 minutes') FROM billy.jobs WHERE id = $first" "queued true"
is "$(q "SELECT state || ' ' || (run_after > now() + interval '30 minutes') FROM billy.jobs WHERE id = $first")" "queued true" \
   "while it is open, a queued sync is postponed to the end of the cooldown"
calls=$(q "SELECT billy_test.sandbox('GET', '/stats')")
is "$(q "SELECT '$calls'::jsonb -> 'total' ->> 'count'")" 0 "and Billy is not called"
[ "$(q "SELECT '$calls'::jsonb -> 'total' ->> 'count'")" = 0 ] || diag "calls: $calls"
is "$(q "SELECT breaker FROM billy.sync_status WHERE organization_id = '$org' AND resource = 'contacts'")" open \
   "billy.sync_status shows the open breaker"
q "SELECT billy_test.clear_faults()" >/dev/null
q "ALTER SYSTEM SET billy.breaker_cooldown_ms = 1000" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
# the worker takes the new cooldown at its next wake-up after the reload:
# wake it until it has (a postponement before that changes nothing)
retry_trial() {
    q "UPDATE billy.jobs SET run_after = now() WHERE id = $first AND state = 'queued'; SELECT billy._wake_worker_at_commit()" >/dev/null
    sleep 0.5
    q_is "SELECT state FROM billy.jobs WHERE id = $first" done
}
wait_until 30 retry_trial
is "$(q "SELECT billy_test.job_outcome($first, '30 s')")" done "after the cooldown, a trial sync runs and succeeds"
is "$(q "SELECT state FROM billy.breaker_status() WHERE organization_id = '$org'")" closed "and closes the breaker"

# notifications: a sync that changes rows says so on billy_changes
q "SELECT billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":3,\"kinds\":[\"editContact\"]}')" >/dev/null
# (the failed scans above left contacts in backoff: the sync runs at once
# anyway, and the session waits for it however long it takes)
notes=$( { echo "LISTEN billy_changes;"; echo "SELECT pg_sleep(0.2);"; \
           echo "SELECT billy.sync('$org', ARRAY['contacts']);"; \
           echo "UPDATE billy.jobs SET run_after = now() WHERE kind = 'sync' AND state = 'queued'; SELECT billy._wake_worker_at_commit();"; \
           echo "SELECT billy_test.wait_for(\$\$SELECT NOT EXISTS (SELECT FROM billy.jobs WHERE kind = 'sync' AND state IN ('queued', 'running'))\$\$, '60 s');"; \
           echo "SELECT pg_sleep(0.2);"; } | psql -X -q 2>&1 )
echo "$notes" | grep -q 'Asynchronous notification "billy_changes" with payload "{"organization_id":"'"$org"'","resource":"contacts","inserted":0,"updated":[1-9]'
ok $? "a sync that changed contacts notifies billy_changes with a small JSON payload"

done_testing
