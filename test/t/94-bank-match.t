#!/usr/bin/env bash
# Matching and unmatching bank lines as gated writes (match_bank_line,
# unmatch_bank_line; issue 14), in SQL against the sandbox: a line of the
# bank feed (POST /v2/bankLines, as the bank sends it to Billy) synced,
# matched with the invoice its top suggestion names, the match in the
# sandbox's books and in the mirror; clear refusals naming the field and the
# fix (a line already matched, an amount the documents do not have open, a
# document that is not there or on the other side, nothing to unmatch);
# Billy storing the match and the connection dropping: the worker finds it
# through the line and does not match twice; unmatching opens the invoice
# again; every write in the outbox and the audit trail.
source "$(dirname "$0")/tap.sh"
plan 19

neworg=$(q "SELECT billy_test.sandbox('POST', '/organizations', '{\"name\":\"Bankafstemning ApS\"}')")
token=$(echo "$neworg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
org=$(q "SELECT billy.connect('$token', billy_test.setting('api_url'))")
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
q "ALTER SYSTEM SET billy.reconcile_delay_ms = 200" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
cleanup() {
    q "SELECT billy_test.clear_faults()" >/dev/null
    q "ALTER SYSTEM RESET billy.reconcile_delay_ms" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
}
trap cleanup EXIT

W="SET billy.enable_writes = on;"
w() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "SET client_min_messages = error" -c "$W" -c "$1"; }
tw() { psql -X -q -A -t -c "SET client_min_messages = error" -c "$W" -c "SELECT billy_test.try(\$x\$$1\$x\$)"; }
dump() { q "SELECT billy_test.sandbox('GET', '/dump?org=$org&resource=$1')"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# an open DKK invoice, and the line the bank feed brings for it
IFS='|' read -r inv no balance name day < <(q "SELECT i.id, i.invoice_no, i.balance, upper(c.name), i.entry_date FROM billy.invoices i
    JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
    WHERE i.organization_id = '$org' AND i.state = 'approved' AND i.type = 'invoice' AND i.balance > 0 AND i.currency_id = 'DKK'
    ORDER BY i.entry_date DESC, i.id LIMIT 1")
dkk=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND is_bank_account AND currency_id = 'DKK'")
feed() {  # feed AMOUNT TEXT: a new statement line on the DKK account; prints its id
    q "SELECT billy_test.api('$token', 'POST', '/bankLines', jsonb_build_object('bankLine', jsonb_build_object(
         'accountId', '$dkk', 'entryDate', '$day', 'amount', $1, 'side', 'debit', 'description', \$t\$$2\$t\$))) -> 'bankLines' -> 0 ->> 'id'"
}
line=$(feed "$balance" "FAKTURA $no $name")
big=$(feed "$balance + 100" "FAKTURA $no $name RYKKER")
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['bankLines'])" >/dev/null
top=$(q "SELECT subject_reference FROM billy.bank_match_suggestions('$org', line => '$line') WHERE rank = 1")
is "$top" "invoice:$inv" "the synced line's top suggestion is the invoice it pays"

# refusals, before anything is sent
matched=$(q "SELECT id FROM billy.bank_lines WHERE organization_id = '$org' AND match_id IS NOT NULL AND deleted_at IS NULL ORDER BY id LIMIT 1")
r=$(tw "SELECT billy.match_bank_line('$org', '[\"$matched\"]', '[\"invoice:$inv\"]')")
ok $(grep -q "lineIds\[0\] bank line $matched is already matched (match .*unmatch it first (unmatch_bank_line)" <<<"$r"; echo $?) \
   "a line already matched is refused, saying how to go on"
r=$(tw "SELECT billy.match_bank_line('$org', '[\"$big\"]', '[\"invoice:$inv\"]')")
ok $(grep -q "amount differs: the lines come to .* DKK, the documents have $balance DKK open; add the other documents the lines pay" <<<"$r"; echo $?) \
   "a line for more than the invoice has open is refused: amount differs"
r=$(tw "SELECT billy.match_bank_line('$org', '[\"$line\"]', '[\"invoice:nope\"]')")
ok $(grep -q "documents\[0\] no invoice \"nope\" in the mirror.*pass a suggestion's ref from list_unmatched_bank_lines" <<<"$r"; echo $?) \
   "an unknown document is refused, naming it"
bill=$(q "SELECT id FROM billy.bills WHERE organization_id = '$org' AND state = 'approved' AND type = 'bill' AND balance > 0 AND currency_id = 'DKK' LIMIT 1")
r=$(tw "SELECT billy.match_bank_line('$org', '[\"$line\"]', '[\"bill:$bill\"]')")
ok $(grep -q "but the lines are money in: money in pays invoices" <<<"$r"; echo $?) "money in does not pay a bill"
r=$(tw "SELECT billy.match_bank_line('$org', '[\"no-such-line\"]', '[\"invoice:$inv\"]')")
ok $(grep -q "lineIds\[0\] no bank line \"no-such-line\" in the mirror" <<<"$r"; echo $?) "an unknown line is refused"
r=$(tw "SELECT billy.unmatch_bank_line('$org', '$line')")
ok $(grep -q "bank line $line is not matched: there is nothing to unmatch" <<<"$r"; echo $?) "unmatching a line that is not matched is refused"
is "$(q "SELECT count(*) FROM billy.write_ops WHERE organization_id = '$org'")" 0 "nothing was sent for any of them"

# the preview says what would be sent
p=$(w "SELECT billy.preview_write('match_bank_line', jsonb_build_object('org', '$org', 'lineIds', jsonb_build_array('$line'), 'documents', jsonb_build_array('invoice:$inv')))")
is "$(json 'd["request"]["method"] + " " + d["request"]["path"] + " " + json.dumps(d["request"]["body"]["bankLineMatch"]["subjectAssociations"])' <<<"$p")" \
   "POST /bankLineMatches [{\"subjectReference\": \"invoice:$inv\"}]" "the preview: POST /bankLineMatches with the line and the invoice"

# Billy stores the match, then the connection drops: found through the line, not sent again
q "SELECT billy_test.fault('{\"kind\":\"drop_after_write\",\"path\":\"/v2/bankLineMatches\",\"method\":\"POST\",\"count\":1}')" >/dev/null
r=$(w "SELECT billy.commit_write('$(json 'd["operation_hash"]' <<<"$p")')")
is "$(json 'd["state"]' <<<"$r")" unknown "a dropped connection after sending: the outcome is unknown"
op=$(json 'd["write_op_id"]' <<<"$r")
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE id = $op" done
is "$(q "SELECT reconciliation || ', attempts ' || attempts FROM billy.write_ops WHERE id = $op")" \
   "reconciled: found in Billy after the unknown outcome; not resent, attempts 1" "the worker found the match through the line and did not send it again"
match=$(dump bankLines | json "[l['matchId'] for l in d['bankLines'] if l['id'] == '$line'][0]")
is "$(q "SELECT record_id FROM billy.write_ops WHERE id = $op")" "$match" "the write's record is the match the sandbox holds"
is "$(dump bankLineMatches | json "sum(1 for m in d['bankLineMatches'] if m['id'] == '$match')")" 1 "one match in Billy"
is "$(dump invoices | json "[str(i['isPaid']) + ' ' + str(i['balance']) for i in d['invoices'] if i['id'] == '$inv'][0]")" "True 0" \
   "the invoice is paid in Billy"
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['bankLines'])" >/dev/null
is "$(q "SELECT match_id FROM billy.bank_lines WHERE organization_id = '$org' AND id = '$line'")" "$match" "the mirror's line has the match"

# unmatching: the line unmatched, the payment the match made voided, the invoice open again
r=$(w "SELECT billy.unmatch_bank_line('$org', '$line')")
is "$(json 'd["state"] + " " + d["record_id"]' <<<"$r")" "done $match" "unmatch_bank_line deletes the line's match"
is "$(dump bankLines | json "[str(l['matchId']) for l in d['bankLines'] if l['id'] == '$line'][0]")" None "the line is unmatched in Billy"
is "$(q "SELECT (SELECT match_id IS NULL FROM billy.bank_lines WHERE organization_id = '$org' AND id = '$line')
           || ' ' || (SELECT deleted_at IS NOT NULL FROM billy.bank_line_matches WHERE organization_id = '$org' AND id = '$match')
           || ' ' || (SELECT balance = $balance FROM billy.invoices WHERE organization_id = '$org' AND id = '$inv')
           || ' ' || (SELECT count(*) FROM billy.unmatched_bank_lines('$org') WHERE id = '$line')")" "true true true 1" \
   "and in the mirror: the line unmatched (listed again), the match deleted, the invoice open again"
is "$(q "SELECT string_agg(DISTINCT a.action, ',' ORDER BY a.action) FROM billy.audit_log a WHERE a.organization_id = '$org'
         AND a.action LIKE '%bank_line'")" "reconcile:match_bank_line,write:match_bank_line,write:unmatch_bank_line" \
   "both writes are in the audit trail, the reconciliation too"

exit $((TAP_FAILED > 0))
