#!/usr/bin/env bash
# Writes to Billy against the sandbox: every operation, local validation
# naming the field, Billy's 422 passed on, gating, preview/commit with stale,
# expired and reused hashes refused, durability when the caller rolls back,
# reconciliation after "process then drop the connection" without a
# duplicate, the mirror equal to the sandbox after the writes (a sync writes
# nothing), and every write in the audit trail.
source "$(dirname "$0")/tap.sh"
plan 64

# a fresh organization with generated books, for this test alone
neworg=$(q "SELECT billy_test.sandbox('POST', '/organizations', '{\"name\":\"Skrivebord ApS\"}')")
token=$(echo "$neworg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
org=$(q "SELECT billy.connect('$token', billy_test.setting('api_url'))")
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
q "ALTER SYSTEM SET billy.reconcile_delay_ms = 200" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3

# try SQL: ok, or SQLSTATE: message (billy_test.try)
try() { q "SELECT billy_test.try(\$x\$$1\$x\$)"; }
W="SET billy.enable_writes = on;"
w() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "SET client_min_messages = error" -c "$W" -c "$1"; }
# tw SQL: try with writes enabled in the session
tw() { psql -X -q -A -t -c "SET client_min_messages = error" -c "$W" -c "SELECT billy_test.try(\$x\$$1\$x\$)"; }
dump() { q "SELECT billy_test.sandbox('GET', '/dump?org=$org&resource=$1')"; }

customer=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' AND is_customer AND currency_id = 'DKK' AND NOT is_archived
              AND EXISTS (SELECT 1 FROM billy.contact_persons p WHERE p.contact_id = contacts.id AND p.email IS NOT NULL) ORDER BY id LIMIT 1")
supplier=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' AND is_supplier ORDER BY id LIMIT 1")
product=$(q "SELECT p.id FROM billy.products p JOIN billy.product_prices pp ON pp.product_id = p.id AND pp.organization_id = p.organization_id
             WHERE p.organization_id = '$org' AND pp.currency_id = 'DKK' AND NOT p.is_archived ORDER BY p.id LIMIT 1")
price=$(q "SELECT unit_price FROM billy.product_prices WHERE organization_id = '$org' AND product_id = '$product' AND currency_id = 'DKK'")
invoice_json="{\"contactId\":\"$customer\",\"entryDate\":\"2026-06-15\",\"lines\":[{\"productId\":\"$product\",\"quantity\":3}]}"

# --- gating
is "$(try "SELECT billy.create_invoice('$org', '$invoice_json')")" \
   "55000: writes to Billy are disabled
DETAIL: billy.enable_writes is off.
HINT: A superuser turns writes on with ALTER SYSTEM SET billy.enable_writes = on and SELECT pg_reload_conf(), or SET billy.enable_writes = on in one session." \
   "writes are refused while billy.enable_writes is off (the default)"
is "$(psql -X -A -t -c "SET ROLE billy_admin" -c "SET billy.enable_writes = on" 2>&1 | grep -o 'permission denied[^\"]*' | head -1)" \
   'permission denied to set parameter ' "only a superuser can turn billy.enable_writes on"
is "$(psql -X -q -A -t -c "$W" -c "SET ROLE billy_reader" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''{}'')')")" \
   "42501: permission denied for function create_invoice" "billy_reader may not write"
q "SELECT billy.set_read_only('$org')" >/dev/null
is "$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''$invoice_json'')')" | head -1)" \
   "25006: organization \"Skrivebord ApS\" ($org) is read-only in billy" "a read-only organization refuses writes"
q "SELECT billy.set_read_only('$org', false)" >/dev/null
is "$(q "SELECT count(*) FROM billy.write_ops WHERE organization_id = '$org'")" 0 "nothing refused reached the outbox"

# --- local validation names the field; nothing is sent
q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
is "$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''{\"entryDate\":\"2026-02-30\",\"lines\":[{\"productId\":\"nope\",\"unitPrice\":1.234}]}'')')" | head -1)" \
   "22023: create invoice: invoice.contactId is required" "a missing contactId is named"
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''{\"entryDate\":\"2026-02-30\",\"lines\":[{\"productId\":\"nope\",\"unitPrice\":1.234}]}'')')")
echo "$out" | grep -q 'invoice.entryDate must be a date (YYYY-MM-DD), not "2026-02-30"'; ok $? "an impossible date is named"
echo "$out" | grep -q 'invoice.lines\[0\].unitPrice must have at most 2 decimals, not 1.234'; ok $? "an amount with 3 decimals is named"
# well formed, then checked against the mirror
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''{\"contactId\":\"$customer\",\"entryDate\":\"2026-02-28\",\"lines\":[{\"productId\":\"nope\",\"unitPrice\":1.23}]}'')')")
echo "$out" | grep -q 'invoice.lines\[0\].productId no product "nope" in the mirror'; ok $? "an unknown product is named with its line"
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_contact(''$org'', ''{\"name\":\"X\",\"contactPersons\":[{\"email\":\"not-mail\"}],\"fax2\":1}'')')")
echo "$out" | grep -q 'contact.contactPersons\[0\].email must be an e-mail address, not "not-mail"'; ok $? "a bad e-mail is named"
echo "$out" | grep -q 'contact.fax2 is not a member of contact'; ok $? "an unknown field is named"
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_contact(''$org'', ''{\"name\":\"X\",\"registrationNo\":\"12345678\"}'')')")
echo "$out" | grep -q 'contact.registrationNo "12345678" is not a valid CVR number'; ok $? "a CVR number failing modulus 11 is named (1*2+2*7+3*6+4*5+5*4+6*3+7*2+8*1 = 114, not divisible by 11)"
is "$(q "SELECT coalesce((billy_test.sandbox('GET', '/stats')::jsonb -> 'total' ->> 'count'), '0')")" 0 "nothing was sent to Billy"

# --- each operation
W="SET billy.enable_writes = on;"
r=$(w "SELECT billy.create_contact('$org', '{\"name\":\"Skriveprøve ApS\",\"registrationNo\":\"29403473\",\"zipcodeText\":\"8000\",\"cityText\":\"Aarhus C\",\"contactPersons\":[{\"name\":\"Ida\",\"email\":\"ida@skriv.dk\"}]}')")
contact=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
is "$(echo "$r" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["record"]["registrationNo"], d["record"]["contactPersons"][0]["email"])')" \
   "done 29403473 ida@skriv.dk" "create_contact: done, the contact returned with its person"
is "$(q "SELECT name || ' ' || city FROM billy.contacts WHERE organization_id = '$org' AND id = '$contact'")" "Skriveprøve ApS Aarhus C" "and it is in the mirror at once"
w "SELECT billy.update_contact('$org', '$contact', '{\"phone\":\"+45 86 12 34 56\"}')" >/dev/null
is "$(q "SELECT phone FROM billy.contacts WHERE organization_id = '$org' AND id = '$contact'")" "+45 86 12 34 56" "update_contact changes the mirror"
r=$(w "SELECT billy.create_product('$org', '{\"name\":\"Skrivebordslampe\",\"productNo\":\"SK-1\",\"prices\":[{\"unitPrice\":499.50,\"currencyId\":\"DKK\"}]}')")
newproduct=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
is "$(q "SELECT unit_price = 499.50 FROM billy.product_prices WHERE organization_id = '$org' AND product_id = '$newproduct'")" t "create_product: its price is in the mirror"
w "SELECT billy.update_product('$org', '$newproduct', '{\"description\":\"LED, dæmpbar\"}')" >/dev/null
is "$(q "SELECT description FROM billy.products WHERE organization_id = '$org' AND id = '$newproduct'")" "LED, dæmpbar" "update_product changes the mirror"

r=$(w "SELECT billy.create_invoice('$org', '$invoice_json')")
inv=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
# 3 x the product's DKK price, excl. VAT: worked out from the mirror's price, not from Billy's answer
is "$(q "SELECT amount = round(3 * $price, 2) AND state = 'draft' AND external_id LIKE 'billy-%' FROM billy.invoices WHERE organization_id = '$org' AND id = '$inv'")" t \
   "create_invoice: a draft of 3 x $price, with a generated externalId, in the mirror"
is "$(q "SELECT count(*) FROM billy.invoice_lines WHERE organization_id = '$org' AND invoice_id = '$inv'")" 1 "with its line"
is "$(w "SELECT billy.approve_invoice('$org', '$inv') -> 'record' ->> 'state'")" approved "approve_invoice"
is "$(q "SELECT state || ' ' || (invoice_no IS NOT NULL) || ' ' || (balance = gross_amount) FROM billy.invoices WHERE organization_id = '$org' AND id = '$inv'")" \
   "approved true true" "the mirror has it approved, numbered, with its balance open"
is "$(w "SELECT billy.send_invoice('$org', '$inv') -> 'record' ->> 'sentState'")" sent "send_invoice: sentState sent"
gross=$(q "SELECT gross_amount FROM billy.invoices WHERE organization_id = '$org' AND id = '$inv'")
r=$(w "SELECT billy.create_bank_payment('$org', '{\"entryDate\":\"2026-06-20\",\"cashAmount\":$gross,\"associations\":[{\"subjectReference\":\"invoice:$inv\"}]}')")
is "$(echo "$r" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], sorted(d["changed"].keys()))')" "done ['bankPayments', 'invoices', 'transactions']" \
   "create_bank_payment: the payment, the invoice it paid and the transaction it booked changed"
pay=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
is "$(q "SELECT (sum(p.signed_amount) = 0) || ' ' || count(*) FILTER (WHERE p.signed_amount = $gross) FROM billy.transactions t
        JOIN billy.postings p ON p.organization_id = t.organization_id AND p.transaction_id = t.id
        WHERE t.organization_id = '$org' AND t.originator_reference = 'bankPayment:$pay'")" "true 1" \
   "the transaction it booked is in the mirror at once, balanced, with the amount paid on one side"
is "$(q "SELECT balance || ' ' || is_paid FROM billy.invoices WHERE organization_id = '$org' AND id = '$inv'")" "0 true" "the invoice is paid in the mirror at once"
is "$(tw "SELECT billy.create_bank_payment('$org', '{\"entryDate\":\"2026-06-20\",\"cashAmount\":1,\"associations\":[{\"subjectReference\":\"invoice:$inv\"}]}')" | head -1)" \
   "22023: create bank payment: payment.associations[0].subjectReference invoice $inv is paid already" "paying a paid invoice is refused locally"
draft=$(w "SELECT billy.create_invoice('$org', '$invoice_json') ->> 'record_id'")
is "$(w "SELECT billy.delete_draft_invoice('$org', '$draft') ->> 'state'")" done "delete_draft_invoice"
is "$(q "SELECT deleted_at IS NOT NULL FROM billy.invoices WHERE organization_id = '$org' AND id = '$draft'")" t "the draft is marked deleted in the mirror"
account=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND account_no = 2750")
rate=$(q "SELECT id FROM billy.tax_rates WHERE organization_id = '$org' AND abbreviation = 'K25'")
bill=$(w "SELECT billy.create_bill('$org', '{\"contactId\":\"$supplier\",\"entryDate\":\"2026-06-18\",\"taxMode\":\"incl\",\"lines\":[{\"accountId\":\"$account\",\"taxRateId\":\"$rate\",\"description\":\"Frokost\",\"amount\":1250}]}') ->> 'record_id'")
# incl: 1250 gross at 25% is 1000 net + 250 VAT
is "$(q "SELECT amount || ' ' || tax FROM billy.bills WHERE organization_id = '$org' AND id = '$bill'")" "1000 250" "create_bill: 1250 incl. 25% VAT is 1000 + 250"
is "$(w "SELECT billy.approve_bill('$org', '$bill') -> 'record' ->> 'state'")" approved "approve_bill"
# the lifecycle's checks against the mirror, before anything is sent
is "$(tw "SELECT billy.delete_draft_bill('$org', '$bill')" | head -1)" \
   "22023: delete draft bill: billId bill $bill is approved, not a draft" "an approved bill is not deleted (credit it)"
draft2=$(w "SELECT billy.create_invoice('$org', '$invoice_json') ->> 'record_id'")
is "$(tw "SELECT billy.credit_invoice('$org', '$draft2')" | head -1)" \
   "22023: credit invoice: invoiceId invoice $draft2 is draft: only approved invoices can be credited" "a draft is not credited (change or delete it)"
is "$(tw "SELECT billy.delete_contact('$org', '$customer')" | head -1 | sed 's/in use ([^:]*):/in use (...):/')" \
   "22023: delete contact: contactId contact \"$(q "SELECT name FROM billy.contacts WHERE organization_id = '$org' AND id = '$customer'")\" is in use (...): Billy refuses to delete it; archive it instead (isArchived true)" \
   "a contact that invoices use is not deleted, and the error says so"
# journal entries: balanced before sending, VAT per line, booked and voided
salary=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND account_no = 2210")
bank=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND is_payment_enabled AND currency_id = 'DKK' ORDER BY account_no LIMIT 1")
is "$(tw "SELECT billy.create_journal_entry('$org', '2026-06-12', '[{\"accountId\":\"$salary\",\"side\":\"debit\",\"amount\":1000},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":900}]')" | head -1)" \
   "22023: create journal entry: lines do not balance: debits 1000, credits 900 (lines without a contraAccountId must balance each other; off by 100)" \
   "a journal entry that does not balance is refused before anything is sent"
r=$(w "SELECT billy.create_journal_entry('$org', '2026-06-12', '[{\"accountId\":\"$account\",\"side\":\"debit\",\"amount\":1250,\"taxRateId\":\"$rate\",\"text\":\"Frokost\"},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":1250}]', description => 'Frokostmøde')")
je=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
is "$(dump daybookTransactions | python3 -c "import json,sys; print([t['state'] + ' ' + t['description'] for t in json.load(sys.stdin)['daybookTransactions'] if t['id'] == '$je'])")" \
   "['draft Frokostmøde']" "create_journal_entry: a draft in the sandbox, found by the id the write returned"
w "SELECT billy.set_journal_entry_state('$org', '$je', 'approved')" >/dev/null
# booked: 1250 gross at 25% is 1000 on the expense account and 250 deductible VAT, against 1250 from the bank
is "$(q "SELECT billy_test.sandbox('GET', '/dump?org=$org&resource=postings')" | python3 -c "
import json,sys
ps=[p for p in json.load(sys.stdin)['postings'] if p.get('transactionId') and p['accountId'] in ('$account', '$bank') and abs(float(p['amount'])) in (1000.0, 1250.0) and p['entryDate'] == '2026-06-12']
print(sorted(float(p['amount']) for p in ps))")" "[1000.0, 1250.0]" "set_journal_entry_state approved: booked with the VAT split off its line"
w "SELECT billy.set_journal_entry_state('$org', '$je', 'voided')" >/dev/null
is "$(dump daybookTransactions | python3 -c "import json,sys; print([t['state'] for t in json.load(sys.stdin)['daybookTransactions'] if t['id'] == '$je'])")" \
   "['voided']" "and voided"
w "SELECT billy.update_organization('$org', '{\"phone\":\"+45 70 20 30 40\"}')" >/dev/null
is "$(q "SELECT raw ->> 'phone' FROM billy.organizations WHERE id = '$org'")" "+45 70 20 30 40" "update_organization refreshes billy.organizations"

# --- Billy's own 422, passed on readably
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.create_invoice(''$org'', ''{\"contactId\":\"$customer\",\"entryDate\":\"2026-06-15\",\"currencyId\":\"XYZ\",\"lines\":[{\"productId\":\"$product\",\"unitPrice\":10}]}'')')")
echo "$out" | head -1 | grep -q '^22023: create_invoice failed: Billy answered HTTP 422: Unknown currency. Fields: invoice.currencyId: Unknown currency.$'
ok $? "Billy's 422 is an error naming the field Billy named"
echo "$out" | grep -q 'VALIDATION_ERROR'; ok $? "with Billy's errorCode in the detail"

# --- preview and commit
prev=$(w "SELECT billy.preview_write('update_contact', '{\"org\":\"$org\",\"contactId\":\"$contact\",\"contact\":{\"street\":\"Åboulevarden 1\"}}')")
hash=$(echo "$prev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["operation_hash"])')
is "$(echo "$prev" | python3 -c 'import json,sys; d=json.load(sys.stdin)["request"]; print(d["method"], d["path"], json.dumps(d["body"], ensure_ascii=False))')" \
   "PUT /contacts/$contact {\"contact\": {\"street\": \"Åboulevarden 1\"}}" "preview_write shows the request exactly as it would be sent"
is "$(q "SELECT street FROM billy.contacts WHERE organization_id = '$org' AND id = '$contact'")" "" "and sends nothing"
is "$(w "SELECT billy.commit_write('$hash') ->> 'state'")" done "commit_write sends it"
is "$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.commit_write(''$hash'')')" | head -1)" \
   "55000: operation hash ${hash:0:12}… was used already (write $(q "SELECT id FROM billy.write_ops WHERE preview_hash = '$hash'"))" "a used hash is refused"
prev=$(w "SELECT billy.preview_write('create_invoice', '{\"org\":\"$org\",\"invoice\":{\"contactId\":\"$contact\",\"entryDate\":\"2026-06-16\",\"lines\":[{\"productId\":\"$newproduct\"}]}}')")
hash=$(echo "$prev" | python3 -c 'import json,sys; print(json.load(sys.stdin)["operation_hash"])')
w "SELECT billy.update_contact('$org', '$contact', '{\"phone\":\"+45 86 00 00 00\"}')" >/dev/null
out=$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.commit_write(''$hash'')')")
is "$(echo "$out" | head -1)" "40001: the preview is stale: what the write depends on changed since it was previewed" "a stale preview is refused"
echo "$out" | grep -q "Changed in the mirror: contacts $contact"; ok $? "naming the record that changed"
prev=$(w "SELECT billy.preview_write('approve_bill', '{\"org\":\"$org\",\"billId\":\"$bill\"}')" 2>&1)
echo "$prev" | grep -q "billId bill $bill is approved, not a draft"; ok $? "previewing an impossible write is refused too"
hash=$(w "SELECT billy.preview_write('update_product', '{\"org\":\"$org\",\"productId\":\"$newproduct\",\"product\":{\"name\":\"Lampe\"}}') ->> 'operation_hash'")
q "UPDATE billy.write_previews SET expires_at = now() - interval '1 minute' WHERE hash = '$hash'" >/dev/null
is "$(psql -X -q -A -t -c "$W" -c "SELECT billy_test.try('SELECT billy.commit_write(''$hash'')')" | head -1 | sed 's/ at .*//')" "55000: operation hash ${hash:0:12}… expired" "an expired hash is refused"

# --- a write survives the caller's rollback
psql -X -q -c "$W" -c "BEGIN" -c "SELECT billy.update_product('$org', '$newproduct', '{\"suppliersProductNo\":\"LEV-9\"}')" -c "ROLLBACK" >/dev/null 2>&1
is "$(q "SELECT state FROM billy.write_ops WHERE organization_id = '$org' AND operation = 'update_product' AND args -> 'product' ->> 'suppliersProductNo' = 'LEV-9'")" done \
   "a write committed by the executor stays recorded when the caller rolls back"

# --- reconciliation: Billy stores the invoice, then the connection drops
q "SELECT billy_test.fault('{\"kind\":\"drop_after_write\",\"path\":\"/v2/invoices\",\"method\":\"POST\",\"count\":1}')" >/dev/null
r=$(w "SELECT billy.create_invoice('$org', '$invoice_json')")
is "$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" unknown "a dropped connection after sending: the outcome is unknown"
op=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["write_op_id"])')
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE id = $op" done
is "$(q "SELECT state || ': ' || reconciliation || ', attempts ' || attempts FROM billy.write_ops WHERE id = $op")" \
   "done: reconciled: found in Billy after the unknown outcome; not resent, attempts 1" "the worker found the invoice in Billy and did not resend it"
ext=$(q "SELECT request -> 'body' -> 'invoice' ->> 'externalId' FROM billy.write_ops WHERE id = $op")
is "$(dump invoices | python3 -c "import json,sys; print(sum(1 for i in json.load(sys.stdin)['invoices'] if i.get('externalId') == '$ext'))")" 1 "exactly one such invoice in Billy: no duplicate"
is "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org' AND external_id = '$ext' AND deleted_at IS NULL")" 1 "and it is in the mirror"
# a 500 the sandbox did not process: looked up, not there; the worker resends
# only when writes are on in its configuration
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":500,\"path\":\"/v2/contacts\",\"method\":\"POST\",\"count\":1}')" >/dev/null
op=$(w "SELECT billy.create_contact('$org', '{\"name\":\"Genforsøg I/S\"}') ->> 'write_op_id'")
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE id = $op" failed
is "$(q "SELECT reconciliation FROM billy.write_ops WHERE id = $op")" \
   "reconciled: not found in Billy; not resent because billy.enable_writes is off for the worker" \
   "a write Billy did not do is not resent while the worker may not write"
q "ALTER SYSTEM SET billy.enable_writes = on" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
q "SELECT billy_test.fault('{\"kind\":\"status\",\"status\":500,\"path\":\"/v2/contacts\",\"method\":\"POST\",\"count\":1}')" >/dev/null
op=$(w "SELECT billy.create_contact('$org', '{\"name\":\"Genforsøg I/S\"}') ->> 'write_op_id'")
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE id = $op" done
is "$(q "SELECT reconciliation || ', attempts ' || attempts FROM billy.write_ops WHERE id = $op")" \
   "reconciled: not found in Billy after the unknown outcome, so sent again, attempts 2" "with writes on, it is looked up first, then sent again"
is "$(dump contacts | python3 -c "import json,sys; print(sum(1 for c in json.load(sys.stdin)['contacts'] if c['name'] == 'Genforsøg I/S'))")" 1 "one contact in Billy"

# a write whose sender died after marking it sent (nobody holds its lock):
# the worker's housekeeping finds it, and reconciles it
op=$(q "INSERT INTO billy.write_ops (organization_id, operation, args, request, lookup, summary, state, attempts,
            requested_by, session_role, created_at, sent_at)
        SELECT p ->> 'organization_id', 'create_contact', '{}', p -> 'request', p -> 'lookup', p ->> 'summary', 'sent', 1,
            'postgres', 'postgres', now() - interval '1 minute', now() - interval '1 minute'
        FROM billy._plan_write('create_contact', '{\"org\":\"$org\",\"contact\":{\"name\":\"Forældreløs ApS\"}}') p
        RETURNING id")
is "$(q "SELECT billy._orphaned_writes()")" 1 "a sent write nobody holds is found"
wait_until 20 q_is "SELECT state FROM billy.write_ops WHERE id = $op" done
is "$(q "SELECT reconciliation FROM billy.write_ops WHERE id = $op")" \
   "reconciled: not found in Billy after the unknown outcome, so sent again" "it is looked up, not found, and sent"
is "$(dump contacts | python3 -c "import json,sys; print(sum(1 for c in json.load(sys.stdin)['contacts'] if c['name'] == 'Forældreløs ApS'))")" 1 "once"

# --- the mirror equals the sandbox; a sync writes nothing
is "$(q "SELECT billy_test.mirror_equal('$org')")" t "after all the writes, the mirror equals the sandbox record for record"
is "$(psql -X -q -A -t -c "SET client_min_messages = warning" -c "SELECT sum(rows_inserted + rows_updated + rows_deleted) FROM billy.sync_now('$org', ARRAY['contacts','products','invoices','bills','bankPayments'])")" 0 \
   "and a sync of them writes nothing: written records were stored as the sync sees them"

# --- the audit trail
is "$(q "SELECT count(*) FROM billy.write_ops w WHERE w.organization_id = '$org' AND NOT EXISTS (
          SELECT 1 FROM billy.audit_log a WHERE a.organization_id = w.organization_id AND (a.request ->> 'write_op_id')::bigint = w.id)")" 0 \
   "every write is in the audit trail"
is "$(q "SELECT billy.verify_audit_log('$org') ->> 'ok'")" true "and the chain verifies"

q "ALTER SYSTEM RESET billy.reconcile_delay_ms" >/dev/null
q "ALTER SYSTEM RESET billy.enable_writes" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT billy.disconnect('$org')" >/dev/null
done_testing
