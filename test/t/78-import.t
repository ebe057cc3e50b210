#!/usr/bin/env bash
# CSV imports as worker jobs: bad rows with their line numbers, dry run,
# continue_on_error, duplicates, progress and a prompt cancel, products with a
# decimal comma and Danish headers, a round trip of contacts exported from one
# sandbox organization and imported into a fresh one, invoice export, the
# audit trail, and cleanup of old jobs.
source "$(dirname "$0")/tap.sh"
plan 29

new_org() {   # new_org NAME EMPTY: a sandbox organization, connected; prints its id
    local out token
    out=$(q "SELECT billy_test.sandbox('POST', '/organizations', '{\"name\":\"$1\",\"empty\":$2}')")
    token=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    q "SELECT billy.connect('$token', billy_test.setting('api_url'))"
}
src=$(new_org "Kilde ApS" false)
dst=$(new_org "Mål ApS" true)
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$src')" -c "SELECT count(*) FROM billy.sync_now('$dst')" >/dev/null
q "ALTER SYSTEM SET billy.enable_writes = on" >/dev/null
q "ALTER SYSTEM SET billy.import_rate = 200" >/dev/null
q "ALTER SYSTEM SET billy.import_concurrency = 4" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3

try() { q "SELECT billy_test.try(\$x\$$1\$x\$)"; }
status() { q "SELECT billy.bulk_job_status($1) ->> '$2'"; }
wait_job() { wait_until "${2:-30}" q_is "SELECT state NOT IN ('queued', 'running') FROM billy.bulk_jobs WHERE id = $1" t; }
dump() { q "SELECT billy_test.sandbox('GET', '/dump?org=$1&resource=$2')"; }

# header on line 1; the first row spans lines 2-3 (a line break inside quotes)
bad=$'navn;cvr;adresse;postnr;by;land;telefon;email;ean;type\r\n"Jensen & Søn ApS";29403473;"Vestergade 1\r\n2. sal";8000;Aarhus C;DK;+45 86 12 34 56;info@jensen.dk;5790000000000;virksomhed\r\nDårlig CVR ApS;12345678;Vej 2;8000;Aarhus;DK;;;;virksomhed\r\nIngen Mail;;Vej 3;8000;Aarhus;DK;;ikke-en-mail;;privat\r\n;;;;;;;;;\r\n'
q "CREATE TABLE IF NOT EXISTS billy_test.files (name text PRIMARY KEY, body text)" >/dev/null
psql -X -q -v body="$bad" <<<"INSERT INTO billy_test.files VALUES ('bad', :'body') ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body" >/dev/null
f() { echo "(SELECT body FROM billy_test.files WHERE name = '$1')"; }

out=$(try "SELECT billy.import_csv('$dst', 'contacts', $(f bad))")
is "$(echo "$out" | head -1)" \
   "22023: line 4: registrationNo (column 2) is not a valid CVR number (8 digits passing the modulus 11 check)" \
   "one bad row refuses the whole file, naming its line, column and field"
echo "$out" | grep -q "3 of 4 rows are invalid: line 4: .*; line 5: email (column 8) is not an e-mail address; line 6: name (column 1) is required. Nothing was imported."
ok $? "the detail lists every bad line (a row spanning two lines counts from its first)"
is "$(q "SELECT count(*) FROM billy.bulk_jobs WHERE organization_id = '$dst'")" 0 "and nothing was recorded or sent"

job=$(q "SELECT billy.import_csv('$dst', 'contacts', $(f bad), '{\"dry_run\": true}')")
is "$(q "SELECT string_agg(line || ':' || state, ' ' ORDER BY line) FROM billy.bulk_job_items WHERE job_id = $job")" \
   "2:checked 4:invalid 5:invalid 6:invalid" "a dry run checks every row and records each one's outcome by line"
is "$(status $job state)/$(status $job would_create)/$(status $job invalid)" "done/1/3" "it finishes at once: 1 would be created, 3 are invalid"

job=$(q "SELECT billy.import_csv('$dst', 'contacts', $(f bad), '{\"continue_on_error\": true}')")
wait_job $job
is "$(status $job state)/$(status $job created)/$(status $job invalid)" "done/1/3" "continue_on_error imports the good row and records the bad ones"
is "$(dump $dst contacts | python3 -c 'import json,sys; c=[x for x in json.load(sys.stdin)["contacts"] if x["name"]=="Jensen & Søn ApS"][0]; print(repr(c["street"]), c["registrationNo"], c["ean"], c["contactPersons"][0]["email"], c["type"])')" \
   "'Vestergade 1\\r\\n2. sal' 29403473 5790000000000 info@jensen.dk company" "the contact reached Billy whole: the quoted line break, CVR, EAN, e-mail, type"
is "$(q "SELECT error FROM billy.bulk_job_items WHERE job_id = $job AND line = 5")" "email (column 8) is not an e-mail address" "billy.bulk_job_items keeps each bad row's reason"

# duplicates: the same file again
job=$(q "SELECT billy.import_csv('$dst', 'contacts', $(f bad), '{\"dry_run\": true}')")
is "$(q "SELECT state || ': ' || error FROM billy.bulk_job_items WHERE job_id = $job AND line = 2")" \
   "skipped: matches existing contact $(q "SELECT id FROM billy.contacts WHERE organization_id = '$dst' AND registration_no = '29403473'") by registrationNo 29403473" \
   "a row matching an existing contact by CVR is skipped by default"
job=$(q "SELECT billy.import_csv('$dst', 'contacts', $(f bad), '{\"dry_run\": true, \"on_duplicate\": \"update\"}')")
is "$(status $job would_update)" 1 "or updated with on_duplicate update"

# products: Danish headers, a decimal comma with thousands, account and ruleset by name
prod=$'varenr;navn;beskrivelse;pris;valuta;konto;moms\nP-1;Stander Lys;"Messing; 40 cm";"1.234,50";DKK;1110;Varer\nP-2;Konsulenttime;;"950";;1120;Ydelser\nP-3;Dyr lampe;;"12.34,5";DKK;1110;Varer\n'
psql -X -q -v body="$prod" <<<"INSERT INTO billy_test.files VALUES ('prod', :'body') ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body" >/dev/null
job=$(q "SELECT billy.import_csv('$dst', 'products', $(f prod), '{\"continue_on_error\": true}')")
wait_job $job
is "$(status $job created)/$(status $job invalid)" "2/1" "products: 2 created, 1 refused"
is "$(q "SELECT error FROM billy.bulk_job_items WHERE job_id = $job AND line = 4")" "unitPrice (column 4) groups thousands wrongly" "\"12.34,5\" is refused: thousands are grouped in threes"
is "$(q "SELECT p.product_no || ' ' || pp.unit_price || ' ' || a.account_no || ' ' || r.name || ' ' || p.description
          FROM billy.products p JOIN billy.product_prices pp ON pp.organization_id = p.organization_id AND pp.product_id = p.id
          JOIN billy.accounts a ON a.organization_id = p.organization_id AND a.id = p.account_id
          JOIN billy.sales_tax_rulesets r ON r.organization_id = p.organization_id AND r.id = p.sales_tax_ruleset_id
          WHERE p.organization_id = '$dst' AND p.product_no = 'P-1'")" "P-1 1234.5 1110 Varer Messing; 40 cm" \
   "\"1.234,50\" is 1234.50 DKK, account 1110 and ruleset Varer by name, a ; inside quotes"

# progress and a prompt cancel: 40 rows at 2 per second
q "ALTER SYSTEM SET billy.import_rate = 2" >/dev/null
q "ALTER SYSTEM SET billy.import_concurrency = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
psql -X -q -c "INSERT INTO billy_test.files SELECT 'many', 'name;country' || E'\n' || string_agg('Massekunde ' || i || ';DK', E'\n') FROM generate_series(1, 40) i
               ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body" >/dev/null
job=$(q "SELECT billy.import_csv('$dst', 'contacts', $(f many))")
wait_until 20 q_is "SELECT (billy.bulk_job_status($job) ->> 'done')::int >= 3" t
ok $? "while it runs, billy.bulk_job_status shows rows done"
is "$(q "SELECT (s ->> 'state') || ' ' || ((s ->> 'rate_per_s')::numeric BETWEEN 0.5 AND 3) || ' ' || ((s ->> 'eta_s')::int BETWEEN 10 AND 80)
         FROM billy.bulk_job_status($job) s")" "running true true" "with its rate (about 2 per second) and the time left"
t0=$(date +%s%N)
q "SELECT billy.cancel_bulk_job($job)" >/dev/null
wait_until 10 q_is "SELECT state FROM billy.bulk_jobs WHERE id = $job" cancelled
ok $? "cancel_bulk_job stops it"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([ $ms -lt 3000 ] && echo 0 || echo 1) "promptly ($ms ms)"
done_rows=$(status $job done)
is "$(q "SELECT count(*) FILTER (WHERE state = 'cancelled') || ' ' || count(*) FILTER (WHERE state = 'done') FROM billy.bulk_job_items WHERE job_id = $job")" \
   "$((40 - done_rows)) $done_rows" "rows already created stay done; the rest are cancelled"
sleep 1
is "$(dump $dst contacts | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin)["contacts"] if c["name"].startswith("Massekunde ")))')" "$done_rows" \
   "Billy has exactly the rows reported done, and nothing after the cancel"
is "$(q "SELECT count(*) FROM billy.bulk_job_items i JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.record_id WHERE i.job_id = $job")" \
   "$done_rows" "each done row names the record it created, which is in the mirror"

# the round trip: contacts exported from one organization into a fresh one
q "ALTER SYSTEM SET billy.import_rate = 500" >/dev/null
q "ALTER SYSTEM SET billy.import_concurrency = 4" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
dst2=$(new_org "Tomt Selskab ApS" true)
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$dst2')" >/dev/null
psql -X -q -c "INSERT INTO billy_test.files SELECT 'export', billy.export_contacts_csv('$src') ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body" >/dev/null
n=$(q "SELECT count(*) FROM billy.contacts WHERE organization_id = '$src' AND NOT is_archived")
is "$(q "SELECT count(*) - 1 FROM billy.parse_csv($(f export))")" "$n" "the export has a header and one record per contact that is not archived ($n)"
job=$(q "SELECT billy.import_csv('$dst2', 'contacts', $(f export))")
wait_job $job 60
is "$(status $job state)/$(status $job created)" "done/$n" "all of them imported into the fresh organization"
compare='import json,sys
def key(c):
    ps = sorted(c.get("contactPersons") or [], key=lambda p: (not p.get("isPrimary"), p["id"]))
    return (c["name"], c["type"], c["countryId"], c.get("street"), c.get("zipcodeText"), c.get("cityText"),
            c.get("registrationNo"), c.get("ean"), c.get("phone"), ps[0]["email"] if ps else None, c.get("contactNo"),
            c["isCustomer"], c["isSupplier"], c.get("paymentTermsDays"), c.get("currencyId"), c.get("localeId"))
a = sorted(key(c) for c in json.load(open(sys.argv[1]))["contacts"] if not c["isArchived"])
b = sorted(key(c) for c in json.load(open(sys.argv[2]))["contacts"])
print("same" if a == b else "differ: %d vs %d, first %s / %s" % (len(a), len(b), [x for x in a if x not in b][:1], [x for x in b if x not in a][:1]))'
dump $src contacts >"$BILLY_WORK/rt-a.json"
dump $dst2 contacts >"$BILLY_WORK/rt-b.json"
is "$(python3 -c "$compare" "$BILLY_WORK/rt-a.json" "$BILLY_WORK/rt-b.json")" same \
   "the fresh organization has the same contacts: name, type, address, CVR, EAN, phone, primary e-mail, number, roles, terms, currency, locale"
is "$(q "SELECT billy_test.mirror_equal('$dst2')")" t "and its mirror equals the sandbox"

# invoice export, Danish style, read back by the parser
psql -X -q -c "INSERT INTO billy_test.files SELECT 'inv', billy.export_invoices_csv('$src', '{}', '{\"format\": \"danish\"}') ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body" >/dev/null
is "$(q "SELECT left(body, 1) = chr(65279) FROM billy_test.files WHERE name = 'inv'")" t "the Danish export starts with a byte order mark for Excel"
is "$(q "SELECT count(*) - 1 FROM billy.parse_csv($(f inv))")" "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$src' AND deleted_at IS NULL")" \
   "one record per invoice, read back with ';' detected"
is "$(q "SELECT sum(replace(fields[15], ',', '.')::numeric) FROM billy.parse_csv($(f inv)) WHERE line > 1")" \
   "$(q "SELECT sum(gross_amount) FROM billy.invoices WHERE organization_id = '$src' AND deleted_at IS NULL")" \
   "the gross amounts, written with a decimal comma, add up to the mirror's to the øre"

# the audit trail and cleanup
is "$(q "SELECT count(*) FROM billy.audit_log WHERE organization_id = '$dst2' AND action = 'write:create_contact' AND outcome = 'done'")" "$n" \
   "every imported row is in the audit trail"
q "UPDATE billy.bulk_jobs SET finished_at = now() - interval '31 days' WHERE id = $job" >/dev/null
q "SELECT billy._forget_bulk_jobs()" >/dev/null
is "$(q "SELECT count(*) FROM billy.bulk_job_items WHERE job_id = $job") $(q "SELECT count(*) FROM billy.bulk_jobs WHERE organization_id = '$dst2'")" "0 0" \
   "imports finished more than 30 days ago are forgotten with their rows"

for o in $src $dst $dst2; do q "SELECT billy.disconnect('$o')" >/dev/null; done
q "ALTER SYSTEM RESET billy.enable_writes" >/dev/null
q "ALTER SYSTEM RESET billy.import_rate" >/dev/null
q "ALTER SYSTEM RESET billy.import_concurrency" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
done_testing
