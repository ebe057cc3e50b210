#!/usr/bin/env bash
# The documentation against the code: docs/configuration.md lists every
# billy.* setting of pg_settings once, with its default, range and context;
# README.md stays short and links every page under docs/; every relative link
# in README.md and docs/ names a file that exists and, with #anchor, a heading
# of that file.
source "$(dirname "$0")/tap.sh"
plan 4
cd "$BILLY_ROOT"

# pg_settings as "name|boot_val|unit|context|min|max", one a line
settings=$(q "SELECT string_agg(concat_ws('|', name, boot_val, coalesce(unit, ''), context,
                                          coalesce(min_val, ''), coalesce(max_val, '')), E'\n' ORDER BY name)
              FROM pg_settings WHERE name LIKE 'billy.%'")

out=$(PYTHONDONTWRITEBYTECODE=1 SETTINGS="$settings" python3 - docs/configuration.md <<'PY'
import os, re, sys
words = {'user': 'anyone', 'superuser': 'superuser', 'sighup': 'reload', 'postmaster': 'restart'}
rows = {}
for line in open(sys.argv[1], encoding='utf-8'):
    m = re.match(r'\| `(billy\.[a-z_]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|', line)
    if m:
        name = m.group(1)
        if name in rows:
            print(f'{name}: listed twice')
        rows[name] = [c.strip() for c in m.groups()[1:]]
for line in os.environ['SETTINGS'].splitlines():
    name, boot, unit, context, lo, hi = line.split('|')
    if name not in rows:
        print(f'{name}: missing from docs/configuration.md')
        continue
    default, rng, setby = rows.pop(name)
    want = boot if boot else '(empty)'
    if unit:
        want += ' ' + unit
    if default.strip('`') != want and not default.startswith(want + ' ('):
        print(f'{name}: default "{default}", pg_settings says "{want}"')
    want_rng = f'{lo} to {hi}' if lo else ''
    if rng != want_rng:
        print(f'{name}: range "{rng}", pg_settings says "{want_rng}"')
    if setby != words.get(context, context):
        print(f'{name}: set by "{setby}", pg_settings context is {context}')
for name in rows:
    print(f'{name}: in docs/configuration.md but not a setting')
PY
)
is "$out" "" "docs/configuration.md matches pg_settings"

lines=$(wc -l <README.md)
ok $((lines >= 250)) "README.md is under 250 lines ($lines)"

unlinked=$(for f in docs/*.md; do
    grep -q "($f[)#]" README.md || echo "$f"
done)
is "$unlinked" "" "README.md links every page under docs/"

broken=$(PYTHONDONTWRITEBYTECODE=1 python3 - README.md docs/*.md <<'PY'
import os, re, sys
def anchors(path):
    found = set()
    fence = False
    for line in open(path, encoding='utf-8'):
        if line.startswith('```'):
            fence = not fence
        if fence or not line.startswith('#'):
            continue
        title = line.lstrip('#').strip().lower()
        slug = re.sub(r'[^\w\- ]', '', title).replace(' ', '-')
        found.add(slug)
    return found
for src in sys.argv[1:]:
    text = open(src, encoding='utf-8').read()
    text = re.sub(r'```.*?```', '', text, flags=re.S)
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+:', target):
            continue
        path, _, anchor = target.partition('#')
        full = os.path.normpath(os.path.join(os.path.dirname(src), path)) if path else src
        if not os.path.exists(full):
            print(f'{src}: {target}: no such file')
        elif anchor and full.endswith('.md') and anchor not in anchors(full):
            print(f'{src}: {target}: no such heading')
PY
)
is "$broken" "" "relative links in README.md and docs/ resolve"

done_testing
