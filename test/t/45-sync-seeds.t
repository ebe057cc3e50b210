#!/usr/bin/env bash
# Fidelity across seeds: two more sandboxes with other seeds and sizes, five
# organizations in all synced at once by the worker; each mirror equals its
# sandbox's truth, record by record.
source "$(dirname "$0")/tap.sh"
plan 8

work=$(mktemp -d "$BILLY_WORK/seeds.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

start() {   # start NAME ARGS...: a sandbox, its ready line in $work/NAME.out
    local name=$1; shift
    "$BILLY_SANDBOX" --listen 127.0.0.1:0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
}
start a --seed 7 --orgs 2 --invoices 300 --contacts 50 --products 20 --bills 80 --today 2025-12-31
start b --seed 12345 --orgs 3 --invoices 150 --contacts 40 --products 15 --bills 60 --today 2026-03-15
for n in a b; do
    wait_until 30 grep -q '^ready' "$work/$n.out"
done
ok $(grep -q '^ready' "$work/a.out" && grep -q '^ready' "$work/b.out"; echo $?) "two more sandboxes run (seeds 7 and 12345)"

quiet_queue
orgs=()
while IFS=$'\t' read -r kind id token url name; do
    [ "$kind" = organization ] || continue
    q "SELECT billy.connect('$token', '$url')" >/dev/null
    orgs+=("$id ${url%/v2}/_sandbox")
done < <(cat "$work/a.out" "$work/b.out")
is "${#orgs[@]}" 5 "five organizations connected"

first=$(q "SELECT coalesce(max(id), 0) + 1 FROM billy.jobs")
for o in "${orgs[@]}"; do
    q "SELECT billy.sync('${o%% *}')" >/dev/null
done
is "$(q "SELECT billy_test.job_outcome($first, '120 s')")" done "the worker syncs them all"
for o in "${orgs[@]}"; do
    id=${o%% *}; control=${o#* }
    is "$(q "SELECT billy_test.mirror_equal('$id', '$control')")" t "organization $id equals its sandbox's truth"
done
for o in "${orgs[@]}"; do
    q "SELECT billy.disconnect('${o%% *}')" >/dev/null
done
done_testing
