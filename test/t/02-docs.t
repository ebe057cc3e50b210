#!/usr/bin/env bash
# The documentation against the code: docs/configuration.md lists every
# billy.* setting of pg_settings once, with its default, range and context;
# README.md stays short and links every page under docs/; every relative link
# in README.md and docs/ names a file that exists and, with #anchor, a heading
# of that file; META.json (PGXN) has the spec's required fields, billy.control's
# version and files that exist; every billy.<name> the docs mention is a
# function, table, view or setting of the installed extension.
source "$(dirname "$0")/tap.sh"
plan 6
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

meta=$(PYTHONDONTWRITEBYTECODE=1 python3 - <<'PY'
import json, os, re
m = json.load(open('META.json'))
control = open('billy.control').read()
version = re.search(r"default_version\s*=\s*'([^']+)'", control).group(1)
for f in ('name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec'):
    if f not in m:
        print(f'META.json: no "{f}"')
if m.get('version') != version:
    print(f'META.json: version {m.get("version")}, billy.control {version}')
for name, p in m.get('provides', {}).items():
    for k in ('file', 'docfile'):
        if k in p and not os.path.exists(p[k]):
            print(f'META.json: provides.{name}.{k} {p[k]} does not exist')
    if p.get('version') != version:
        print(f'META.json: provides.{name}.version {p.get("version")}')
PY
)
is "$meta" "" "META.json has PGXN's required fields and billy.control's version"

objects=$(q "SELECT string_agg(n, ' ') FROM (
                SELECT proname AS n FROM pg_proc WHERE pronamespace = 'billy'::regnamespace
                UNION SELECT relname FROM pg_class WHERE relnamespace = 'billy'::regnamespace
                UNION SELECT substr(name, 7) FROM pg_settings WHERE name LIKE 'billy.%') o")
unknown=$(OBJECTS="$objects" PYTHONDONTWRITEBYTECODE=1 python3 - README.md docs/*.md src/README.md <<'PY'
import os, re, sys
have = set(os.environ['OBJECTS'].split())
files = {'c', 'h', 'so', 'conf', 'control', 'key', 'dk'}   # billy.c, billy.key, billy.dk ...
for path in sys.argv[1:]:
    for n, line in enumerate(open(path, encoding='utf-8'), 1):
        for m in re.finditer(r'\bbilly\.([a-z_][a-z0-9_]*)', line):
            name = m.group(1)
            # billy.get_* and the like name a family, not an object
            if name in files or name.endswith('_') or name in have:
                continue
            print(f'{path}:{n}: billy.{name}')
PY
)
is "$unknown" "" "every billy.<name> in README.md, docs/ and src/README.md exists in the extension"

done_testing
