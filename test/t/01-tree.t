#!/usr/bin/env bash
# The tree as committed: no unresolved merge-conflict markers in any tracked
# file, and no fuzzer artifact (libFuzzer's crash-, oom-, leak-, timeout-,
# slow-unit- files) tracked anywhere.  Both have landed on main before.
source "$(dirname "$0")/tap.sh"
plan 2
cd "$BILLY_ROOT"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files() { git ls-files; }
else
    files() { find . -path ./.git -prune -o -type f -print | sed 's|^\./||'; }
fi

# a marker is a whole line: seven <, = or > (the = form alone on its line)
markers=$(files | grep -v '^test/t/01-tree\.t$' | while IFS= read -r f; do
    [ -f "$f" ] && grep -nIE '^(<{7} |={7}$|>{7} )' "$f" /dev/null
done)
is "$markers" "" "no merge-conflict markers in tracked files"

artifacts=$(files | grep -E '(^|/)(crash|oom|leak|timeout|slow-unit)-[0-9a-f]{40}$' || true)
is "$artifacts" "" "no fuzzer artifacts in the tree"
exit $((TAP_FAILED > 0))
