#!/usr/bin/env bash
# Figures for shipping the binary; prints them and asserts nothing but that the binary is
# static.
#
#   1. size of the stripped static musl binary (and of the release asset users download);
#   2. start-up time of `cdn-refresh --version` (hyperfine; with --drop-caches also the first
#      run from disk, after dropping the page cache: needs root);
#   3. time of the action's install step (scripts/install.sh) against a local file server
#      standing in for the release: cold (empty cache: download, sha256 check, unpack) and
#      cached. Loopback hides the network: a real download adds the transfer of the asset.
#
#   scripts/bench-install.sh [--no-build] [--drop-caches] [--runs N]
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/e2e/lib.sh"
cd "$E2E_ROOT"

TARGET=x86_64-unknown-linux-musl
build=true
drop_caches=false
runs=30
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=false; shift ;;
    --drop-caches) drop_caches=true; shift ;;
    --runs) runs="$2"; shift 2 ;;
    *) e2e_fail "unknown argument $1" ;;
  esac
done

e2e_apt musl-gcc:musl-tools hyperfine:hyperfine file:file python3:python3 curl:curl
bin="target/$TARGET/release/cdn-refresh"
if [ "$build" = true ]; then
  rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
  e2e_log "cargo build --release --target $TARGET"
  cargo build --release --locked --target "$TARGET" --bin cdn-refresh
fi
[ -x "$bin" ] || e2e_fail "no $bin (run without --no-build)"

# --- 1. size ------------------------------------------------------------------------------
description="$(file -b "$bin")"
case "$description" in
  *"static-pie linked"* | *"statically linked"*) ;;
  *) e2e_fail "$bin is not static: $description" ;;
esac
ldd "$bin" 2>&1 | grep -Eq 'not a dynamic executable|statically linked' || e2e_fail "ldd lists libraries for $bin"
case "$description" in *", stripped"*) ;; *) e2e_fail "$bin is not stripped: $description" ;; esac
version="$("$bin" --version | awk '{print $2}')"
work="$(mktemp -d)"
e2e_pack_release "$bin" "$work/release" "$version" "$TARGET"
asset="$work/release/v$version/cdn-refresh-$version-$TARGET.tar.gz"
size=$(stat -c %s "$bin")
asset_size=$(stat -c %s "$asset")

# --- 2. start-up ----------------------------------------------------------------------------
hyperfine -N --warmup 5 --runs 200 --export-json "$work/version.json" "$bin --version" >&2
startup=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f ms mean, %.2f ms median, %.2f ms min" % (r["mean"]*1e3, r["median"]*1e3, r["min"]*1e3))' "$work/version.json")
first_run="not measured (pass --drop-caches, as root)"
if [ "$drop_caches" = true ]; then
  hyperfine -N --runs 5 --prepare 'sh -c "sync; echo 3 > /proc/sys/vm/drop_caches"' \
    --export-json "$work/version-cold.json" "$bin --version" >&2
  first_run=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ms mean, %.1f ms min" % (r["mean"]*1e3, r["min"]*1e3))' "$work/version-cold.json")
fi

# --- 3. install step --------------------------------------------------------------------------
url="$(e2e_http_server "$work/release")"
cache="$work/cache"
install=(env -u GITHUB_ACTIONS -u GITHUB_OUTPUT -u GITHUB_PATH -u RUNNER_TOOL_CACHE
  CDN_REFRESH_DOWNLOAD_URL="$url" CDN_REFRESH_VERSION="$version" CDN_REFRESH_TARGET="$TARGET"
  bash scripts/install.sh --cache-dir "$cache")
"${install[@]}" >/dev/null 2>&1 || e2e_fail "scripts/install.sh failed against $url"
printf -v cmd '%q ' "${install[@]}"
hyperfine --runs "$runs" --warmup 2 --prepare "rm -rf $cache" --export-json "$work/cold.json" \
  --command-name "install, empty cache" "$cmd" >&2
"${install[@]}" >/dev/null 2>&1
hyperfine --runs "$runs" --warmup 2 --export-json "$work/cached.json" \
  --command-name "install, cached" "$cmd" >&2
ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ms mean (± %.1f), %.1f ms min" % (r["mean"]*1e3, r["stddev"]*1e3, r["min"]*1e3))' "$1"; }

cat <<EOF

cdn-refresh $version, $TARGET, on $(nproc) cores ($(uname -r))
| figure | value |
|---|---|
| stripped static binary | $size bytes ($(awk -v b="$size" 'BEGIN{printf "%.1f MiB", b/1048576}')); $description |
| release asset (.tar.gz) | $asset_size bytes ($(awk -v b="$asset_size" 'BEGIN{printf "%.1f MiB", b/1048576}')) |
| \`cdn-refresh --version\` start-up | $startup (hyperfine, 200 runs, page cache warm) |
| \`cdn-refresh --version\`, first run from disk | $first_run |
| install step, empty cache (download + sha256 + unpack) | $(ms "$work/cold.json") |
| install step, cached | $(ms "$work/cached.json") |
EOF
rm -rf "$work"
