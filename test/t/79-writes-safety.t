#!/usr/bin/env bash
# Never a duplicate write, on the paths where one used to happen:
#  - the write executor is killed (kill -9) while Billy is still processing
#    the POST: the worker waits billy.reconcile_delay_ms after sent_at before
#    it looks the invoice up, finds it, and does not send it again;
#  - Billy's gateway answers 504 while Billy creates the invoice later than
#    http_timeout_ms + reconcile_delay_ms: not found, sent again, and looked
#    up again after the resend, which finds the two invoices with the same
#    externalId: the write turns unknown for a person, billy.write_checks()
#    says so, and billy.resolve_write records what the person decided;
#  - while an identical write is unknown, a new preview of it is refused
#    with what to do; the warning of an unknown outcome says not to retry.
# Each count is taken from the sandbox's /_sandbox/dump.
source "$(dirname "$0")/tap.sh"
plan 21

neworg=$(q "SELECT billy_test.sandbox('POST', '/organizations', '{\"name\":\"Aldrig To Gange ApS\"}')")
token=$(echo "$neworg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
org=$(q "SELECT billy.connect('$token', billy_test.setting('api_url'))")
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['contacts','products','invoices'])" >/dev/null
setting() { q "ALTER SYSTEM SET $1 = $2" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.3; }
setting billy.enable_writes on        # the worker may send again

W="SET billy.enable_writes = on;"
dump_count() {  # dump_count EXTERNAL_ID: invoices in Billy with that externalId
    q "SELECT billy_test.sandbox('GET', '/dump?org=$org&resource=invoices')" |
        python3 -c "import json,sys; print(sum(1 for i in json.load(sys.stdin)['invoices'] if i.get('externalId') == '$1'))"
}
customer=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' AND is_customer AND currency_id = 'DKK' AND NOT is_archived ORDER BY id LIMIT 1")
product=$(q "SELECT p.id FROM billy.products p JOIN billy.product_prices pp ON pp.product_id = p.id AND pp.organization_id = p.organization_id
             WHERE p.organization_id = '$org' AND pp.currency_id = 'DKK' AND NOT p.is_archived ORDER BY p.id LIMIT 1")
invoice() {  # invoice EXTERNAL_ID
    echo "{\"contactId\":\"$customer\",\"entryDate\":\"2026-06-15\",\"externalId\":\"$1\",\"lines\":[{\"productId\":\"$product\",\"quantity\":2}]}"
}

# --- 1. the executor dies while Billy still processes the POST (12 s: longer
# than the worker takes to find the orphan)
setting billy.reconcile_delay_ms 15000
q "SELECT billy_test.fault('{\"kind\":\"latency\",\"ms\":12000,\"path\":\"/v2/invoices\",\"method\":\"POST\",\"count\":1}')" >/dev/null
psql -X -q -c "$W" -c "SELECT billy.create_invoice('$org', '$(invoice kill-1)')" >/dev/null 2>&1 &
caller=$!
sent=$SECONDS
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE organization_id = '$org' AND args -> 'invoice' ->> 'externalId' = 'kill-1'" sent
ok $? "the write is sent, and Billy is slow to answer"
op=$(q "SELECT id FROM billy.write_ops WHERE organization_id = '$org' AND args -> 'invoice' ->> 'externalId' = 'kill-1'")
executor=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'billy write executor'")
kill -KILL "$executor"
ok $? "kill -9 of the write executor (pid $executor)"
wait "$caller" 2>/dev/null
wait_until 60 q_is "SELECT 1" 1           # the postmaster's restart after the crash
wait_until 40 q_is "SELECT state FROM billy.write_ops WHERE id = $op" done
is "$(q "SELECT state || ': ' || reconciliation || ', attempts ' || attempts FROM billy.write_ops WHERE id = $op")" \
   "done: reconciled: found in Billy after the unknown outcome; not resent, attempts 1" \
   "the orphaned write is looked up after the delay, found, and not sent again"
while [ $((SECONDS - sent)) -lt 14 ]; do sleep 0.5; done   # Billy has surely finished the first send
is "$(dump_count kill-1)" 1 "exactly one invoice with its externalId in Billy"
is "$(q "SELECT count(*) FROM billy.audit_log WHERE (request ->> 'write_op_id')::bigint = $op AND action = 'reconcile:create_invoice'
          AND outcome LIKE 'done%'")" 1 "the reconciliation is audited"

# --- 2. Billy's gateway gives up (504) while Billy goes on and creates the
# invoice later than billy.reconcile_delay_ms: looked up, not found, sent
# again, then the late first one lands (posted straight to the sandbox)
setting billy.reconcile_delay_ms 3000
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":504,\"path\":\"/v2/invoices\",\"method\":\"POST\",\"count\":1}')" >/dev/null
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy.create_invoice('$org', '$(invoice late-1)')" 2>&1)
op=$(q "SELECT id FROM billy.write_ops WHERE organization_id = '$org' AND args -> 'invoice' ->> 'externalId' = 'late-1'")
echo "$out" | grep -q "WARNING:  the outcome of write $op is unknown"; ok $? "an unknown outcome warns"
echo "$out" | grep -q "Do not run this write again: that could make a duplicate"; ok $? "and says not to run it again"
echo "$out" | grep -q "never a duplicate"; ok $((! $?)) "without promising that a retry is safe"

# --- while it is unknown, the same write cannot be previewed again
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try(\$x\$SELECT billy.preview_write('create_invoice', '{\"org\":\"$org\",\"invoice\":$(invoice late-1)}')\$x\$)")
is "$(echo "$out" | head -1)" "55000: an identical write (write $op) has an unknown outcome: it may already be in Billy" \
   "a new preview of a write whose outcome is unknown is refused"
echo "$out" | grep -q "^HINT: Do not retry: sending it again could make a duplicate. Wait until write $op is done or failed"
ok $? "saying what to do"
is "$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try(\$x\$SELECT billy.preview_write('create_invoice', '{\"org\":\"$org\",\"invoice\":$(invoice late-2)}') ->> 'operation'\$x\$)")" \
   "ok" "a different write is previewed as usual"

wait_until 30 q_is "SELECT state || attempts FROM billy.write_ops WHERE id = $op" done2
ok $? "not found in Billy after the delay: sent again"
body=$(q "SELECT request -> 'body' FROM billy.write_ops WHERE id = $op")
curl -s -o /dev/null -X POST -H "X-Access-Token: $token" -H 'Content-Type: application/json' -d "$body" "$SANDBOX_URL/invoices"
wait_until 30 q_is "SELECT needs_decision FROM billy.write_ops WHERE id = $op" t
ok $? "looked up again after it was sent again: two invoices, so the write needs a person"
is "$(q "SELECT state || ', attempts ' || attempts || ': ' || error FROM billy.write_ops WHERE id = $op" | sed 's/(.*)/(ids)/')" \
   "unknown, attempts 2: 2 records in Billy match this write (ids)" "it is unknown again, with both records named"
is "$(dump_count late-1)" 2 "(the sandbox does hold two: the first send went through after the resend)"
is "$(q "SELECT string_agg(check_name, ',' ORDER BY check_name) FROM billy.write_checks('$org') WHERE write_op_id = $op")" \
   "duplicate_external_id,write_needs_decision" "billy.write_checks() flags the write and the shared externalId"
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try(\$x\$SELECT billy.preview_write('create_invoice', '{\"org\":\"$org\",\"invoice\":$(invoice late-1)}')\$x\$)")
echo "$out" | grep -q "^HINT: Do not retry; a person must decide"; ok $? "a new preview now says a person must decide"

# --- the person decides: deletes the extra one in Billy, records the outcome
extra=$(q "SELECT max(id) FROM billy.invoices WHERE organization_id = '$org' AND external_id = 'late-1'")
keep=$(q "SELECT min(id) FROM billy.invoices WHERE organization_id = '$org' AND external_id = 'late-1'")
psql -X -q -c "SET client_min_messages = error" -c "$W" -c "SELECT billy.delete_draft_invoice('$org', '$extra')" >/dev/null
is "$(psql -X -q -A -t -c "SET ROLE billy_reader" -c "SELECT billy_test.try('SELECT billy.resolve_write($op, ''done'')')" 2>&1 | head -1)" \
   "42501: permission denied for function resolve_write" "a reader may not decide a write's outcome"
is "$(q "SELECT billy.resolve_write($op, 'done', '$keep', 'kept the first, deleted the resend') ->> 'state'")" done "billy.resolve_write records the decision"
is "$(q "SELECT count(*) FROM billy.write_checks('$org')")" 0 "and nothing is left to check"
is "$(dump_count late-1)" 1 "one invoice with that externalId in Billy again"

q "SELECT billy_test.clear_faults()" >/dev/null
q "ALTER SYSTEM RESET billy.reconcile_delay_ms" >/dev/null
q "ALTER SYSTEM RESET billy.enable_writes" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT billy.disconnect('$org')" >/dev/null
done_testing
