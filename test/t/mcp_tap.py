# test/t/mcp_tap.py: TAP output and helpers for the billy-mcp-bridge tests
# (80-mcp-bridge.t, 81-mcp-http.t).  Imported, not run.
#
# The environment comes from scripts/test: PGHOST, PGPORT, PGUSER,
# PGDATABASE, BILLY_ROOT, BILLY_WORK, BILLY_BRIDGE.
import json
import os
import select
import subprocess
import sys
import time

ROOT = os.environ.get("BILLY_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
# BILLY_BRIDGE: the binary scripts/test built (the sanitized one under BILLY_SANITIZE)
BRIDGE = os.environ.get("BILLY_BRIDGE") or os.path.join(ROOT, "mcp-bridge", "billy-mcp-bridge")

_n = 0
_failed = 0


def plan(n):
    print(f"1..{n}", flush=True)


def ok(cond, desc, diag=None):
    global _n, _failed
    _n += 1
    if cond:
        print(f"ok {_n} - {desc}", flush=True)
    else:
        _failed += 1
        print(f"not ok {_n} - {desc}", flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:20]:
                print(f"#   {line}", flush=True)


def is_(got, want, desc):
    ok(got == want, desc, f"got:      {got!r}\nexpected: {want!r}")


def done():
    sys.exit(1 if _failed else 0)


def psql(sql, role=None, db=None):
    """Runs one statement as the test superuser; returns its unaligned output."""
    args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if db:
        args += ["-d", db]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def bridge_env(user=None, **extra):
    env = dict(os.environ)
    if user:
        env["PGUSER"] = user
    env.update(extra)
    return env


class Stdio:
    """A billy-mcp-bridge on stdio: send lines, read JSON lines with a timeout."""

    def __init__(self, env, args=()):
        self.p = subprocess.Popen([BRIDGE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.buf = b""
        self.lines = []         # every stdout line, for the protocol-only check

    def send(self, obj):
        data = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout=10.0):
        """The next stdout line as JSON, or None after timeout seconds."""
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line)
        try:
            return json.loads(line)
        except ValueError:
            return {"not_json": line.decode(errors="replace")}

    def call(self, id, method, params=None, timeout=10.0):
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.recv(timeout)

    def close(self, timeout=10.0):
        self.p.stdin.close()
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        rest = self.p.stdout.read()
        if rest:
            self.lines += rest.split(b"\n")
        return rc

    def stderr(self):
        return self.p.stderr.read().decode(errors="replace")


def login_role(role, org=1):
    """A fresh LOGIN role in billy_mcp granted sandbox organization org
    (connected); returns the function that drops it again."""
    def drop():
        psql(f"DELETE FROM billy.organization_grants WHERE role = '{role}'")
        psql(f"""DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     EXECUTE 'DROP OWNED BY {role}'; EXECUTE 'DROP ROLE {role}'; END IF; END $$""")
    drop()
    psql(f"CREATE ROLE {role} LOGIN IN ROLE billy_mcp")
    psql(f"SELECT billy.connect(billy_test.token({org}))")
    psql(f"SELECT billy.grant_organization('{role}', billy_test.org({org}))")
    return drop
