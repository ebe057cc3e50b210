#!/usr/bin/env bash
# SIGKILL of the worker in the middle of a scan, twice: the mirror stays
# consistent (each page committed whole, nothing falsely deleted), the
# interrupted runs are closed as such, and the job runs again to the end.
source "$(dirname "$0")/tap.sh"
plan 12

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(1)")
q "SELECT billy.connect(billy_test.token(1))" >/dev/null
q "ALTER SYSTEM SET billy.sync_page_size = 50" >/dev/null
q "ALTER SYSTEM SET billy.sync_concurrency = 1" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "the organization is mirrored"

# upstream changes, then a slow scan to kill
q "SELECT billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":20}')" >/dev/null
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":300,\"path\":\"/v2/invoices\"}')" >/dev/null
job=$(q "SELECT billy._enqueue('sync', '$org', '{\"resource\":\"invoices\",\"mode\":\"full\"}')")

worker_back() {
    local p
    p=$(q "SELECT pid FROM billy.worker_status() WHERE running") || return 1
    [ -n "$p" ] && [ "$p" != "$1" ]
}
for k in 1 2; do
    wait_until 30 q_is "SELECT coalesce(max(pages_done), 0) >= 2 FROM billy.sync_progress WHERE organization_id = '$org' AND resource = 'invoices'" t
    ok $? "kill $k: the scan is under way"
    pid=$(q "SELECT pid FROM billy.worker_status()")
    kill -KILL "$pid"
    wait_until 60 worker_back "$pid"
    ok $? "kill $k: the worker is back"
    is "$(q "SELECT sum(false_deletions) FROM billy_test.mirror_diff('$org')")" 0 \
       "kill $k: nothing was marked deleted by the interrupted scan"
    wait_until 30 q_is "SELECT crashes FROM billy.jobs WHERE id = $job" "$k"
    q "UPDATE billy.jobs SET run_after = now() WHERE id = $job; SELECT billy._wake_worker_at_commit()" >/dev/null
done

q "SELECT billy_test.clear_faults()" >/dev/null
wait_until 60 q_is "SELECT state FROM billy.jobs WHERE id = $job" done
ok $? "the job runs again to the end"
is "$(q "SELECT crashes FROM billy.jobs WHERE id = $job")" 2 "with both crashes counted"
is "$(q "SELECT count(*) FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' AND error_cause = 'interrupted'")" 2 \
   "the two interrupted runs are closed as such"
is "$(q "SELECT mismatches + false_deletions FROM billy_test.mirror_diff('$org') WHERE resource = 'invoices'")" 0 \
   "the invoices equal the sandbox's, every change included"
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "and after a sync of the other resources, the whole mirror does"
done_testing
