#!/usr/bin/env bash
# Real MCP clients against billy-mcp-bridge: the official TypeScript SDK
# (@modelcontextprotocol/sdk) over stdio and HTTP (test/mcp/clients.mjs), its
# v2 client (@modelcontextprotocol/client) in the modern era, 2026-07-28,
# pinned and negotiated, over stdio and HTTP (test/mcp/clients-v2.mjs), and
# the MCP Inspector CLI.  Installs what they need (scripts/lib.sh,
# billy_node): Node 20 or newer (the system's, or one fetched once into a
# cache of the machine's) and the pinned npm packages of
# test/mcp/package-lock.json into test/mcp/node_modules.
source "$(dirname "$0")/tap.sh"
ROOT=${BILLY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
MCP=$ROOT/test/mcp
BRIDGE=${BILLY_BRIDGE:-$ROOT/mcp-bridge/billy-mcp-bridge}

# --- what the clients need --------------------------------------------------
# (an install that fails is not a test result: say why and stop)
if ! NODE=$(source "$ROOT/scripts/lib.sh" && billy_node "$MCP" >&2 && printf '%s' "$NODE"); then
    echo "Bail out! the MCP clients could not be installed (above: npm's message and what to set)"
    exit 1
fi
INSPECTOR=$MCP/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js

# --- roles and data ---------------------------------------------------------
READER=mcp_client_reader
ADMIN=mcp_client_admin
WRITER=mcp_client_writer
cleanup() {
    [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
    [ -n "${HTTP_ADMIN_PID:-}" ] && kill "$HTTP_ADMIN_PID" 2>/dev/null && wait "$HTTP_ADMIN_PID" 2>/dev/null
    for r in $READER $ADMIN $WRITER; do
        q "DELETE FROM billy.organization_grants WHERE role = '$r'" >/dev/null
        q "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$r') THEN
             EXECUTE 'DROP OWNED BY $r'; EXECUTE 'DROP ROLE $r'; END IF; END \$\$" >/dev/null
    done
    rm -f "$BILLY_WORK/mcp-clients-token"
}
cleanup
trap cleanup EXIT
q "CREATE ROLE $READER LOGIN IN ROLE billy_mcp" >/dev/null
q "CREATE ROLE $ADMIN LOGIN IN ROLE billy_mcp, billy_admin" >/dev/null
# the role an AI client that writes should have: billy_writer, writing only
# to the organizations granted to it with writes => true
q "CREATE ROLE $WRITER LOGIN IN ROLE billy_mcp, billy_writer" >/dev/null
ORG_ID=$(q "SELECT billy.connect(billy_test.token(1))")
q "SELECT billy.grant_organization('$READER', '$ORG_ID')" >/dev/null
q "SELECT billy.grant_organization('$WRITER', '$ORG_ID', writes => true)" >/dev/null
# a second organization the writer sees but may not write to
export ORG2_ID=$(q "SELECT billy.connect(billy_test.token(2))")
q "SELECT billy.grant_organization('$WRITER', '$ORG2_ID')" >/dev/null
psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$ORG_ID')" >/dev/null
# writes go to the sandbox: turn them on for the cluster (the harness resets it)
q "ALTER SYSTEM SET billy.enable_writes = on" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
tools_of() { q "SET ROLE $1; SELECT string_agg(name, ',') FROM billy.mcp_tool_status() WHERE available"; }

export BRIDGE READER ADMIN WRITER ORG_ID PGHOST PGPORT PGDATABASE
export ORG_NAME=$(q "SELECT name FROM billy.organizations WHERE id = '$ORG_ID'")
export READER_TOOLS=$(tools_of $READER) ADMIN_TOOLS=$(tools_of $ADMIN) WRITER_TOOLS=$(tools_of $WRITER)
export INVOICE_ID=$(q "SELECT min(id) FROM billy.invoices WHERE organization_id = '$ORG_ID' AND deleted_at IS NULL")
export CONTACT_ID=$(q "SELECT min(id) FROM billy.contacts WHERE organization_id = '$ORG_ID' AND deleted_at IS NULL")
export PRODUCT_ID=$(q "SELECT min(id) FROM billy.products WHERE organization_id = '$ORG_ID' AND deleted_at IS NULL")
export BILL_ID=$(q "SELECT min(id) FROM billy.bills WHERE organization_id = '$ORG_ID' AND deleted_at IS NULL")
export SUPPLIER_ID=$(q "SELECT min(id) FROM billy.contacts WHERE organization_id = '$ORG_ID' AND is_supplier AND deleted_at IS NULL")
export ACCOUNT_ID=$(q "SELECT id FROM billy.accounts WHERE organization_id = '$ORG_ID' AND account_no = 2750")
export TAX_RATE_ID=$(q "SELECT id FROM billy.tax_rates WHERE organization_id = '$ORG_ID' AND abbreviation = 'K25'")
export PGUSER_SUPER=$(q "SELECT current_user")
# imports go at the sandbox's pace, not Billy's
q "ALTER SYSTEM SET billy.import_rate = 100" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null

# the HTTP bridge, as the reader, with a token
export HTTP_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$HTTP_TOKEN" >"$BILLY_WORK/mcp-clients-token"
PGUSER=$READER "$BRIDGE" --http 127.0.0.1:0 --token-file "$BILLY_WORK/mcp-clients-token" \
    >"$BILLY_WORK/mcp-clients-http.out" 2>"$BILLY_WORK/mcp-clients-http.err" &
HTTP_PID=$!
# and one as the writer, for the writes over HTTP
PGUSER=$WRITER "$BRIDGE" --http 127.0.0.1:0 --token-file "$BILLY_WORK/mcp-clients-token" \
    >"$BILLY_WORK/mcp-clients-http-admin.out" 2>"$BILLY_WORK/mcp-clients-http-admin.err" &
HTTP_ADMIN_PID=$!
wait_until 10 grep -q '^listening' "$BILLY_WORK/mcp-clients-http.out"
wait_until 10 grep -q '^listening' "$BILLY_WORK/mcp-clients-http-admin.out"
export HTTP_URL=$(awk '/^listening/ {print $2}' "$BILLY_WORK/mcp-clients-http.out")
export HTTP_ADMIN_URL=$(awk '/^listening/ {print $2}' "$BILLY_WORK/mcp-clients-http-admin.out")

# --- the SDK clients: their TAP becomes ours (renumbered in turn) ----------
node_tap() {  # node_tap SCRIPT: run it, keep its output, rc and plan
    local name=${1%.mjs}
    out_of[$name]=$(cd "$MCP" && PATH="$(dirname "$(command -v "$NODE")"):$PATH" "$NODE" "$1" 2>"$BILLY_WORK/mcp-$name.err")
    rc_of[$name]=$?
    n_of[$name]=$(printf '%s\n' "${out_of[$name]}" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p')
}
declare -A out_of rc_of n_of
node_tap clients.mjs
node_tap clients-v2.mjs
plan $(( ${n_of[clients]:-0} + ${n_of[clients-v2]:-0} + 8 ))
for name in clients clients-v2; do
    printf '%s\n' "${out_of[$name]}" | grep -E '^(ok|not ok|#)' |
        awk -v off="$TAP_N" '/^(ok|not ok) [0-9]+/ { sub(/[0-9]+/, $0 ~ /^ok/ ? $2 + off : $3 + off) } { print }'
    TAP_N=$(( TAP_N + ${n_of[$name]:-0} ))
    TAP_FAILED=$(( TAP_FAILED + $(printf '%s\n' "${out_of[$name]}" | grep -c '^not ok' || true) ))
    if [ -z "${n_of[$name]}" ]; then
        diag "$name.mjs did not run:"; sed 's/^/# /' "$BILLY_WORK/mcp-$name.err" | head -20; TAP_FAILED=$((TAP_FAILED + 1))
    elif [ "${rc_of[$name]}" != 0 ] && [ "$TAP_FAILED" = 0 ]; then
        TAP_FAILED=1
    fi
done

# --- the Inspector CLI ------------------------------------------------------
inspector() { "$NODE" "$INSPECTOR" --cli "$@"; }
stdio_target=("$BRIDGE" -e "PGHOST=$PGHOST" -e "PGPORT=$PGPORT" -e "PGDATABASE=$PGDATABASE" -e "PGUSER=$READER")

out=$(inspector "${stdio_target[@]}" --method initialize --format json 2>"$BILLY_WORK/mcp-inspector.err")
ok $? "Inspector CLI (stdio): initialize"
is "$(printf '%s' "$out" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const r=j.result??j;console.log(r.serverInfo.name+" "+r.protocolVersion)})' 2>&1)" \
   "billy 2025-11-25" "Inspector CLI: serverInfo billy, protocol 2025-11-25"

out=$(inspector "${stdio_target[@]}" --method tools/list --format json 2>"$BILLY_WORK/mcp-inspector.err")
ok $? "Inspector CLI (stdio): tools/list"
is "$(printf '%s' "$out" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log((j.result??j).tools.map(t=>t.name).sort().join(","))})' 2>&1)" \
   "$(printf '%s' "$READER_TOOLS" | tr ',' '\n' | sort | paste -sd,)" "Inspector CLI: the reader's tools"

out=$(inspector "${stdio_target[@]}" --method tools/call --tool-name get_organization_settings --format json 2>"$BILLY_WORK/mcp-inspector.err")
rc=$?
ok $(( rc != 0 )) "Inspector CLI (stdio): tools/call get_organization_settings exits 0"
case "$out" in *"$ORG_ID"*) ok 0 "Inspector CLI: the result names the organization" ;; *) ok 1 "Inspector CLI: the result names the organization"; diag "$out" ;; esac
[ "$rc" = 0 ] || diag "$out"

inspector "${stdio_target[@]}" --method tools/call --tool-name get_sync_status --tool-args-json '{"organization": "nope"}' --format json >/dev/null 2>&1
is $? 5 "Inspector CLI: an isError result exits 5"

out=$(inspector "$HTTP_URL" --transport http --header "Authorization: Bearer $HTTP_TOKEN" --method tools/list --format json 2>&1)
case "$out" in *get_sync_status*) ok 0 "Inspector CLI (HTTP): tools/list with the bearer token" ;; *) ok 1 "Inspector CLI (HTTP): tools/list with the bearer token"; diag "$out" ;; esac

done_testing
