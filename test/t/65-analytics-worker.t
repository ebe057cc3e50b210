#!/usr/bin/env bash
# The rollups with commits: a sync by the worker (a commit per page of 50)
# leaves them equal to a recomputation from the mirror; two sessions that
# void and approve invoices of the same customer on the same day, and pay
# and unpay, at the same time leave them right too (the customer bitmaps are
# maintained under a per-organization lock); a sync that changes nothing
# writes no rollup row.
source "$(dirname "$0")/tap.sh"
plan 10

# sync_by_worker ARGS: billy.sync(ARGS), then wait for its jobs; prints the outcome
sync_by_worker() {
    local first
    first=$(q "SELECT COALESCE(max(id), 0) + 1 FROM billy.jobs")
    q "SELECT billy.sync($1)" >/dev/null
    q "SELECT billy_test.job_outcome($first, '120 s')"
}

consistent() {
    q "SELECT COALESCE(string_agg(rollup || ': ' || rows, ', ') FILTER (WHERE rows <> 0), 'consistent')
       FROM billy_test.analytics_differences()"
}

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(2)")
q "SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url'))" >/dev/null
q "ALTER SYSTEM SET billy.sync_page_size = 50" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue
is "$(sync_by_worker "'$org'")" done "the worker syncs the organization page by page"
ok $([ "$(q "SELECT count(*) > 0 FROM billy.analytics_daily WHERE organization_id = '$org'")" = t ]; echo $?) \
   "the rollups are filled as pages commit"
is "$(consistent)" consistent "after the worker's sync, the rollups equal a recomputation from the mirror"

# two sessions at once on one customer's day: each flips its own invoice
# between approved and voided, and its payments between live and voided
pair=$(q "SELECT string_agg(id, ' ') FROM (
            SELECT i.id FROM billy.invoices i
            JOIN (SELECT contact_id, entry_date FROM billy.invoices
                  WHERE organization_id = '$org' AND state = 'approved' AND type = 'invoice'
                  GROUP BY 1, 2 HAVING count(*) >= 2 ORDER BY 1, 2 LIMIT 1) d USING (contact_id, entry_date)
            WHERE i.organization_id = '$org' AND i.state = 'approved' AND i.type = 'invoice' ORDER BY i.id LIMIT 2) x")
set -- $pair
if [ $# -lt 2 ]; then
    # no customer with two invoices on one day: make one
    first=$(q "SELECT id FROM billy.invoices WHERE organization_id = '$org' AND state = 'approved' AND type = 'invoice' ORDER BY id LIMIT 1")
    second=$(q "SELECT id FROM billy.invoices WHERE organization_id = '$org' AND state = 'approved' AND type = 'invoice' ORDER BY id DESC LIMIT 1")
    q "UPDATE billy.invoices b SET contact_id = a.contact_id, entry_date = a.entry_date FROM billy.invoices a
       WHERE a.organization_id = '$org' AND a.id = '$first' AND b.organization_id = '$org' AND b.id = '$second'" >/dev/null
    set -- "$first" "$second"
fi
flip() {  # flip INVOICE ROUNDS SEED
    psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>>"$BILLY_WORK/logs/65-flips.err" <<SQL
SELECT setseed($3);
DO \$\$
BEGIN
    FOR i IN 1..$2 LOOP
        UPDATE billy.invoices SET state = CASE state WHEN 'approved' THEN 'voided' ELSE 'approved' END
        WHERE organization_id = '$org' AND id = '$1';
        UPDATE billy.balance_modifiers SET is_voided = NOT is_voided
        WHERE organization_id = '$org' AND subject_type = 'invoice' AND subject_id = '$1';
        COMMIT;
    END LOOP;
END
\$\$;
SQL
}
flip "$1" 41 0.1 &
a=$!
flip "$2" 40 0.2 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
ok $((ra + rb)) "two sessions flip invoices of one customer and day, 81 commits, without an error"
is "$(consistent)" consistent "the rollups equal a recomputation from the mirror after the concurrent changes"
is "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org' AND id IN ('$1', '$2') AND state = 'approved'")" 1 \
   "(one invoice ended voided, the other approved)"

# the race the analytics lock is for, made certain: Y (in EUR, voided) and X
# (in DKK, approved) are the customer's invoices of one day.  B approves Y
# and holds its transaction open; A moves X to the next day of the month,
# which changes no rollup row B holds.  A must not decide the customer was
# not invoiced that day before B has committed.
q "UPDATE billy.invoices SET state = 'approved' WHERE organization_id = '$org' AND id = '$1';
   UPDATE billy.invoices SET state = 'voided', currency_id = 'EUR', exchange_rate = 7.5
   WHERE organization_id = '$org' AND id = '$2'" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 >/dev/null 2>>"$BILLY_WORK/logs/65-flips.err" <<SQL &
BEGIN;
UPDATE billy.invoices SET state = 'approved' WHERE organization_id = '$org' AND id = '$2';
SELECT pg_sleep(1.5);
COMMIT;
SQL
b=$!
sleep 0.5
q "UPDATE billy.invoices SET entry_date = CASE WHEN date_trunc('month', entry_date + 1) = date_trunc('month', entry_date)
                                               THEN entry_date + 1 ELSE entry_date - 1 END
   WHERE organization_id = '$org' AND id = '$1'" >/dev/null
ra=$?
wait $b; rb=$?
ok $((ra + rb)) "one session moves an invoice to another day while another approves the customer's other invoice of that day"
is "$(consistent)" consistent "the customer still counts as invoiced on both days"

# a sync by the worker puts the mirror back as Billy has it; one more writes nothing
sync_by_worker "'$org'" >/dev/null
q "UPDATE billy.invoices SET content_hash = '\\x00' WHERE organization_id = '$org' AND id IN ('$1', '$2')" >/dev/null
sync_by_worker "'$org', ARRAY['invoices']" >/dev/null
is "$(consistent)" consistent "after the worker synced the two invoices back"
before=$(q "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE schemaname = 'billy' AND relname LIKE 'analytics\\_%'")
sync_by_worker "'$org', ARRAY['invoices', 'bills']" >/dev/null
sleep 1
after=$(q "SELECT pg_stat_clear_snapshot(); SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE schemaname = 'billy' AND relname LIKE 'analytics\\_%'" | tail -1)
is "$after" "$before" "a sync of unchanged books writes no rollup row"
done_testing
