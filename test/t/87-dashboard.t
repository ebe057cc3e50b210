#!/usr/bin/env bash
# The dashboard, the way its users reach it: billy-mcp-bridge --http serves it
# at / (no token) and its figures through /mcp and /events (token); billy.mcp
# advertises it as the MCP App ui://billy/dashboard with show_dashboard, and
# its workflow prompts.  The browser half (dashboard/test/browser.mjs) runs in
# headless Chromium (Debian's chromium, installed here when missing; driven by
# puppeteer-core, pinned in dashboard/package-lock.json) and writes
# screenshots to $BILLY_WORK/dashboard/.
source "$(dirname "$0")/tap.sh"
ROOT=${BILLY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BRIDGE=${BILLY_BRIDGE:-$ROOT/mcp-bridge/billy-mcp-bridge}
DASH=$ROOT/dashboard

# --- what the browser test needs ---------------------------------------------
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
    (source "$ROOT/scripts/lib.sh" && billy_deps chromium) >&2 ||
        { echo "Bail out! Debian's chromium could not be installed (apt-get install chromium failed; see above)"; exit 1; }
    CHROMIUM=$(command -v chromium)
fi
# the pinned npm packages and the built page (scripts/lib.sh's billy_dashboard)
(source "$ROOT/scripts/lib.sh" && billy_dashboard) >&2 ||
    { echo "Bail out! the dashboard could not be built (npm ci or the bundle failed; see above)"; exit 1; }

# --- roles and data ---------------------------------------------------------
READER=dash_reader
ADMIN=dash_admin
cleanup() {
    [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
    for r in $READER $ADMIN; do
        q "DELETE FROM billy.organization_grants WHERE role = '$r'" >/dev/null
        q "DO \$\$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$r') THEN
             EXECUTE 'DROP OWNED BY $r'; EXECUTE 'DROP ROLE $r'; END IF; END \$\$" >/dev/null
    done
    rm -f "$BILLY_WORK/dashboard-token"
}
cleanup
trap cleanup EXIT
q "CREATE ROLE $READER LOGIN IN ROLE billy_mcp" >/dev/null
q "CREATE ROLE $ADMIN LOGIN IN ROLE billy_mcp, billy_admin" >/dev/null
ORG_ID=$(q "SELECT billy.connect(billy_test.token(1))")
ORG2_ID=$(q "SELECT billy.connect(billy_test.token(2))")   # a second one, for the picker
for org in $ORG_ID $ORG2_ID; do
    q "SELECT billy.grant_organization('$READER', '$org')" >/dev/null
    q "SELECT billy.grant_organization('$ADMIN', '$org')" >/dev/null
    psql -X -q -c "SET client_min_messages = warning" -c "SELECT count(*) FROM billy.sync_now('$org')" >/dev/null
done
# the month of the sandbox's books (its "today"): the month the page is checked on
MONTH=$(q "SELECT to_char(max(entry_date), 'YYYY-MM') FROM billy.invoices WHERE organization_id = '$ORG_ID'")

# --- billy.mcp: the app, its tool, the prompts -----------------------------
mcp_as() {  # mcp_as ROLE JSON: billy.mcp's answer as ROLE
    psql -X -q -A -t -v ON_ERROR_STOP=1 -v msg="$2" <<<"SET ROLE $1; SELECT billy.mcp(:'msg')"
}
init=$(mcp_as $READER '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}')
case "$init" in *'"prompts": {'*'"resources": {'*) ok 0 "initialize declares resources and prompts" ;; *) ok 1 "initialize declares resources and prompts"; diag "$init" ;; esac
listed=$(mcp_as $READER '{"jsonrpc":"2.0","id":1,"method":"resources/list"}')
case "$listed" in *'"uri": "ui://billy/dashboard"'*'text/html;profile=mcp-app'*|*'"mimeType": "text/html;profile=mcp-app"'*'"uri": "ui://billy/dashboard"'*) ok 0 "resources/list: ui://billy/dashboard, an MCP App" ;; *) ok 1 "resources/list: ui://billy/dashboard, an MCP App"; diag "$listed" ;; esac
is "$(psql -X -q -A -t -v m='{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"ui://billy/dashboard"}}' \
        <<<"SET ROLE $READER; SELECT md5(billy.mcp(:'m')->'result'->'contents'->0->>'text')" 2>&1 | tail -1)" \
   "$(md5sum <"$DASH/dist/billy-dashboard.html" | cut -d' ' -f1)" "resources/read returns the built page, whole"
modern='{"jsonrpc":"2.0","id":"m","method":"resources/read","params":{"uri":"ui://billy/dashboard","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
is "$(psql -X -q -A -t -v m="$modern" <<<"SET ROLE $READER; SELECT (billy.mcp(:'m')->'result'->>'resultType') || ' ' || (billy.mcp(:'m')->'result'->'contents'->0->>'mimeType')" | tail -1)" \
   "complete text/html;profile=mcp-app" "resources/read in the 2026-07-28 era"
missing=$(mcp_as $READER '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"ui://billy/nothing"}}')
case "$missing" in *'-32002'*'resources/list'*) ok 0 "an unknown resource: -32002, and where to look" ;; *) ok 1 "an unknown resource: -32002, and where to look"; diag "$missing" ;; esac
tool=$(mcp_as $READER '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | python3 -c 'import json,sys
t=[t for t in json.load(sys.stdin)["result"]["tools"] if t["name"]=="show_dashboard"]
print(t[0]["_meta"]["ui"]["resourceUri"] if t else "none")')
is "$tool" "ui://billy/dashboard" "tools/list: show_dashboard's _meta points at the app"

# every tool a prompt names exists in tools/list, for the role that gets the prompt
prompt_check() {  # prompt_check ROLE: "N prompts, N errors", then the problems
    psql -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
SET ROLE $1;
WITH tools AS (
    SELECT t->>'name' AS name FROM jsonb_array_elements(billy.mcp('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')->'result'->'tools') t
), prompts AS (
    SELECT p->>'name' AS name, p->'arguments' AS args
    FROM jsonb_array_elements(billy.mcp('{"jsonrpc":"2.0","id":1,"method":"prompts/list"}')->'result'->'prompts') p
), got AS (
    SELECT p.name, billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'prompts/get', 'params',
               jsonb_build_object('name', p.name, 'arguments',
                   (SELECT coalesce(jsonb_object_agg(a->>'name', 'Test ApS'), '{}') FROM jsonb_array_elements(p.args) a
                    WHERE (a->>'required')::boolean)))) AS answer
    FROM prompts p
)
SELECT count(*) || ' prompts, ' || count(*) FILTER (WHERE answer ? 'error') || ' errors' FROM got
UNION ALL
SELECT g.name || ' names a missing tool: ' || m[1]
FROM got g, regexp_matches(g.answer->'result'->'messages'->0->'content'->>'text', '\`([a-z_]+)\`', 'g') m
WHERE m[1] NOT IN (SELECT name FROM tools)
UNION ALL
SELECT g.name || ' names no tool' FROM got g
WHERE g.answer->'result'->'messages'->0->'content'->>'text' !~ '\`[a-z_]+\`';
SQL
}
is "$(prompt_check $ADMIN)" "4 prompts, 0 errors" "prompts/get: all four prompts for a writer, each naming only tools in its tools/list"
is "$(prompt_check $READER)" "3 prompts, 0 errors" "a reader gets the three prompts whose tools it may use (no first invoice)"
got=$(mcp_as $ADMIN '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"vat_quarter","arguments":{"organization":"Nordlys","period":"2026-Q2"}}}')
case "$got" in *'for Nordlys, period 2026-Q2'*) ok 0 "prompts/get puts the arguments in the template" ;; *) ok 1 "prompts/get puts the arguments in the template"; diag "$got" ;; esac
bad=$(mcp_as $ADMIN '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"first_invoice"}}')
case "$bad" in *'-32602'*'needs the argument customer'*) ok 0 "a required argument left out: -32602 naming it" ;; *) ok 1 "a required argument left out: -32602 naming it"; diag "$bad" ;; esac

# --- the bridge: the page, the stream, and what stays closed ----------------
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$BILLY_WORK/dashboard-token"
PGUSER=$READER "$BRIDGE" --http 127.0.0.1:0 --token-file "$BILLY_WORK/dashboard-token" \
    >"$BILLY_WORK/dashboard-http.out" 2>"$BILLY_WORK/dashboard-http.err" &
HTTP_PID=$!
wait_until 10 grep -q '^listening' "$BILLY_WORK/dashboard-http.out"
URL=$(awk '/^listening/ {print $2}' "$BILLY_WORK/dashboard-http.out")
BASE=${URL%/mcp}
PORT=${BASE##*:}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

is "$(curl -s "$BASE/" | md5sum | cut -d' ' -f1)" "$(md5sum <"$DASH/dist/billy-dashboard.html" | cut -d' ' -f1)" \
   "GET / without a token: the page (the same text as ui://billy/dashboard)"
is "$(status "$BASE/events")" 401 "GET /events without a token: 401"
is "$(status -H "Authorization: Bearer wrong-token-0000000000" "$BASE/events")" 401 "GET /events with a wrong token: 401"
is "$(status -X POST -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' "$URL")" 401 \
   "POST /mcp without a token: 401 (the data always needs it)"
is "$(status -H "Host: evil.example:$PORT" "$BASE/") $(status -H "Host: evil.example:$PORT" -H "Authorization: Bearer $TOKEN" "$BASE/events")" \
   "403 403" "a foreign Host: 403 on / and on /events"
is "$(status -H "Origin: http://evil.example" -H "Authorization: Bearer $TOKEN" "$BASE/events") $(status -X POST -H "Origin: http://evil.example" -H "Authorization: Bearer $TOKEN" -d '{}' "$URL")" \
   "403 403" "a foreign Origin: 403 on /events and on /mcp"
# the 2026-07-28 era over HTTP: Mcp-Name carries the resource's uri or the prompt's name
modern_post() {  # modern_post METHOD NAME PARAMS-JSON: the status and the answer
    curl -s -w '\n%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -H 'MCP-Protocol-Version: 2026-07-28' -H "Mcp-Method: $1" -H "Mcp-Name: $2" \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$3}" "$URL"
}
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
got=$(modern_post resources/read ui://billy/dashboard "{\"uri\":\"ui://billy/dashboard\",$META}" | python3 -c 'import json,sys
body, status = sys.stdin.read().rsplit("\n", 1)
r = json.loads(body)["result"]
print(status, r["resultType"], r["contents"][0]["mimeType"], len(r["contents"][0]["text"]) > 10000)')
is "$got" "200 complete text/html;profile=mcp-app True" "HTTP, 2026-07-28: resources/read of the app with its Mcp-Name"
got=$(modern_post prompts/get month_close "{\"name\":\"month_close\",\"arguments\":{\"period\":\"2026-05\"},$META}" | python3 -c 'import json,sys
body, status = sys.stdin.read().rsplit("\n", 1)
print(status, "Help me close 2026-05" in json.loads(body)["result"]["messages"][0]["content"]["text"])')
is "$got" "200 True" "HTTP, 2026-07-28: prompts/get with its Mcp-Name"
got=$(modern_post prompts/get vat_quarter "{\"name\":\"month_close\",$META}" | tail -1)
is "$got" 400 "HTTP, 2026-07-28: an Mcp-Name that is not the prompt's name: 400"

headers=$(curl -s -D - -o /dev/null "$BASE/")
case "$headers" in *"Content-Security-Policy: default-src 'none'"*"connect-src 'self'"*) ok 0 "the page's CSP lets it talk only to its own origin" ;; *) ok 1 "the page's CSP lets it talk only to its own origin"; diag "$headers" ;; esac
# the stream: ready, then a change NOTIFYd by billy arrives as an event
curl -s -N -m 4 -H "Authorization: Bearer $TOKEN" "$BASE/events" >"$BILLY_WORK/dashboard-events.out" &
CURL_PID=$!
wait_until 3 grep -q '^event: ready' "$BILLY_WORK/dashboard-events.out"
# first one of an organization the bridge's role ($READER) may not see: NOTIFY
# knows no row-level security, the stream must not pass it on
q "SELECT pg_notify('billy_changes', '{\"organization_id\":\"org-not-granted\",\"resource\":\"invoices\",\"inserted\":7}')" >/dev/null
q "SELECT pg_notify('billy_changes', '{\"organization_id\":\"$ORG_ID\",\"resource\":\"invoices\",\"inserted\":1}')" >/dev/null
wait_until 3 grep -q '^event: change' "$BILLY_WORK/dashboard-events.out"
kill "$CURL_PID" 2>/dev/null; wait "$CURL_PID" 2>/dev/null
case "$(cat "$BILLY_WORK/dashboard-events.out")" in
    *'event: ready'*'event: change'*"\"organization_id\":\"$ORG_ID\""*) ok 0 "GET /events with the token: ready, then each billy_changes notification" ;;
    *) ok 1 "GET /events with the token: ready, then each billy_changes notification"; diag "$(head -c 400 "$BILLY_WORK/dashboard-events.out")" ;;
esac
is "$(grep -c 'org-not-granted' "$BILLY_WORK/dashboard-events.out")" 0 \
   "GET /events: no change of an organization the bridge's role may not see"

# --- the browser (its TAP becomes ours, renumbered) -------------------------
mkdir -p "$BILLY_WORK/dashboard"
out=$(cd "$DASH" && BASE=$BASE TOKEN=$TOKEN ORG_ID=$ORG_ID ORG2_ID=$ORG2_ID MONTH=$MONTH SANDBOX_CONTROL=$SANDBOX_CONTROL \
      SHOTS="$BILLY_WORK/dashboard" CHROMIUM=$CHROMIUM node test/browser.mjs 2>"$BILLY_WORK/dashboard-browser.err")
rc=$?
n=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p')
printf '%s\n' "$out" | grep -E '^(ok|not ok|#)' |
    awk -v off="$TAP_N" '/^(ok|not ok) [0-9]+/ { sub(/[0-9]+/, $0 ~ /^ok/ ? $2 + off : $3 + off) } { print }'
TAP_N=$(( TAP_N + ${n:-0} ))
TAP_FAILED=$(( TAP_FAILED + $(printf '%s\n' "$out" | grep -c '^not ok' || true) ))
grep '^# ' "$BILLY_WORK/dashboard-browser.err" || true
if [ -z "$n" ]; then
    ok 1 "the browser test ran"; sed 's/^/# /' "$BILLY_WORK/dashboard-browser.err" | head -20
elif [ "$rc" != 0 ] && [ "$TAP_FAILED" = 0 ]; then
    ok 1 "the browser test exited $rc"
fi
ls "$BILLY_WORK/dashboard"/desktop.png "$BILLY_WORK/dashboard"/phone.png >/dev/null 2>&1
ok $? "screenshots of desktop and phone written to $BILLY_WORK/dashboard"

plan "$TAP_N"
done_testing
