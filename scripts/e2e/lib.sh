# Shared by scripts/e2e/*.sh and scripts/bench-install.sh (sourced, not run): tools under
# target/ci-tools/, the locally built binary packed as a release, a local file server standing
# in for the release, the emulator, and a scripted git repository. Every background process
# started here is recorded and stopped by its PID on exit.
# shellcheck shell=bash

E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$E2E_ROOT/target/ci-tools"
VENV="$TOOLS/venv"
# PIDs of the background processes, in a file: the starters run inside $(...) subshells.
E2E_PIDFILE="$(mktemp "${TMPDIR:-/tmp}/cdn-refresh-e2e-pids.XXXXXX")"

e2e_log() { printf '== %s\n' "$*" >&2; }
e2e_fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

e2e_cleanup() {
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done <"$E2E_PIDFILE"
  rm -f "$E2E_PIDFILE"
}
trap e2e_cleanup EXIT

# apt packages, only those whose command is missing: `e2e_apt cmd:package ...`.
e2e_apt() {
  local want=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || want+=("${pair#*:}")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  e2e_log "apt-get install ${want[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
  fi
}

# The tools' virtualenv, with the given PyPI requirements (`name==version`) installed once.
e2e_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv --help >/dev/null 2>&1 || e2e_apt "false:python3-venv"
    python3 -m venv "$VENV"
  fi
  local missing=() req
  for req in "$@"; do
    "$VENV/bin/python" -m pip show -q "${req%%[=<>]*}" >/dev/null 2>&1 || missing+=("$req")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    e2e_log "pip install ${missing[*]} (into target/ci-tools/venv)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
  fi
}

# The locally built binary (debug, as scripts/test.sh leaves it); built when missing or
# older than the sources. E2E_BIN=PATH uses that binary instead.
e2e_binary() {
  if [ -n "${E2E_BIN:-}" ]; then
    printf '%s\n' "$E2E_BIN"
    return
  fi
  local bin="$E2E_ROOT/target/debug/cdn-refresh"
  if [ ! -x "$bin" ] || [ -n "$(find "$E2E_ROOT/src" "$E2E_ROOT/Cargo.toml" -newer "$bin" -print -quit 2>/dev/null)" ]; then
    e2e_log "cargo build"
    (cd "$E2E_ROOT" && cargo build --quiet --bin cdn-refresh) >&2 || e2e_fail "cargo build failed"
  fi
  printf '%s\n' "$bin"
}

# The version the action and scripts/install.sh ask for by default.
e2e_version() {
  sed -n 's/^DEFAULT_VERSION="\([^"]*\)".*/\1/p' "$E2E_ROOT/scripts/install.sh"
}

# Packs BIN as the release asset of VERSION for TARGET under DIR/v<VERSION>/, with
# checksums.txt beside it, as the release workflow lays them out.
e2e_pack_release() {
  local bin="$1" dir="$2" version="$3" target="${4:-x86_64-unknown-linux-musl}"
  local stage asset
  stage="$(mktemp -d)"
  asset="cdn-refresh-$version-$target.tar.gz"
  mkdir -p "$dir/v$version"
  cp "$bin" "$stage/cdn-refresh"
  tar -czf "$dir/v$version/$asset" -C "$stage" cdn-refresh
  rm -rf "$stage"
  (cd "$dir/v$version" && sha256sum "$asset" >checksums.txt)
}

# Starts CMD... in the background (its PID goes to the cleanup list) and waits for its log to
# show what SED_EXPR prints; prints that. WHAT names it in the error.
e2e_start() {
  local what="$1" sed_expr="$2" log
  shift 2
  log="$(mktemp)"
  "$@" </dev/null >"$log" 2>&1 &
  echo $! >>"$E2E_PIDFILE"
  local _ found=""
  for _ in $(seq 1 100); do
    found="$(sed -n "$sed_expr" "$log" | head -1)"
    [ -n "$found" ] && break
    sleep 0.1
  done
  [ -n "$found" ] || e2e_fail "$what did not start: $(cat "$log")"
  printf '%s\n' "$found"
}

# Serves DIR on 127.0.0.1 (a free port); prints the base URL.
e2e_http_server() {
  local port
  port="$(e2e_start "the file server" 's/.* port \([0-9][0-9]*\).*/\1/p' \
    python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0)"
  printf 'http://127.0.0.1:%s\n' "$port"
}

# Starts the emulator of BIN with extra flags; prints its base URL (its first line).
e2e_emulator() {
  local bin="$1"
  shift
  e2e_start "the emulator" '1s/^listening on \(http:[^ ]*\).*/\1/p' "$bin" emulator --listen 127.0.0.1:0 "$@"
}

# A repository with a base and a head commit: under site/, two files modified, one added,
# one deleted; README.md (unmapped) modified too. Prints "BASE HEAD".
e2e_site_repo() {
  local dir="$1"
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    git init -q -b main
    git config user.email e2e@example.com
    git config user.name e2e
    git config commit.gpgsign false
    mkdir -p site/about site/css
    echo '<h1>home</h1>' >site/index.html
    echo '<h1>about</h1>' >site/about/index.html
    echo 'body{}' >site/css/app.css
    echo '<h1>old</h1>' >site/old.html
    echo '# site' >README.md
    [ -n "${E2E_EXTRA_BASE_FILES:-}" ] && cp -R "$E2E_EXTRA_BASE_FILES"/. .
    git add -A
    git commit -qm base
    echo '<h1>home, new</h1>' >site/index.html
    echo 'body{color:red}' >site/css/app.css
    git rm -q site/old.html
    echo '<h1>new</h1>' >site/new.html
    echo '# site, edited' >README.md
    git add -A
    git commit -qm head
    printf '%s %s\n' "$(git rev-parse HEAD~1)" "$(git rev-parse HEAD)"
  )
}

# What `site/** => https://www.example.com/{path}` plans for e2e_site_repo's diff.
export E2E_REFRESH=3  # css/app.css, / (index.html), old.html
export E2E_PREFETCH=3 # css/app.css, /, new.html
export E2E_URLS=4     # the distinct URLs of both
