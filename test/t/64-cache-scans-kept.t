#!/usr/bin/env bash
# A read keeps when its resource's last scans completed (billy.sync_state)
# between reads, for as long as it cannot see anything else: a snapshot
# taken when as many transactions had completed, in a transaction that has
# written nothing.  Here a reader's session keeps going while another
# session, and then the reader itself, move the last complete scan back (an
# hour each time: the row stays within its window of 6 hours, so nothing
# refreshes it): the next read's confirmed_at follows every change, never an
# earlier copy.
source "$(dirname "$0")/tap.sh"
plan 6

org=$(org1_synced invoices)
inv=$(q "SELECT id FROM billy.invoices WHERE organization_id = '$org' AND deleted_at IS NULL AND is_paid ORDER BY id LIMIT 1")
# the row's own confirmation long ago: its effective one is the last complete scan's
q "UPDATE billy.invoices SET confirmed_at = now() - interval '30 days' WHERE organization_id = '$org' AND id = '$inv'" >/dev/null
scan() { q "SELECT to_char(last_complete_scan_at, 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM billy.sync_state WHERE organization_id = '$org' AND resource = 'invoices'"; }

# the reader: one session throughout
coproc READER { psql -X -q -A -t -v ON_ERROR_STOP=1 2>&1; }
read_confirmed() {
    echo "SELECT left(billy.get_invoice('$org', '$inv') -> 'freshness' ->> 'confirmed_at', 19);" >&"${READER[1]}"
    local line
    read -r -t 20 line <&"${READER[0]}"
    echo "$line"
}
say_reader() {
    echo "$1" >&"${READER[1]}"
}

is "$(read_confirmed)" "$(scan)" "a read: confirmed when the last complete scan started"
is "$(read_confirmed)" "$(scan)" "read again in the same session: the same"
q "UPDATE billy.sync_state SET last_complete_scan_at = last_complete_scan_at - interval '1 hour'
   WHERE organization_id = '$org' AND resource = 'invoices'" >/dev/null
is "$(read_confirmed)" "$(scan)" "another session moves the last complete scan back an hour: the reader's next read says so"

# the reader's own transaction moves it back again
say_reader "BEGIN;"
first=$(read_confirmed)
say_reader "UPDATE billy.sync_state SET last_complete_scan_at = last_complete_scan_at - interval '1 hour' WHERE organization_id = '$org' AND resource = 'invoices';"
in_tx=$(read_confirmed)
say_reader "ROLLBACK;"
is "$first" "$(scan)" "in a transaction, before it writes: the last complete scan"
ok "$([ -n "$in_tx" ] && [ "$in_tx" \< "$first" ]; echo $?)" "after it moved the scan back itself, the same transaction's read says the earlier time ($in_tx < $first)"
is "$(read_confirmed)" "$(scan)" "rolled back: the scan's time as committed"

say_reader "\\q"
wait "$READER_PID" 2>/dev/null || true
done_testing
