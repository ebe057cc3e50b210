#!/usr/bin/env bash
# One API budget per organization for what a role can make billy ask Billy:
# a reader's get_*(..., max_age => '0') and check_connection() spend it;
# once it is spent, nothing is sent: a read of a record the mirror has
# answers the copy (fresh: false, stale_reason "budget_spent"), whether the
# caller named max_age or not (one behaviour); a miss and check_connection
# are refused (SQLSTATE 53400, with a hint).  Admins and the sync keep
# their own share.  Counted in the sandbox's request statistics.
source "$(dirname "$0")/tap.sh"
plan 14

ROLE=budget_reader_t
q "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1
q "CREATE ROLE $ROLE LOGIN IN ROLE billy_reader" >/dev/null
org=$(q "SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'))")
q "SELECT billy.grant_organization('$ROLE', '$org')" >/dev/null
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['contacts'])" >/dev/null
contact=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id LIMIT 1")
setting() { q "ALTER SYSTEM SET $1 = $2" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.3; }
setting billy.api_budget_per_minute 20
# gets counts the GETs of one contact Billy answered since the last reset
gets() {
    q "SELECT coalesce(sum((r ->> 'count')::int), 0) FROM jsonb_array_elements(billy_test.sandbox('GET', '/stats')::jsonb -> 'requests') r
       WHERE r ->> 'path' = '$1'"
}
# reads N: N reads with max_age 0 as the reader, each its own statement, in
# one session; prints "from_billy copy_budget_spent other"
reads() {
    for i in $(seq "$1"); do
        echo "SELECT f ->> 'source', coalesce(f ->> 'stale_reason', '-'), f ->> 'fresh' FROM (SELECT billy.get_contact('$org', '$contact', max_age => '0') -> 'freshness' AS f) x;"
    done | PGUSER=$ROLE psql -X -q -A -t 2>&1 | awk '
        /^api\|-\|true$/ { ok++; next } /^mirror\|budget_spent\|false$/ { copy++; next } { other++ }
        END { print ok + 0, copy + 0, other + 0 }'
}

q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
set -- $(reads 200)
diag "200 reads with max_age 0 from one reader: $1 answered from Billy, $2 the copy (budget spent), ${3:-?} other"
ok $([ "$1" -ge 20 ] && [ "$1" -le 22 ]; echo $?) "a reader's 200 reads with max_age 0 within a budget of 20 a minute: 20 (up to 22 with the refill) reach Billy ($1)"
is "$2" "$((200 - $1))" "the rest answer the mirror's copy, fresh: false, stale_reason budget_spent (max_age named or not: one behaviour)"
is "$3" 0 "and nothing failed"
ok $([ "$(gets /v2/contacts/:id)" -le 22 ]; echo $?) "Billy saw at most 22 of those GETs ($(gets /v2/contacts/:id))"

out=$(PGUSER=$ROLE psql -X -q -A -t -c "SELECT billy_test.try('SELECT billy.check_connection(''$org'')')" 2>&1)
is "$(echo "$out" | head -1)" "53400: the API budget of organization \"$org\" is spent" "check_connection by the reader is refused too: one budget"
echo "$out" | grep -q "^HINT: Try again in [0-9]* s. Meanwhile reads answer the mirror's copy"; ok $? "with a hint saying what to do"
is "$(PGUSER=$ROLE psql -X -q -A -t -c "SELECT billy_test.try('SELECT billy.get_contact(''$org'', ''no-such-contact'')')" 2>&1 | head -1)" \
   "53400: the API budget of organization \"$org\" is spent" "a miss (no copy to answer) is refused, before anything is sent"
echo "$out" | grep -q "The reader share may make billy call Billy 20 times a minute (billy.api_budget_per_minute)"; ok $? "and a detail naming the setting"
before=$(gets /v2/organization)
q "SELECT billy.check_connection('$org') ->> 'ok'" >/dev/null
is "$(q "SELECT billy_test.try('SELECT billy.get_contact(''$org'', ''$contact'', max_age => ''0'')')")" ok "an admin keeps its own share"
is "$(gets /v2/organization)" "$((before + 1))" "(its check_connection reached Billy)"

setting billy.admin_api_budget_per_minute 0
before=$(gets /v2/contacts/:id)
is "$(q "SELECT billy.get_contact('$org', '$contact', max_age => '0') -> 'freshness' ->> 'stale_reason'")" \
   budget_spent "billy.admin_api_budget_per_minute bounds admins: the copy, stale_reason budget_spent"
is "$(gets /v2/contacts/:id)" "$before" "(and nothing reached Billy)"
is "$(psql -X -q -A -t -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['contacts'])")" 1 \
   "the sync keeps its share: billy.sync_now runs with both shares spent"
is "$(q "SELECT share || ' ' || per_minute || ' ' || spent || ' ' || (refused >= 178) FROM billy.api_budget() WHERE organization_id = '$org' AND share = 'reader'")" \
   "reader 20 $1 true" "billy.api_budget() shows the reader share spent and refused"

q "ALTER SYSTEM RESET billy.api_budget_per_minute" >/dev/null
q "ALTER SYSTEM RESET billy.admin_api_budget_per_minute" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "DELETE FROM billy.organization_grants WHERE role = '$ROLE'" >/dev/null
q "DROP ROLE $ROLE" >/dev/null
done_testing
