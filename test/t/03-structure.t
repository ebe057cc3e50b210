#!/usr/bin/env bash
# The shape of the C code (issue 16): the files below the top layer (the
# composition root billy.c, the worker's loop, src/mcp/) form no dependency
# cycle, read from the built objects' symbol tables (scripts/layers --check);
# no C file is over 900 lines but those still waiting to be split, and no SQL
# function over 150 lines but those (scripts/sizes --check); the C is laid
# out as pg_bsd_indent lays it out (scripts/indent --check); each SQL file
# of the version under work has a number of its own.
source "$(dirname "$0")/tap.sh"
plan 7
cd "$BILLY_ROOT"

# the objects the suite runs: the tree's, or the sanitized build's copy
build=$BILLY_ROOT
[ -n "${BILLY_SANITIZE:-}" ] && [ "$BILLY_SANITIZE" != 0 ] && build=$BILLY_ROOT/.build-sanitize

out=$(scripts/layers --check --objects "$build/src" 2>&1); rc=$?
ok $rc "no cycle among the C files below billy.c, worker.c and src/mcp/ (scripts/layers --check)"
[ $rc = 0 ] || diag "$out"
levels=$(scripts/layers --levels --objects "$build/src" 2>&1)
echo "$levels" | grep -q "^ 0 .*extension\.c" && echo "$levels" | tail -1 | grep -q "worker\.c"; rc=$?
ok $rc "scripts/layers --levels puts extension.c at the bottom and worker.c on top"
[ $rc = 0 ] || diag "$levels"

out=$(scripts/sizes --check 2>&1); rc=$?
ok $rc "no C file over 900 lines, no SQL function over 150 lines, but the known ones (scripts/sizes --check)"
[ $rc = 0 ] || diag "$out"

# the check can fail: a C file of 901 lines that nobody listed
tmp=$(mktemp -d)
mkdir -p "$tmp/src" "$tmp/extension/0.2.0" "$tmp/scripts"
cp scripts/sizes "$tmp/scripts/"
seq 1 901 | sed 's/^/\/\/ /' >"$tmp/src/huge.c"
"$tmp/scripts/sizes" --check >/dev/null 2>&1
is "$?" 1 "a new C file over 900 lines fails the check"
rm -rf "$tmp"

# each SQL file of the version under work has a number of its own (the
# upgrade script is their concatenation in name order)
dups=$(ls "$(ls -d extension/*/ | sort -V | tail -1)" | grep -oE '^[0-9]+-' | sort | uniq -d)
is "$dups" "" "each extension/<version>/NN-*.sql has a number of its own"

out=$(scripts/indent --check 2>&1); rc=$?
ok $rc "the C of src/, sandbox/, mcp-bridge/, bench/, fuzz/ is laid out as pg_bsd_indent would (scripts/indent --check)"
[ $rc = 0 ] || diag "$(echo "$out" | head -60)"

# the check can fail: a function whose body is not indented
tmp=$(mktemp -d)
printf 'int\nf(void)\n{\nreturn 0;\n}\n' >"$tmp/flat.c"
scripts/indent --check "$tmp/flat.c" >/dev/null 2>&1
is "$?" 1 "a C file not laid out as pg_bsd_indent would fails the check"
rm -rf "$tmp"
done_testing
