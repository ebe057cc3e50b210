#!/usr/bin/env bash
# SIGKILL of the worker in the middle of a scan, twice: the mirror stays
# consistent (each page committed whole, nothing falsely deleted), the
# interrupted runs are closed as such, and the job runs again to the end.
# The VAT lines, the analytics rollups and the ledger's rollup equal a
# recomputation from the mirror after the first sync, after each kill and at
# the end; also when the scans killed are the first sync of an organization's
# invoices and transactions (which build them at their end: killed, they
# leave them marked to be rebuilt, and the next run does).
source "$(dirname "$0")/tap.sh"
plan 24

# derived: the VAT lines and the rollups (analytics, ledger) equal a
# recomputation from the mirror
derived() {
    q "SELECT billy_test.vat_fact_differences() + (SELECT coalesce(sum(rows), 0) FROM billy_test.analytics_differences())
              + billy_test.ledger_differences()"
}

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
is "$(derived)" 0 "its first sync built the VAT lines, rollups and ledger rollup at its end: they equal a recomputation"

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
    is "$(derived)" 0 "kill $k: the VAT lines and rollups equal a recomputation from the mirror"
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
is "$(derived)" 0 "the VAT lines and rollups equal a recomputation after the resync with changes"

# a first sync killed halfway: the second organization's invoices and
# transactions, scanned together by one job
org2=$(q "SELECT billy_test.org(2)")
q "SELECT billy.connect(billy_test.token(2))" >/dev/null
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org2', ARRAY['contacts', 'products', 'taxRates'])" >/dev/null
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":300,\"path\":\"/v2/invoices\"}')" >/dev/null
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":300,\"path\":\"/v2/transactions\"}')" >/dev/null
IFS=, read -r job job2 <<<"$(q "SELECT billy._enqueue('sync', '$org2', '{\"resource\":\"invoices\",\"mode\":\"full\"}') || ','
                                       || billy._enqueue('sync', '$org2', '{\"resource\":\"transactions\",\"mode\":\"full\"}')")"
# (invoices go first in sync order; the transactions start while page 1 of
# the invoices is under way, and wait for the slot while the invoices have
# pages to ask: the kill finds both under way)
wait_until 30 q_is "SELECT coalesce(max(pages_done), 0) >= 2 FROM billy.sync_progress WHERE organization_id = '$org2' AND resource = 'invoices'" t
ok $? "a first sync of another organization's invoices and transactions is under way"
pid=$(q "SELECT pid FROM billy.worker_status()")
kill -KILL "$pid"
wait_until 60 worker_back "$pid"
ok $? "the worker is back after the kill"
n=$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org2'")
ok "$([ "$n" -gt 0 ] && echo 0 || echo 1)" "the pages committed before the kill are in the mirror ($n invoices)"
# a first sync builds the derived tables at its end: cut short, it leaves
# them marked to be rebuilt, never half-filled unmarked (the worker may have
# run the job again to the end already: then they are complete).  One
# snapshot for both looks.
state=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "
    SELECT CASE WHEN EXISTS (SELECT 1 FROM billy.derived_pending WHERE organization_id = '$org2' AND resource = 'invoices')
                THEN 'marked'
                WHEN billy_test.vat_fact_differences() + (SELECT coalesce(sum(rows), 0) FROM billy_test.analytics_differences()) = 0
                THEN 'complete' ELSE 'half-filled' END
           || ' ' ||
           CASE WHEN EXISTS (SELECT 1 FROM billy.derived_pending WHERE organization_id = '$org2' AND resource = 'transactions')
                THEN 'marked'
                WHEN billy_test.ledger_differences() = 0 THEN 'complete' ELSE 'half-filled' END" -c "COMMIT")
ok "$([[ $state =~ ^(marked|complete)\ (marked|complete)$ ]] && echo 0 || echo 1)" \
   "the VAT lines and rollups of its invoices, and the ledger rollup of its transactions, are marked to be rebuilt (billy.derived_pending) or complete ($state)"
q "SELECT billy_test.clear_faults()" >/dev/null
wait_until 30 q_is "SELECT min(crashes) FROM billy.jobs WHERE id IN ($job, $job2)" 1
q "UPDATE billy.jobs SET run_after = now() WHERE id IN ($job, $job2); SELECT billy._wake_worker_at_commit()" >/dev/null
wait_until 60 q_is "SELECT string_agg(state, ',') FROM billy.jobs WHERE id IN ($job, $job2)" done,done
ok $? "the first syncs run again to the end"
is "$(q "SELECT count(*) FROM billy.derived_pending")" 0 "and rebuilds them: nothing is left marked"
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org2')" >/dev/null
is "$(q "SELECT billy_test.mirror_equal('$org2')")" t "the second organization is mirrored"
is "$(derived)" 0 "and the VAT lines and rollups of both equal a recomputation"
done_testing
