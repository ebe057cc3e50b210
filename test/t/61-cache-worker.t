#!/usr/bin/env bash
# The worker's side of the cache, with commits: a stale read gets its row
# refreshed in the background; a hot row is refreshed before it expires,
# without a read; many unpaid invoices due together cost one hot scan (a
# filtered list) instead of single GETs; the API budget holds refreshes
# back; billy.cache_performance adds up what happened; billy.warm_cache
# refreshes the hottest rows now.
source "$(dirname "$0")/tap.sh"
plan 22

q "SELECT billy_test.clear_faults()" >/dev/null
org=$(q "SELECT billy_test.org(2)")
q "SELECT billy.connect(billy_test.token(2))" >/dev/null
q "ALTER SYSTEM SET billy.hot_sync_interval = 0" >/dev/null
q "ALTER SYSTEM SET billy.cache_flush_interval_ms = 300" >/dev/null
q "ALTER SYSTEM SET billy.api_budget_per_minute = 600" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
quiet_queue
psql -X -q -c "SET client_min_messages = warning" \
     -c "SELECT count(*) FROM billy.sync_now('$org', ARRAY['contacts', 'invoices'])" >/dev/null

calls() { q "SELECT (billy_test.sandbox('GET', '/stats')::jsonb -> 'total' ->> 'count')::bigint"; }
# age TABLE ROW-CONDITION: make rows (and the scans that confirm them) two days old
age() {
    q "UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '2 days', last_hot_scan_at = now() - interval '2 days'
       WHERE organization_id = '$org'" >/dev/null
    q "UPDATE billy.$1 SET confirmed_at = now() - interval '2 days' WHERE organization_id = '$org' AND $2" >/dev/null
}
confirmed() { q "SELECT confirmed_at > now() - interval '1 minute' FROM billy.$1 WHERE organization_id = '$org' AND id = '$2'"; }

# a stale read: answered at once, refreshed by the worker
c1=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id LIMIT 1")
age contacts "id = '$c1'"
is "$(q "SELECT billy.get_contact('$org', '$c1') -> 'freshness' ->> 'refresh'")" queued "a stale read asks for a refresh"
wait_until 20 q_is "SELECT state FROM billy.jobs WHERE kind = 'cache_refresh' AND args -> 'ids' ? '$c1' ORDER BY id DESC LIMIT 1" done
ok $? "the worker runs a cache_refresh job for it"
is "$(confirmed contacts "$c1")" t "which confirms the row"
is "$(q "SELECT billy.get_contact('$org', '$c1') -> 'freshness' ->> 'fresh'")" true "the next read is fresh"
is "$(q "SELECT result -> 'contacts' ->> 'unchanged' FROM billy.jobs WHERE kind = 'cache_refresh' AND args -> 'ids' ? '$c1' ORDER BY id DESC LIMIT 1")" 1 \
   "the job says what it found: unchanged"

# refresh-ahead: a hot row (read at least twice a window) about to expire is
# refreshed without being read
c2=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id OFFSET 1 LIMIT 1")
q "SELECT count(billy.get_contact('$org', '$c2')) FROM generate_series(1, 12)" >/dev/null
# the worker may flush the counters between two of the reads: wait for all 12
# (reads flushed after stale0 below would be counted as the refresh's)
wait_until 20 q_is "SELECT ttl || ' ' || accesses_per_hour FROM billy.cache_policy WHERE organization_id = '$org' AND record_id = '$c2'" "00:10:00 12"
ok $? "the row's policy: the window of an active contact, 10 minutes (billy.ttl_rules)"
is "$(q "SELECT accesses_per_hour FROM billy.cache_policy WHERE organization_id = '$org' AND record_id = '$c2'")" 12 \
   "from 12 accesses per hour"
stale0=$(q "SELECT coalesce(sum(stale), 0) FROM billy.cache_stats WHERE organization_id = '$org' AND record_id = '$c2'")
q "UPDATE billy.contacts SET confirmed_at = now() - interval '9 minutes 59.5 seconds' WHERE organization_id = '$org' AND id = '$c2'" >/dev/null
q "UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '1 hour' WHERE organization_id = '$org'" >/dev/null
wait_until 20 q_is "SELECT confirmed_at > now() - interval '1 minute' FROM billy.contacts WHERE organization_id = '$org' AND id = '$c2'" t
ok $? "shortly before it expires, the worker refreshes it"
is "$(q "SELECT coalesce(sum(stale), 0) - $stale0 FROM billy.cache_stats WHERE organization_id = '$org' AND record_id = '$c2'")" 0 \
   "without any read having seen it stale"

# unpaid invoices due together: one hot scan (isPaid=false) instead of single
# GETs (the budget is held at 0 until the five are known, then opened)
set_budget() {
    q "ALTER SYSTEM SET billy.api_budget_per_minute = $1" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
}
set_budget 0
first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
age invoices "is_paid IS NOT TRUE"
n=$(q "SELECT count(billy.get_invoice('$org', id)) FROM (SELECT id FROM billy.invoices WHERE organization_id = '$org'
                                                        AND is_paid IS NOT TRUE ORDER BY id LIMIT 5) x")
is "$n" 5 "five stale reads of unpaid invoices"
wait_until 20 q_is "SELECT count(*) FROM billy.cache_policy WHERE organization_id = '$org' AND resource = 'invoices' AND refresh_wanted" 5
set_budget 600
wait_until 20 q_is "SELECT state FROM billy.jobs WHERE id >= $first AND kind = 'sync' AND args ->> 'reason' = 'cache'" done
ok $? "the worker queues one hot scan (reason: cache), which runs"
is "$(q "SELECT count(*) FROM billy.jobs WHERE id >= $first AND kind = 'cache_refresh' AND args ->> 'resource' = 'invoices'")" 0 \
   "and no single look-ups of them"
is "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org' AND is_paid IS NOT TRUE
          AND billy.effective_confirmed_at('invoices', confirmed_at, is_paid,
                (SELECT last_complete_scan_at FROM billy.sync_state WHERE organization_id = '$org' AND resource = 'invoices'),
                (SELECT last_hot_scan_at FROM billy.sync_state WHERE organization_id = '$org' AND resource = 'invoices'))
              < now() - interval '1 minute'")" 0 "every unpaid invoice is confirmed again"

# invoices of one contact due together: one list request (contactId=...)
# (pages of 5: the whole list would take more requests than the two rows)
q "ALTER SYSTEM SET billy.sync_page_size = 5" >/dev/null
set_budget 0
cid=$(q "SELECT contact_id FROM billy.invoices WHERE organization_id = '$org' AND is_paid
         GROUP BY contact_id HAVING count(*) >= 2 ORDER BY count(*), contact_id LIMIT 1")
age invoices "contact_id = '$cid' AND is_paid"
n=$(q "SELECT count(billy.get_invoice('$org', id)) FROM (SELECT id FROM billy.invoices WHERE organization_id = '$org'
                                                        AND contact_id = '$cid' AND is_paid ORDER BY id LIMIT 2) x")
wait_until 20 q_is "SELECT count(*) FROM billy.cache_policy p JOIN billy.invoices i ON i.organization_id = p.organization_id AND i.id = p.record_id
                    WHERE p.organization_id = '$org' AND p.refresh_wanted AND i.contact_id = '$cid'" 2
q "SELECT billy_test.sandbox('DELETE', '/stats')" >/dev/null
first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
set_budget 600
wait_until 20 q_is "SELECT state FROM billy.jobs WHERE id >= $first AND kind = 'cache_refresh' AND args -> 'contacts' ? '$cid'" done
ok $? "two stale paid invoices of one contact: one cache_refresh job lists the contact's invoices"
is "$(q "SELECT coalesce(sum((r ->> 'count')::int) FILTER (WHERE r ->> 'path' = '/v2/invoices'), 0) || ' ' ||
               coalesce(sum((r ->> 'count')::int) FILTER (WHERE r ->> 'path' = '/v2/invoices/:id'), 0)
          FROM jsonb_array_elements(billy_test.sandbox('GET', '/stats')::jsonb -> 'requests') r")" "1 0" \
   "with one request (invoices?contactId=...), no single look-ups"
is "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org' AND contact_id = '$cid' AND is_paid
          AND confirmed_at > now() - interval '1 minute'")" \
   "$(q "SELECT count(*) FROM billy.invoices WHERE organization_id = '$org' AND contact_id = '$cid' AND is_paid")" \
   "which confirms every one of the contact's invoices"
q "ALTER SYSTEM RESET billy.sync_page_size" >/dev/null

# the budget: 0 holds refreshes back
set_budget 0
first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
c3=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id OFFSET 2 LIMIT 1")
age contacts "id = '$c3'"
q "SELECT billy.get_contact('$org', '$c3')" >/dev/null
sleep 2
is "$(q "SELECT count(*) FROM billy.jobs WHERE id >= $first")" 0 "with billy.api_budget_per_minute = 0 nothing is refreshed"
is "$(q "SELECT refresh_wanted FROM billy.cache_policy WHERE organization_id = '$org' AND record_id = '$c3'")" t \
   "the refresh stays wanted"

# cache_performance adds up, from a clean organization's numbers
q "DELETE FROM billy.cache_stats WHERE organization_id = '$org'" >/dev/null
c4=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id OFFSET 3 LIMIT 1")
c5=$(q "SELECT id FROM billy.contacts WHERE organization_id = '$org' ORDER BY id OFFSET 4 LIMIT 1")
# c4 confirmed now: a row's own confirmation is from when a sync first wrote
# it, maybe an earlier file's, minutes ago (more than the 2-minute TTL of a
# rarely read contact on a slow run), and age() took the scans' away
q "UPDATE billy.contacts SET confirmed_at = now() WHERE organization_id = '$org' AND id = '$c4'" >/dev/null
q "SELECT count(billy.get_contact('$org', '$c4')) FROM generate_series(1, 3)" >/dev/null       # 3 fresh
q "SELECT billy.get_contact('$org', '$c3')" >/dev/null                                          # 1 stale
q "DELETE FROM billy.contacts WHERE organization_id = '$org' AND id = '$c5'" >/dev/null
q "SELECT billy.get_contact('$org', '$c5')" >/dev/null                                          # 1 miss, 1 call
q "SELECT billy._cache_flush_now()" >/dev/null
wait_until 20 q_is "SELECT coalesce(sum(reads), 0) FROM billy.cache_stats WHERE organization_id = '$org' AND resource = 'contacts'" 5
is "$(q "SELECT concat_ws(' ', reads, fresh_hits, stale_hits, misses, hit_rate, fresh_hit_rate, api_calls, api_calls_saved)
          FROM billy.cache_performance('$org', '1 hour') WHERE resource = 'contacts'")" "5 3 1 1 0.8000 0.6000 1 4" \
   "billy.cache_performance: 5 reads, 3 fresh, 1 stale, 1 miss; hit rate 0.8, fresh 0.6; 1 API call, 4 saved"

# warm_cache: the hottest rows, refreshed now
q "UPDATE billy.cache_policy SET refresh_wanted = false WHERE organization_id = '$org'" >/dev/null
t0=$(q "SELECT clock_timestamp()")
c0=$(calls)
w=$(q "SELECT billy.warm_cache('$org', 2)")
is "$(echo "$w" | python3 -c "import json,sys; w=json.load(sys.stdin); print(w['rows'], sum(r['looked_up'] for r in w['refreshed'].values()))")" "2 2" \
   "billy.warm_cache(org, 2) refreshes the two most read rows and says so"
is "$(( $(calls) - c0 ))" 2 "with two calls"
is "$(q "SELECT count(*) FROM billy.cache_policy p JOIN billy.contacts c ON c.organization_id = p.organization_id AND c.id = p.record_id
          WHERE p.organization_id = '$org' AND p.record_id IN (SELECT record_id FROM billy._cache_hottest('$org', 2))
            AND c.confirmed_at >= '$t0'")" 2 "and confirms them"
done_testing
