#!/usr/bin/env bash
# The worker between jobs (issue 15, item 8): a sync that fails and an import
# slice that finds nothing to do leave no memory context behind (the worker's
# contexts, logged by pg_log_backend_memory_contexts), nor do failed inline
# syncs in the session that ran them; a sync that commits page by page
# returns in memory of the worker's current transaction (issue 16); its
# table statistics reach pg_stat_user_tables while it lives, so autovacuum
# sees its writes; and its activity string is reset after a job.
source "$(dirname "$0")/tap.sh"
plan 9

q "SELECT billy_test.clear_faults()" >/dev/null
q "SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'))" >/dev/null
quiet_queue

# statistics: the worker's inserts into billy.sync_runs show up without it exiting
before=$(q "SELECT coalesce(n_tup_ins, 0) FROM pg_stat_user_tables WHERE relid = 'billy.sync_runs'::regclass")
job=$(q "SELECT billy._enqueue('sync', billy_test.org(1), '{\"resource\": \"products\", \"mode\": \"full\"}')")
wait_until 30 q_is "SELECT state FROM billy.jobs WHERE id = $job" done
ok $? "a sync job ran in the worker"
stats_grew() { [ "$(q "SELECT n_tup_ins > $before FROM pg_stat_user_tables WHERE relid = 'billy.sync_runs'::regclass")" = t ]; }
wait_until 10 stats_grew
ok $? "its writes are in pg_stat_user_tables while it runs on (autovacuum sees them)"
activity_reset() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'billy worker' AND query = ''")" = 1 ]; }
wait_until 10 activity_reset
ok $? "and its activity string is empty after the job, not the job's"

# a sync of several pages, each committed on its own: the handler comes back
# in memory of the worker's current transaction, not the one its first page
# commit ended (the worker says so in the log when a handler does not)
log="$BILLY_WORK/postgres.log"
offset=$(stat -c %s "$log")
q "ALTER SYSTEM SET billy.sync_page_size = 20" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
job=$(q "SELECT billy._enqueue('sync', billy_test.org(1), '{\"resource\": \"products\", \"mode\": \"full\"}')")
wait_until 30 q_is "SELECT state FROM billy.jobs WHERE id = $job" done
pages=$(q "SELECT pages FROM billy.sync_runs WHERE organization_id = billy_test.org(1) AND resource = 'products' ORDER BY id DESC LIMIT 1")
ok $([ "${pages:-0}" -gt 1 ]; echo $?) "a sync job of $pages pages ran in the worker, a commit per page"
is "$(tail -c +$((offset + 1)) "$log" | grep -c "returned outside its transaction's memory" || true)" 0 \
   "and returned in memory of the worker's current transaction"
q "ALTER SYSTEM RESET billy.sync_page_size" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null


# failing syncs and import slices with nothing to do, three of each
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":500,\"path\":\"/v2/products\",\"count\":1000}')" >/dev/null
jobs=$(q "SELECT string_agg(billy._enqueue('sync', billy_test.org(1), '{\"resource\": \"products\", \"mode\": \"full\"}')::text, ',')
          FROM generate_series(1, 3)")
jobs="$jobs,$(q "SELECT string_agg(billy._enqueue('bulk_import', billy_test.org(1), jsonb_build_object('bulk_job_id', 999990 + i))::text, ',')
                 FROM generate_series(1, 3) i")"
wait_until 60 q_is "SELECT count(*) FROM billy.jobs WHERE id IN ($jobs) AND attempts >= 1 AND state <> 'running'" 6
ok $? "three syncs failed and three import slices found nothing to do"
q "SELECT billy_test.clear_faults()" >/dev/null
q "UPDATE billy.jobs SET state = 'cancelled', finished_at = now() WHERE id IN ($jobs) AND state = 'queued'" >/dev/null

log="$BILLY_WORK/postgres.log"
offset=$(stat -c %s "$log")
pid=$(q "SELECT pid FROM billy.worker_status()")
q "SELECT pg_log_backend_memory_contexts($pid)" >/dev/null
logged() { tail -c +$((offset + 1)) "$log" | grep -q "\[$pid\].*level: 0; TopMemoryContext"; }
wait_until 10 logged
contexts=$(tail -c +$((offset + 1)) "$log" | grep "\[$pid\]" | grep -cE "level: [0-9]+; billy (sync|import)[:;]" || true)
is "$contexts" 0 "the worker holds no sync or import context after them (pg_log_backend_memory_contexts)"
is "$(tail -c +$((offset + 1)) "$log" | grep "\[$pid\]" | grep -c "level: 1; billy job" || true)" 1 \
   "(the log has the worker's contexts: its job context is there)"

# (last: these failures count against the organization's circuit breaker)
# failed inline syncs, each in a subtransaction of one session: no scan
# context is left in the session after them
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":500,\"path\":\"/v2/products\",\"count\":3}')" >/dev/null
left=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "SET billy.max_retries = 0" -c "SET client_min_messages = warning" -c "
    DO \$\$ DECLARE failed int := 0; BEGIN
      FOR i IN 1..3 LOOP
        BEGIN PERFORM * FROM billy.sync_now(billy_test.org(1), ARRAY['products']);
        EXCEPTION WHEN others THEN failed := failed + 1; END;
      END LOOP;
      IF failed <> 3 THEN RAISE EXCEPTION 'only % of 3 syncs failed', failed; END IF;
    END \$\$" -c "SELECT count(*) FROM pg_backend_memory_contexts WHERE name LIKE 'billy sync%'" 2>&1)
is "$left" 0 "three failed inline syncs leave no scan context in the session"
q "SELECT billy_test.clear_faults()" >/dev/null
# a sync that succeeds closes the breaker again for the files after this one
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['products'])" >/dev/null
done_testing
