#!/usr/bin/env bash
# An organization's resources scanned together by the worker: the job the
# worker takes up first takes up the organization's other due sync jobs and
# their pages share the HTTP client's slots.  Each scan still commits its
# pages whole and ends on its own: its run recorded, its job finished as it
# ends; one that fails fails alone, and its job is retried; the breaker
# holds back the scans of an organization that keeps failing.
source "$(dirname "$0")/tap.sh"
plan 16

derived() {
    q "SELECT billy_test.vat_fact_differences() + (SELECT coalesce(sum(rows), 0) FROM billy_test.analytics_differences())"
}

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(2)")
q "SELECT billy.connect(billy_test.token(2))" >/dev/null
q "ALTER SYSTEM SET billy.sync_page_size = 100" >/dev/null
q "ALTER SYSTEM SET billy.sync_concurrency = 4" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
q "ALTER SYSTEM SET billy.max_retries = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue

# sync_all: a full sync of every resource through the worker, its first job
# $first (set by the caller); prints the outcome of its jobs
next_job() { q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs"; }
sync_all() {
    q "SELECT billy.sync('$org')" >/dev/null
    q "SELECT billy_test.job_outcome($first, '120 s')"
}

# a first sync, with 50 ms of latency per request so scans overlap visibly
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":50,\"path\":\"/v2/\"}')" >/dev/null
first=$(next_job)
is "$(sync_all)" done "a first sync of every resource: every job done"
q "SELECT billy_test.clear_faults()" >/dev/null
jobs=$(q "SELECT count(*) FROM billy.jobs WHERE id >= $first")
is "$(q "SELECT count(DISTINCT j.id) FROM billy.jobs j JOIN billy.sync_runs r ON r.job_id = j.id AND r.complete
         WHERE j.id >= $first")" "$jobs" "each job has its own complete run ($jobs)"
is "$(q "SELECT count(*) > 0 FROM billy.sync_runs a JOIN billy.sync_runs b
         ON a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at
         WHERE a.job_id >= $first AND b.job_id >= $first AND a.resource <> 'organization' AND b.resource <> 'organization'")" t \
   "the resources' scans ran together (runs overlap in time)"
is "$(q "SELECT count(DISTINCT started_at) < count(*) FROM billy.jobs WHERE id >= $first")" t \
   "the first job took the others up (claimed in one go)"
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "the mirror equals the sandbox"
is "$(q "SELECT count(*) FROM billy.derived_pending")" 0 "no derived table is left to rebuild"
is "$(derived)" 0 "the VAT lines and rollups equal a recomputation"
is "$(q "SELECT count(*) FROM billy.sync_status WHERE organization_id = '$org' AND state <> 'ok'")" 0 \
   "every resource's billy.sync_status says ok"

# one resource failing: its job fails alone and is retried, the others end
q "SELECT billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":6}')" >/dev/null
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":503,\"path\":\"/v2/products\"}')" >/dev/null
first=$(next_job)
is "$(sync_all)" retrying "a sync with products failing: the products job is to be retried"
wait_until 60 q_is "SELECT count(*) FROM billy.jobs WHERE id >= $first AND state = 'running'" 0
is "$(q "SELECT string_agg(args ->> 'resource', ',') FROM billy.jobs WHERE id >= $first AND state <> 'done'")" products \
   "every other job is done"
is "$(q "SELECT error_cause FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'products' ORDER BY id DESC LIMIT 1")" http_5xx \
   "the products run records its cause"
is "$(q "SELECT count(*) FROM billy.sync_runs WHERE job_id >= $first AND resource <> 'products' AND NOT complete")" 0 \
   "the other resources' runs are complete"
is "$(q "SELECT mismatches + false_deletions FROM billy_test.mirror_diff('$org') WHERE resource = 'invoices'")" 0 \
   "the invoices took the upstream changes"

# the fault cleared, the retried job and one more sync repair everything
q "SELECT billy_test.clear_faults()" >/dev/null
q "UPDATE billy.jobs SET run_after = now() WHERE id >= $first AND state = 'queued'; SELECT billy._wake_worker_at_commit()" >/dev/null
wait_until 60 q_is "SELECT count(*) FROM billy.jobs WHERE id >= $first AND state <> 'done'" 0
ok $? "the retried products job ends done"
first=$(next_job)
is "$(sync_all)" done "the next sync of everything is done"
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "and the mirror equals the sandbox"
done_testing
