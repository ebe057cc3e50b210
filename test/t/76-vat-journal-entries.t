#!/usr/bin/env bash
# Journal entries (daybook transactions) with VAT codes on the VAT return:
# made and approved through billy's write path against the sandbox, synced,
# then every field of billy.vat_return worked out by hand below; voiding an
# entry takes it off; billy.ledger_check's VAT cross-check finds nothing,
# and finds a deliberately broken posting.
#
# Period 2027-Q1 of a fresh organization (its generated books end before):
#   JP 2027-02-10 purchase, K25 (25%, fully deductible): debit 2750
#      1,234.56 gross, credit the bank 1,234.56
#      VAT in the gross: 1,234.56 x 0.25 / 1.25 = 246.912 -> 246.91 (købsmoms)
#   JS 2027-02-15 sales, S25 (25%): credit 1110 3,000.00 gross, debit 1110
#      500.00 gross (a refund: a debit on a sales line reverses), debit the
#      bank 2,500.00
#      VAT: 3,000.00 x 0.2 = 600.00 on the credit, 500.00 x 0.2 = 100.00 back:
#      salgsmoms 600.00 - 100.00 = 500.00
#   JR 2027-03-01 service bought from abroad, UY25 (reverse charge, no VAT
#      in the amount): debit 2750 2,000.00, credit the bank 2,000.00
#      the buyer computes 25% of 2,000.00 = 500.00: moms af ydelseskøb i
#      udlandet 500.00 and købsmoms 500.00; no supplier, so rubrik A
#      ydelser 2,000.00 (as a bill from a supplier of unknown country)
#   Return: salgsmoms 500.00; moms af ydelseskøb 500.00; købsmoms 246.91 +
#      500.00 = 746.91; rubrik A ydelser 2,000.00; tilsvar exact 500.00 +
#      500.00 - 746.91 = 253.09, reported 500 + 500 - 746 = 254; 4 lines
#      (the bank lines have no tax rate and are not VAT lines)
#   JS voided: salgsmoms 0; tilsvar exact 500.00 - 746.91 = -246.91,
#      reported 500 - 746 = -246; 2 lines
#
# Period 2027-Q2: a journal entry in euro (JE 2027-04-14). Billy gives a
# journal entry line no exchange rate: it converts the line itself, and
# what the line is in kroner is what its postings say. billy-sandbox
# converts at the euro's rate of the entry date, 7.4503 DKK on 2027-04-14
# (its rate_on: 7.4604 drifting), rounded to øre, and splits the VAT off in
# kroner:
#   debit 2750 1,234.56 EUR K25: 1,234.56 x 7.4503 = 9,197.8376 -> 9,197.84
#      kr.; VAT 9,197.84 / 5 = 1,839.568 -> 1,839.57 (købsmoms)
#   debit 2750 400.00 EUR UY25 (reverse charge, the net): 400.00 x 7.4503 =
#      2,980.12 kr. (rubrik A ydelser); 25% = 745.03 (moms af ydelseskøb
#      and købsmoms)
#   credit 1110 999.99 EUR S25: 999.99 x 7.4503 = 7,450.2255 -> 7,450.23
#      kr.; VAT 7,450.23 / 5 = 1,490.046 -> 1,490.05 (salgsmoms)
#   credit the EUR bank 634.57 EUR (no tax rate, no VAT line)
#   Return: salgsmoms 1,490.05; moms af ydelseskøb 745.03; købsmoms
#      1,839.57 + 745.03 = 2,584.60; rubrik A ydelser 2,980.12; tilsvar
#      exact 1,490.05 + 745.03 - 2,584.60 = -349.52, reported 1,490 + 745 -
#      2,584 = -349; 3 lines. (Taken as kroner, as before: salgsmoms
#      200.00, købsmoms 246.91 + 100.00, rubrik A 400.00.)
source "$(dirname "$0")/tap.sh"
plan 26

neworg=$(q "SELECT billy_test.sandbox('POST', '/organizations', '{\"name\":\"Kassekladde ApS\"}')")
token=$(echo "$neworg" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
org=$(q "SELECT billy.connect('$token', billy_test.setting('api_url'))")
sync() { psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null; }
sync
W="SET billy.enable_writes = on;"
w() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "SET client_min_messages = error" -c "$W" -c "$1"; }
acc() { q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND account_no = $1"; }
rate() { q "SELECT id FROM billy.tax_rates WHERE organization_id = '$org' AND abbreviation = '$1'"; }
expense=$(acc 2750); sales=$(acc 1110)
bank=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND is_payment_enabled AND currency_id = 'DKK' ORDER BY account_no LIMIT 1")
k25=$(rate K25); s25=$(rate S25); uy25=$(rate UY25)
ret() { q "SELECT concat_ws(' ', salgsmoms_exact, moms_varekoeb_udland_exact, moms_ydelseskoeb_udland_exact, koebsmoms_exact,
                          rubrik_a_varer_exact, rubrik_a_ydelser_exact, rubrik_b_varer_eu_salg_exact, rubrik_c_exact,
                          tilsvar_exact, tilsvar_reported, lines, unmapped_lines)
           FROM billy.vat_return('$org', '2027-Q1')"; }
is "$(ret)" "0 0 0 0 0 0 0 0 0 0 0 0" "2027-Q1 holds nothing before the journal entries"

# entry DATE DESCRIPTION LINES: create through billy's write path, approve it, print its id
entry() {
    local r id
    r=$(w "SELECT billy.create_journal_entry('$org', '$1', '$3', description => '$2')")
    id=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
    w "SELECT billy.set_journal_entry_state('$org', '$id', 'approved')" >/dev/null
    echo "$id"
}
jp=$(entry 2027-02-10 "Kontorstole" "[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":1234.56,\"taxRateId\":\"$k25\"},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":1234.56}]")
js=$(entry 2027-02-15 "Kontantsalg" "[{\"accountId\":\"$sales\",\"side\":\"credit\",\"amount\":3000,\"taxRateId\":\"$s25\"},{\"accountId\":\"$sales\",\"side\":\"debit\",\"amount\":500,\"taxRateId\":\"$s25\"},{\"accountId\":\"$bank\",\"side\":\"debit\",\"amount\":2500}]")
jr=$(entry 2027-03-01 "Annoncer" "[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":2000,\"taxRateId\":\"$uy25\"},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":2000}]")
sync
is "$(q "SELECT string_agg(state, ' ' ORDER BY entry_date) FROM billy.daybook_transactions WHERE organization_id = '$org' AND id IN ('$jp', '$js', '$jr')")" \
   "approved approved approved" "the three journal entries are approved in the mirror"
q "SELECT billy_test.mirror_equal('$org')" | grep -q t; ok $? "the mirror equals the sandbox after the sync"

is "$(ret)" "500.00 0 500.00 746.91 0 2000.00 0 0 253.09 254 4 0" \
   "vat_return 2027-Q1: salgsmoms 500.00, moms af ydelseskøb 500.00, købsmoms 746.91, rubrik A ydelser 2,000.00, tilsvar 253.09 (254 reported), 4 lines"
is "$(q "SELECT string_agg(concat_ws(' ', field, amount, document_no IS NOT NULL), ', ' ORDER BY field, amount)
         FROM billy.vat_return_lines('$org', '2027-Q1') WHERE document_type = 'daybookTransaction'")" \
   "koebsmoms 246.91 t, koebsmoms 500.00 t, moms_ydelseskoeb_udland 500.00 t, rubrik_a_ydelser 2000.00 t, salgsmoms -100.00 t, salgsmoms 600.00 t" \
   "the drill-down: each journal entry line with its voucher, the refund line negative"
is "$(q "SELECT string_agg(concat_ws(' ', net_base, tax_base, treatment), ', ' ORDER BY net_base)
         FROM billy.vat_lines WHERE organization_id = '$org' AND document_id = '$js'")" \
   "-400.00 -100.00 sale_domestic, 2400.00 600.00 sale_domestic" \
   "vat_lines: a sales line's net and VAT, the credit side positive, split off the gross by the rate"
is "$(q "SELECT count(*) FROM billy.ledger_check('$org', '2027-Q1') WHERE check_name = 'vat' AND severity IN ('error', 'warning')")" 0 \
   "ledger_check: the VAT accounts' postings agree with the return (journal entries included)"

# a draft journal entry with a VAT code is not on the return: vat_check says
# so (draft_in_period), as for draft invoices and bills; a draft without a
# VAT code is no VAT line when approved either, so it is not mentioned
dr=$(w "SELECT billy.create_journal_entry('$org', '2027-03-10', '[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":625,\"taxRateId\":\"$k25\"},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":625}]', description => 'Kladde')" \
     | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
dn=$(w "SELECT billy.create_journal_entry('$org', '2027-03-11', '[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":80},{\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":80}]', description => 'Kladde uden moms')" \
     | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_id"])')
sync
is "$(q "SELECT string_agg(concat_ws(' ', severity, document_id, entry_date), ', ') FROM billy.vat_check('$org', '2027-Q1')
         WHERE code = 'draft_in_period' AND document_type = 'daybookTransaction'")" "info $dr 2027-03-10" \
   "vat_check: the draft journal entry with a VAT code is flagged (draft_in_period), the one without is not"
is "$(ret)" "500.00 0 500.00 746.91 0 2000.00 0 0 253.09 254 4 0" "the drafts are not on the return"

# the preview of a journal entry with a reverse-charge line: nothing is
# split off its amount (the net); its VAT, 25% of 2,000.00 = 500.00, is
# booked on top; only the K25 line's 1,000.00 x 0.25 / 1.25 = 200.00 is split off
is "$(q "SELECT billy._plan_write('create_journal_entry', jsonb_build_object('org', '$org', 'entryDate', '2027-03-20', 'lines',
           '[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":2000,\"taxRateId\":\"$uy25\"},
             {\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":1000,\"taxRateId\":\"$k25\"},
             {\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":3000}]'::jsonb)) ->> 'summary'")" \
   "draft a journal entry dated 2027-03-20 with 3 line(s), 3000 on each side, VAT 200.00 split off by the lines' tax rates, reverse-charge VAT 500.00 on top of the reverse-charge lines (owed and deducted, not split off)" \
   "the preview splits VAT off the K25 line only; the reverse-charge line's VAT is on top"

# the lines the triggers kept equal a rebuild from the mirror
before=$(q "SELECT md5(string_agg(f::text, ',' ORDER BY line_id)) FROM billy._vat_facts f WHERE organization_id = '$org'")
q "SELECT billy.vat_rebuild_lines('$org')" >/dev/null
is "$(q "SELECT md5(string_agg(f::text, ',' ORDER BY line_id)) FROM billy._vat_facts f WHERE organization_id = '$org'")" "$before" \
   "the VAT lines the triggers kept equal a rebuild from the mirror"

# a deliberately broken posting: the cross-check names the journal entry
# (a debit on Købsmoms: amount + 1 books 1 more)
broken="FROM billy.transactions t, billy.accounts a
   WHERE t.organization_id = x.organization_id AND t.id = x.transaction_id AND t.originator_reference = 'daybookTransaction:$jp'
     AND a.organization_id = x.organization_id AND a.id = x.account_id AND a.name = 'Købsmoms' AND x.organization_id = '$org'"
q "UPDATE billy.postings x SET amount = amount + 1 $broken" >/dev/null
is "$(q "SELECT string_agg(severity || ' ' || subject || ' ' || expected || ' ' || booked, ', ' ORDER BY subject)
         FROM billy.ledger_check('$org', '2027-Q1') WHERE check_name = 'vat' AND severity = 'error'")" \
   "error daybookTransaction:$jp 246.91 247.91, error field:koebsmoms 746.91 747.91" \
   "ledger_check finds a broken posting on a journal entry's VAT, naming it"
q "UPDATE billy.postings x SET amount = amount - 1 $broken" >/dev/null

# voiding an entry takes it off the return
w "SELECT billy.set_journal_entry_state('$org', '$js', 'voided')" >/dev/null
sync
is "$(q "SELECT state FROM billy.daybook_transactions WHERE organization_id = '$org' AND id = '$js'")" voided "the sales entry is voided in the mirror"
is "$(ret)" "0 0 500.00 746.91 0 2000.00 0 0 -246.91 -246 2 0" \
   "voided: salgsmoms 0, tilsvar -246.91 (-246 reported), 2 lines"
is "$(q "SELECT count(*) FROM billy._vat_facts WHERE organization_id = '$org' AND document_id = '$js'")" 0 "a voided entry has no VAT line"
is "$(q "SELECT count(*) FROM billy.ledger_check('$org', '2027-Q1') WHERE check_name = 'vat' AND severity IN ('error', 'warning')")" 0 \
   "ledger_check agrees after the void too"

# a purchase rate overridden to restaurant (25% of the VAT deductible)
# changes the return at once: 246.91 x 0.25 = 61.7275 -> 61.73
q "SELECT billy.vat_map_rate('$org', 'K25', 'purchase_restaurant')" >/dev/null
is "$(q "SELECT koebsmoms_exact FROM billy.vat_return('$org', '2027-Q1')")" "561.73" \
   "a journal entry line follows its rate's treatment: købsmoms 61.73 + 500.00"
q "SELECT billy.vat_map_rate('$org', 'K25', NULL)" >/dev/null

# the first sync of another database's view: a resync from nothing builds the same lines
q "DELETE FROM billy.daybook_transactions WHERE organization_id = '$org'" >/dev/null
is "$(q "SELECT count(*) FROM billy._vat_facts WHERE organization_id = '$org' AND document_type = 'daybookTransaction'")" 0 \
   "deleting the journal entries from the mirror takes their VAT lines"
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['daybookTransactions'])" >/dev/null
is "$(ret)" "0 0 500.00 746.91 0 2000.00 0 0 -246.91 -246 2 0" \
   "a first sync of the journal entries (built at its end) gives the same return"

# a journal entry in euro (2027-Q2, worked out above): the return takes each
# line in kroner as Billy booked it, to the øre
ret2() { q "SELECT concat_ws(' ', salgsmoms_exact, moms_varekoeb_udland_exact, moms_ydelseskoeb_udland_exact, koebsmoms_exact,
                           rubrik_a_varer_exact, rubrik_a_ydelser_exact, rubrik_b_varer_eu_salg_exact, rubrik_c_exact,
                           tilsvar_exact, tilsvar_reported, lines, unmapped_lines)
            FROM billy.vat_return('$org', '2027-Q2')"; }
eurbank=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$org' AND is_payment_enabled AND currency_id = 'EUR' ORDER BY account_no LIMIT 1")
je=$(entry 2027-04-14 "Messe i Hamburg" "[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":1234.56,\"taxRateId\":\"$k25\",\"currencyId\":\"EUR\"},{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":400,\"taxRateId\":\"$uy25\",\"currencyId\":\"EUR\"},{\"accountId\":\"$sales\",\"side\":\"credit\",\"amount\":999.99,\"taxRateId\":\"$s25\",\"currencyId\":\"EUR\"},{\"accountId\":\"$eurbank\",\"side\":\"credit\",\"amount\":634.57,\"currencyId\":\"EUR\"}]")
sync
is "$(q "SELECT string_agg(DISTINCT currency_id, ' ') FROM billy.daybook_transaction_lines WHERE organization_id = '$org' AND daybook_transaction_id = '$je'")" \
   "EUR" "the euro entry's lines are in EUR in the mirror"
is "$(ret2)" "1490.05 0 745.03 2584.60 0 2980.12 0 0 -349.52 -349 3 0" \
   "vat_return 2027-Q2, lines in euro as booked in kroner: salgsmoms 1,490.05, moms af ydelseskøb 745.03, købsmoms 2,584.60, rubrik A ydelser 2,980.12, tilsvar -349.52 (-349)"
is "$(q "SELECT string_agg(concat_ws(' ', field, amount, explanation), '; ' ORDER BY field, amount)
         FROM billy.vat_return_lines('$org', '2027-Q2') WHERE field IN ('salgsmoms', 'koebsmoms')")" \
   "koebsmoms 745.03 100% of the VAT 745.03; koebsmoms 1839.57 100% of the VAT 1839.57; salgsmoms 1490.05 the VAT 1490.05 in the journal entry line's gross amount 7450.23 (EUR 999.99 as Billy booked it)" \
   "the drill-down names the euro amount and the kroner Billy booked"
is "$(q "SELECT count(*) FROM billy.ledger_check('$org', '2027-Q2') WHERE check_name = 'vat' AND severity IN ('error', 'warning')")" 0 \
   "ledger_check: the VAT accounts' postings agree with the return for the euro entry"

# without its postings in the mirror the euro lines are on no field, and said so
is "$(psql -X -q -A -t -v ON_ERROR_STOP=1 -c "BEGIN" \
        -c "DELETE FROM billy.transactions WHERE organization_id = '$org' AND originator_type = 'daybookTransaction' AND originator_id = '$je'" \
        -c "SELECT concat_ws(' ', r.salgsmoms_exact, r.koebsmoms_exact, r.lines, r.unmapped_lines, r.complete,
                             (SELECT count(*) FROM billy.vat_check('$org', '2027-Q2') c WHERE c.code = 'journal_line_not_booked' AND c.severity = 'error'))
            FROM billy.vat_return('$org', '2027-Q2') r" -c "ROLLBACK")" \
   "0 0.00 3 3 f 1" "a euro entry whose postings are not mirrored: on no field, the return incomplete, vat_check says why (journal_line_not_booked)"

# the plan checks the balance per currency: 100 EUR against 100 DKK does not balance
is "$(q "SELECT string_agg(e ->> 'message', '; ') FROM jsonb_array_elements(billy._plan_write('create_journal_entry', jsonb_build_object('org', '$org', 'entryDate', '2027-04-20', 'lines',
           '[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":100,\"currencyId\":\"EUR\"},
             {\"accountId\":\"$bank\",\"side\":\"credit\",\"amount\":100}]'::jsonb)) -> 'problems') e")" \
   "do not balance: debits 0, credits 100 (lines without a contraAccountId must balance each other; off by 100); do not balance in EUR: debits 100, credits 0 (lines without a contraAccountId must balance each other in their currency; off by 100)" \
   "create_journal_entry: lines in two currencies do not balance each other"
is "$(q "SELECT billy._plan_write('create_journal_entry', jsonb_build_object('org', '$org', 'entryDate', '2027-04-20', 'lines',
           '[{\"accountId\":\"$expense\",\"side\":\"debit\",\"amount\":125,\"taxRateId\":\"$k25\",\"currencyId\":\"EUR\"},
             {\"accountId\":\"$eurbank\",\"side\":\"credit\",\"amount\":125,\"currencyId\":\"EUR\"}]'::jsonb)) ->> 'summary'")" \
   "draft a journal entry dated 2027-04-20 with 2 line(s), 125 EUR on each side, VAT 25.00 EUR split off by the lines' tax rates" \
   "the preview of a euro entry says its amounts are in euro"
