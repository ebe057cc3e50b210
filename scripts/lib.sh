# scripts/lib.sh: what the demo and the test suite share.  Sourced, not run.
#
#   billy_deps [extra packages]  install missing Debian packages (apt-get)
#   billy_build                  build the extension, sandbox and bridge
#   billy_dashboard              build the dashboard (dashboard/dist; npm packages pinned)
#   billy_workdir NAME           a private work directory, removed at exit
#   billy_stage                  install into a private copy of PostgreSQL
#   billy_start_sandbox ARGS     start billy-sandbox on 127.0.0.1, port 0
#   billy_start_cluster          initdb + start a throwaway cluster
#   billy_stop                   stop everything (also run at exit)
#   billy_sanitizer_reports      print sanitizer reports; fails when there are any
#   billy_bench_strict           benchmarks: any failing command ends the run, named
#
# BILLY_SANITIZE=1: billy_build builds billy.so, billy-sandbox and
# billy-mcp-bridge with AddressSanitizer and UndefinedBehaviorSanitizer in a
# directory of their own (.build-sanitize/, so the normal build is untouched),
# and billy_stage wraps the staged postgres so that the server preloads the
# sanitizers' runtime.  Reports go to $BILLY_WORK/sanitizer/.
#
# Everything runs as the invoking user, except the PostgreSQL server, which
# refuses root: as root the server runs as the postgres user (runuser).

set -Eeuo pipefail

BILLY_ROOT=${BILLY_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BILLY_PG_MAJOR=15
BILLY_SANDBOX_PID=
BILLY_PG_STARTED=
BILLY_WORK=
BILLY_SANITIZE=${BILLY_SANITIZE:-}
[ "$BILLY_SANITIZE" = 0 ] && BILLY_SANITIZE=
# where the built programs are: the tree itself, or the sanitized build's copy
BILLY_BUILD=$BILLY_ROOT
[ -n "$BILLY_SANITIZE" ] && BILLY_BUILD=$BILLY_ROOT/.build-sanitize
# compiler flags of the sanitized build (-O1: readable stacks, still fast;
# float-cast-overflow: a double out of an integer's range, e.g. in forecasts)
BILLY_SANITIZE_FLAGS='-O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow'

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# billy_bench_strict: for benchmarks, which call functions inside $(...): a
# command that fails anywhere (a function, a command substitution) ends the
# script non-zero and says which command failed where, instead of the figures
# being printed from whatever was left.
billy_bench_strict() {
    shopt -s inherit_errexit
    trap 'printf "error: %s line %s: \"%s\" failed (exit %s)\n" "${0##*/}" "$LINENO" "${BASH_COMMAND%%$'"'"'\n'"'"'*}" "$?" >&2' ERR
}

# billy_as_server runs a command as the user the server runs as.
billy_as_server() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# billy_deps installs the Debian packages billy needs that are missing,
# and skips apt-get altogether when nothing is.
billy_deps() {
    local wanted=(
        make gcc libc6-dev
        postgresql-$BILLY_PG_MAJOR postgresql-server-dev-$BILLY_PG_MAJOR
        postgresql-$BILLY_PG_MAJOR-cron postgresql-$BILLY_PG_MAJOR-pgtap
        libtap-parser-sourcehandler-pgtap-perl
        libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libjansson-dev libpq-dev
        python3 curl procps
        "$@"
    )
    local missing=() p
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all present"
        return 0
    fi
    say "Debian packages to install: ${missing[*]}"
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "installing packages needs root (or sudo): ${missing[*]}"
        sudo=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    say "Debian packages: installed"
}

billy_pg_config() {
    local pc=/usr/lib/postgresql/$BILLY_PG_MAJOR/bin/pg_config
    [ -x "$pc" ] || pc=$(command -v pg_config)
    printf '%s\n' "$pc"
}

billy_build() {
    local jobs
    jobs=$(nproc 2>/dev/null || echo 2)
    billy_dashboard
    if [ -n "$BILLY_SANITIZE" ]; then
        billy_build_sanitized "$jobs"
        return
    fi
    make -C "$BILLY_ROOT" -s -j"$jobs" PG_CONFIG="$(billy_pg_config)" >/dev/null
}

# billy_dashboard builds dashboard/dist/billy-dashboard.html (what `make
# install` installs for billy.mcp's ui://billy/dashboard and the bridge's /):
# Node.js and npm from Debian when missing, the npm packages pinned in
# dashboard/package-lock.json (npm ci, skipped when the pinned versions are
# there), then the bundle (skipped when it is newer than its sources).
billy_dashboard() {
    local dir=$BILLY_ROOT/dashboard out=$BILLY_ROOT/dashboard/dist/billy-dashboard.html
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        billy_deps nodejs npm
    fi
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
        die "the dashboard needs Node.js 20 or later (found $(node --version)); install a newer nodejs"
    if ! (cd "$dir" && node -e 'const p = require("./package.json");
            for (const [name, want] of Object.entries({...p.dependencies, ...p.devDependencies}))
                if (require("./node_modules/" + name + "/package.json").version !== want) process.exit(1)') 2>/dev/null; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
            die "npm ci in dashboard/ failed (see above): the dashboard's npm packages could not be installed"
    fi
    if [ ! -f "$out" ] || [ -n "$(find "$dir/src" "$dir/build.mjs" "$dir/package-lock.json" -newer "$out" 2>/dev/null | head -1)" ]; then
        (cd "$dir" && node build.mjs) >/dev/null || die "building the dashboard failed (cd dashboard && node build.mjs)"
    fi
}

# billy_build_sanitized copies the sources into $BILLY_BUILD (with their
# times, so make rebuilds only what changed; files gone from the tree go from
# the copy) and builds there with the sanitizers.  PGXS adds COPT to the
# compiler and linker flags of billy.so; the sandbox and the bridge take CFLAGS.
billy_build_sanitized() {
    local jobs=$1 pc f
    local parts=(Makefile billy.control src extension sandbox mcp-bridge test/sanitizer dashboard/dist)
    pc=$(billy_pg_config)
    mkdir -p "$BILLY_BUILD"
    # other flags than last time: build everything again
    if [ "$(cat "$BILLY_BUILD/.flags" 2>/dev/null)" != "$BILLY_SANITIZE_FLAGS" ]; then
        rm -rf "${BILLY_BUILD:?}"/*
        printf '%s\n' "$BILLY_SANITIZE_FLAGS" >"$BILLY_BUILD/.flags"
    fi
    (cd "$BILLY_BUILD" && find "${parts[@]}" -type f 2>/dev/null || true) | while read -r f; do
        case $f in
            *.o|*.so|*.bc|sandbox/billy-sandbox|mcp-bridge/billy-mcp-bridge) ;;
            extension/billy--0.1.0--0.2.0.sql) ;;
            *) [ -e "$BILLY_ROOT/$f" ] || rm -f "$BILLY_BUILD/$f" ;;
        esac
    done
    (cd "$BILLY_ROOT" && tar -cf - --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=sandbox/billy-sandbox --exclude=mcp-bridge/billy-mcp-bridge \
        --exclude=sandbox/test --exclude=extension/billy--0.1.0--0.2.0.sql "${parts[@]}") |
        (cd "$BILLY_BUILD" && tar -xf -)
    # fixes for the sanitizers' runtimes (see the file), without sanitizers:
    # preloaded into the server, linked into the sandbox and the bridge
    local fix=$BILLY_BUILD/test/sanitizer/fixups
    if [ ! "$fix.so" -nt "$fix.c" ] || [ ! "$fix.o" -nt "$fix.c" ]; then
        gcc -fPIC -O2 -Wall -Wextra -Werror -Wno-unused-parameter -c -o "$fix.o" "$fix.c"
        gcc -shared -o "$fix.so" "$fix.o"
        rm -f "$BILLY_BUILD/sandbox/billy-sandbox" "$BILLY_BUILD/mcp-bridge/billy-mcp-bridge"
    fi
    make -C "$BILLY_BUILD/sandbox" -s -j"$jobs" CFLAGS="$BILLY_SANITIZE_FLAGS" LDFLAGS="$fix.o" >/dev/null
    make -C "$BILLY_BUILD/mcp-bridge" -s -j"$jobs" CFLAGS="$BILLY_SANITIZE_FLAGS" LDFLAGS="$fix.o" PG_CONFIG="$pc" >/dev/null
    make -C "$BILLY_BUILD" -s -j"$jobs" PG_CONFIG="$pc" COPT="$BILLY_SANITIZE_FLAGS" >/dev/null
}

# billy_workdir makes a work directory the server's user can use.
billy_workdir() {
    BILLY_WORK=$(mktemp -d "/tmp/billy-$1.XXXXXX")
    chmod 755 "$BILLY_WORK"
    trap billy_stop EXIT
    trap 'exit 130' INT TERM
}

# billy_stage installs billy into a private copy of PostgreSQL's files, so a
# run never touches the system's installation and runs can't collide.  The
# Debian build of PostgreSQL is relocatable: it finds its lib and share
# directories relative to its binaries.
billy_stage() {
    local pc bindir sharedir
    pc=$(billy_pg_config)
    bindir=$("$pc" --bindir)
    sharedir=$("$pc" --sharedir)
    BILLY_STAGE=$BILLY_WORK/pg
    mkdir -p "$BILLY_STAGE$(dirname "$bindir")" "$BILLY_STAGE$(dirname "$sharedir")"
    cp -a "$(dirname "$bindir")/." "$BILLY_STAGE$(dirname "$bindir")/"
    cp -a "$sharedir" "$BILLY_STAGE$(dirname "$sharedir")/"
    make -C "$BILLY_BUILD" -s install DESTDIR="$BILLY_STAGE" PG_CONFIG="$pc" >/dev/null
    BILLY_PGBIN=$BILLY_STAGE$bindir
    [ "$("$BILLY_PGBIN/pg_config" --sharedir)" = "$BILLY_STAGE$sharedir" ] ||
        die "the staged PostgreSQL does not relocate its share directory"
    export PATH="$BILLY_PGBIN:$PATH"
    if [ -n "$BILLY_SANITIZE" ]; then
        billy_sanitize_stage
    fi
}

# billy_sanitize_stage: PostgreSQL itself is not instrumented, so the ASan
# runtime must be loaded before anything else for billy.so to load: the
# staged postgres becomes a script that preloads it (every server start goes
# through it: pg_ctl, initdb, the clusters tests make of their own).  exec -a
# keeps the script's path as the server's own, so pg_ctl restart comes back
# here.  test/sanitizer/fixups.so is preloaded after libasan: without it
# postgres hangs in main and UBSan loses its settings (the file says why).
# The server's settings:
#   detect_leaks=0        a backend's memory is its memory contexts', freed
#                         wholesale at exit: leaks at exit say nothing
#   detect_stack_use_after_return=1
#                         on, though elog's siglongjmp jumps over frames ASan
#                         keeps on its fake stack: the suite runs clean with
#                         it.  Should a false report come from a frame a
#                         PG_TRY or an ERROR jumped out of, set it to 0 here
#   abort_on_error=1      a report ends the process with SIGABRT, so the
#                         postmaster sees a crash (and the test fails) instead
#                         of a backend exiting with 1 (a FATAL)
#   quarantine_size_mb    freed memory held back per process (default 256 MB,
#                         times every backend)
# The tools' (the sandbox, the bridge: plain programs, exported for every
# test that starts one) also detect leaks.
billy_sanitize_stage() {
    local dir=$BILLY_WORK/sanitizer asan ubsan common
    mkdir -p "$dir"
    chmod 1777 "$dir"
    asan=$(gcc -print-file-name=libasan.so)
    ubsan=$(gcc -print-file-name=libubsan.so)
    [ -f "$asan" ] && [ -f "$ubsan" ] || die "libasan/libubsan not found (gcc)"
    common="abort_on_error=1:disable_coredump=1:print_stacktrace=1"
    export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:$common:log_path=$dir/tool"
    export UBSAN_OPTIONS="halt_on_error=1:$common:log_path=$dir/tool"
    cp "$BILLY_BUILD/test/sanitizer/fixups.so" "$BILLY_PGBIN/sanitizer-fixups.so"
    mv "$BILLY_PGBIN/postgres" "$BILLY_PGBIN/postgres.bin"
    cat >"$BILLY_PGBIN/postgres" <<EOF
#!/bin/bash
# billy_sanitize_stage (scripts/lib.sh): the server with the sanitizers' runtime
export LD_PRELOAD="$asan $BILLY_PGBIN/sanitizer-fixups.so $ubsan"
export ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=1:quarantine_size_mb=64:$common:log_path=$dir/postgres"
export UBSAN_OPTIONS="halt_on_error=1:$common:log_path=$dir/postgres"
exec -a "\$0" "$BILLY_PGBIN/postgres.bin" "\$@"
EOF
    chmod 755 "$BILLY_PGBIN/postgres"
}

# billy_start_sandbox starts billy-sandbox and waits for its ready line.
# Sets SANDBOX_URL (…/v2), SANDBOX_CONTROL (…/_sandbox), SANDBOX_ORGS (the
# organization lines: id, token, url, name, tab-separated).
billy_start_sandbox() {
    local out=$BILLY_WORK/sandbox.out i
    "$BILLY_BUILD/sandbox/billy-sandbox" --listen 127.0.0.1:0 "$@" \
        >"$out" 2>"$BILLY_WORK/sandbox.err" &
    BILLY_SANDBOX_PID=$!
    for i in $(seq 1 600); do
        grep -q '^ready' "$out" 2>/dev/null && break
        kill -0 "$BILLY_SANDBOX_PID" 2>/dev/null || { cat "$BILLY_WORK/sandbox.err" >&2; die "billy-sandbox exited"; }
        sleep 0.1
    done
    grep -q '^ready' "$out" || die "billy-sandbox did not become ready"
    SANDBOX_URL=$(awk -F'\t' '$1=="ready"{print $2}' "$out")
    SANDBOX_CONTROL=${SANDBOX_URL%/v2}/_sandbox
    SANDBOX_ORGS=$(awk -F'\t' '$1=="organization"{print $2"\t"$3"\t"$4"\t"$5}' "$out")
    export SANDBOX_URL SANDBOX_CONTROL SANDBOX_ORGS
}

# billy_start_cluster creates and starts a throwaway cluster with billy and
# pg_cron preloaded.  Sets PGHOST/PGPORT/PGUSER for every client after it.
billy_start_cluster() {
    local db=${1:-billy_test}
    local data=$BILLY_WORK/data
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "the postgres user is missing (is postgresql-$BILLY_PG_MAJOR installed?)"
    fi
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data" "$BILLY_WORK"
    billy_as_server "$BILLY_PGBIN/initdb" -D "$data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$BILLY_WORK/initdb.log" 2>&1 ||
        { cat "$BILLY_WORK/initdb.log" >&2; die "initdb failed"; }

    # the token key: 256 random bits, private to the server's user
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BILLY_WORK/billy.key"
    chmod 600 "$BILLY_WORK/billy.key"
    [ "$(id -u)" = 0 ] && chown postgres: "$BILLY_WORK/billy.key"

    cat >>"$data/postgresql.conf" <<EOF

# billy's throwaway cluster
listen_addresses = ''
unix_socket_directories = '$BILLY_WORK'
port = 5432
shared_preload_libraries = 'pg_cron,billy'
cron.database_name = '$db'
billy.database_name = '$db'
billy.key_file = '$BILLY_WORK/billy.key'
billy.worker_naptime_ms = 60000
max_worker_processes = 16
fsync = off
# logical decoding (test/t/88-dashboard-realtime.t reads the realtime publication with pgoutput)
wal_level = logical
log_line_prefix = '%m [%p] %q%a '
EOF
    billy_as_server "$BILLY_PGBIN/pg_ctl" -D "$data" -l "$BILLY_WORK/postgres.log" -w -t 60 start >/dev/null ||
        { tail -n 30 "$BILLY_WORK/postgres.log" >&2; die "the cluster did not start"; }
    BILLY_PG_STARTED=1
    export PGHOST=$BILLY_WORK PGPORT=5432 PGUSER=postgres PGDATABASE=$db
    "$BILLY_PGBIN/createdb" "$db"
    # the worker started before its database existed; the postmaster
    # restarts it within seconds: wait for it
    local i
    for i in $(seq 1 100); do
        [ "$(psql -X -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'billy worker'")" = 1 ] && return 0
        sleep 0.2
    done
    die "the billy worker did not start (see $BILLY_WORK/postgres.log)"
}

billy_stop() {
    local rc=$?
    billy_stop_processes
    if [ -n "$BILLY_WORK" ] && [ -d "$BILLY_WORK" ]; then
        if [ -n "${BILLY_KEEP:-}" ]; then
            say "kept $BILLY_WORK"
        else
            rm -rf "$BILLY_WORK"
        fi
    fi
    return $rc
}

# billy_stop_processes stops the cluster and the sandbox; the work directory stays.
billy_stop_processes() {
    if [ -n "$BILLY_PG_STARTED" ]; then
        billy_as_server "$BILLY_PGBIN/pg_ctl" -D "$BILLY_WORK/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            billy_as_server "$BILLY_PGBIN/pg_ctl" -D "$BILLY_WORK/data" -m immediate stop >/dev/null 2>&1 || true
        BILLY_PG_STARTED=
    fi
    if [ -n "$BILLY_SANDBOX_PID" ]; then
        kill "$BILLY_SANDBOX_PID" 2>/dev/null || true
        wait "$BILLY_SANDBOX_PID" 2>/dev/null || true
        BILLY_SANDBOX_PID=
    fi
}

# billy_sanitizer_reports prints every report the sanitizers wrote (at most
# 200 lines each) and fails when there is one.  A report on stderr instead
# (the server's log, the sandbox's) counts too: log_path should prevent it.
billy_sanitizer_reports() {
    local dir=$BILLY_WORK/sanitizer f n=0
    [ -d "$dir" ] || return 0
    for f in "$dir"/*; do
        [ -s "$f" ] || continue
        n=$((n + 1))
        say "--- $(basename "$f") ---"
        head -n 200 "$f"
    done
    for f in "$BILLY_WORK/postgres.log" "$BILLY_WORK/sandbox.err"; do
        [ -f "$f" ] && grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f" || continue
        n=$((n + 1))
        say "--- $(basename "$f") ---"
        grep -E -A 30 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f" | head -n 200
    done
    if [ "$n" = 0 ]; then
        say "no sanitizer reports"
        return 0
    fi
    say "$n sanitizer report(s) in $dir"
    return 1
}
