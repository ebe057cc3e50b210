#!/usr/bin/env bash
# Hot scans: between full sweeps the worker rescans unpaid and draft
# documents on its own (billy.hot_sync_interval), so a payment made upstream
# reaches the mirror without a full sync.
source "$(dirname "$0")/tap.sh"
plan 7

org=$(org1_synced invoices)
t0=$(q "SELECT now()")

paid=$(q "SELECT c ->> 'id' FROM jsonb_array_elements(billy_test.sandbox('POST', '/mutate', '{\"org\":\"$org\",\"n\":1,\"kinds\":[\"pay\"]}')::jsonb -> 'changes') c WHERE c ->> 'resource' = 'invoices' LIMIT 1")
ok $([ -n "$paid" ]; echo $?) "the sandbox paid invoice $paid upstream"
is "$(q "SELECT is_paid FROM billy.invoices WHERE organization_id = '$org' AND id = '$paid'")" f "the mirror still has it unpaid"

q "ALTER SYSTEM SET billy.hot_sync_interval = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
wait_until 60 q_is "SELECT count(*) > 0 FROM billy.sync_runs WHERE organization_id = '$org' AND resource = 'invoices' AND mode = 'hot' AND state = 'succeeded' AND started_at > '$t0'" t
ok $? "the worker ran a hot scan of the invoices on its own"
is "$(q "SELECT is_paid FROM billy.invoices WHERE organization_id = '$org' AND id = '$paid'")" t "the payment reached the mirror"
is "$(q "SELECT count(*) FROM billy.sync_runs WHERE organization_id = '$org' AND mode = 'full' AND started_at > '$t0'")" 0 \
   "without a full sync"
truth=$(q "SELECT count(*) FROM jsonb_array_elements(billy_test.sandbox('GET', '/dump?org=$org&resource=invoices')::jsonb -> 'invoices') i WHERE (i ->> 'isPaid')::boolean IS NOT TRUE")
is "$(q "SELECT rows_seen FROM billy.sync_runs WHERE organization_id = '$org' AND mode = 'hot' ORDER BY id DESC LIMIT 1")" "$truth" \
   "a hot scan reads only the unpaid documents"
is "$(q "SELECT last_hot_scan_at IS NOT NULL FROM billy.sync_status WHERE organization_id = '$org' AND resource = 'invoices'")" t \
   "billy.sync_status shows when it last ran"
done_testing
