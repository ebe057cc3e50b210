#!/usr/bin/env bash
# MCP's own conformance suite (@modelcontextprotocol/conformance, pinned in
# test/conformance/package-lock.json with the Node 22 it needs, both from npm)
# against billy-mcp-bridge --http: the resources and prompts scenarios, with
# billy's real resources and prompts where a scenario takes any, and the
# fixtures a scenario names (test://static-text, test_simple_prompt,
# test_prompt_with_arguments) as rows of billy.mcp_resources and
# billy.mcp_prompts for the length of the test; plus initialize and DNS
# rebinding protection.
source "$(dirname "$0")/tap.sh"
ROOT=${BILLY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BRIDGE=${BILLY_BRIDGE:-$ROOT/mcp-bridge/billy-mcp-bridge}
CF=$ROOT/test/conformance

if ! command -v npm >/dev/null; then
    (source "$ROOT/scripts/lib.sh" && billy_deps nodejs npm) >&2
fi
if ! (cd "$CF" && node -e 'const p = require("./package.json");
        for (const [name, want] of Object.entries(p.dependencies))
            if (require("./node_modules/" + name + "/package.json").version !== want) process.exit(1)') 2>/dev/null; then
    (cd "$CF" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
        { echo "Bail out! npm ci in test/conformance failed (see above): the conformance suite could not be installed"; exit 1; }
fi
NODE=$CF/node_modules/.bin/node
RUN=$CF/node_modules/@modelcontextprotocol/conformance/dist/index.js

# the fixtures the scenarios name
SHARE=$(pg_config --sharedir)/extension
printf '%s' 'This is the content of the static text resource.' >"$SHARE/conformance-static-text.txt"
cleanup() {
    [ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
    q "DELETE FROM billy.mcp_resources WHERE uri = 'test://static-text';
       DELETE FROM billy.mcp_prompts WHERE name IN ('test_simple_prompt', 'test_prompt_with_arguments')" >/dev/null
    rm -f "$SHARE/conformance-static-text.txt"
}
trap cleanup EXIT
q "INSERT INTO billy.mcp_resources (uri, name, title, description, mime_type, file)
   VALUES ('test://static-text', 'static-text', 'Static text', 'The conformance suite''s fixture.', 'text/plain', 'conformance-static-text.txt')" >/dev/null
q "INSERT INTO billy.mcp_prompts (name, title, description, arguments, template) VALUES
   ('test_simple_prompt', 'Simple', 'The conformance suite''s fixture without arguments.', '[]', 'This is a simple prompt for testing.'),
   ('test_prompt_with_arguments', 'With arguments', 'The conformance suite''s fixture with arguments.',
    '[{\"name\": \"arg1\", \"description\": \"First test argument\", \"required\": true},
      {\"name\": \"arg2\", \"description\": \"Second test argument\", \"required\": true}]',
    'Prompt with arguments: arg1=''{{arg1}}'', arg2=''{{arg2}}''')" >/dev/null

# the suite sends no token: a bridge without one, on loopback, as the superuser test role
"$BRIDGE" --http 127.0.0.1:0 >"$BILLY_WORK/conformance-http.out" 2>"$BILLY_WORK/conformance-http.err" &
HTTP_PID=$!
wait_until 10 grep -q '^listening' "$BILLY_WORK/conformance-http.out"
URL=$(awk '/^listening/ {print $2}' "$BILLY_WORK/conformance-http.out")

SCENARIOS=(server-initialize resources-list resources-read-text prompts-list prompts-get-simple
           prompts-get-with-args dns-rebinding-protection)
plan ${#SCENARIOS[@]}
for s in "${SCENARIOS[@]}"; do
    out=$(timeout 120 "$NODE" "$RUN" server --url "$URL" --scenario "$s" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep -o 'Passed: [0-9]*/[0-9]*, [0-9]* failed' | tail -1)
    [ "$rc" = 0 ] && [[ "$line" == *", 0 failed" ]] && [[ "$line" != "Passed: 0/"* ]]
    ok $? "conformance $s: ${line:-no result}"
    [ "$rc" = 0 ] || printf '%s\n' "$out" | grep -E 'FAILURE|Error|failed' | head -8 | sed 's/^/# /'
done

done_testing
