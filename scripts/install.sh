#!/usr/bin/env bash
# Installs the cdn-refresh release binary for this machine and prints its path.
#
#   scripts/install.sh [--version V] [--download-url URL] [--cache-dir DIR] [--from-source DIR]
#
# Downloads cdn-refresh-<version>-<target>.tar.gz (.zip on Windows) and checksums.txt from
# <download-url>/v<version>/, checks the archive's sha256 against checksums.txt (refuses to
# install on a mismatch), and keeps the binary in a cache: $RUNNER_TOOL_CACHE/cdn-refresh/
# <version>/<target> in GitHub Actions, ${XDG_CACHE_HOME:-~/.cache}/cdn-refresh/<version>/
# <target> elsewhere. A cached binary is reused without any download. With --from-source,
# builds the checkout DIR with cargo instead (forks, unreleased refs).
#
# Runs on Linux, macOS (shasum) and Windows (Git Bash). In GitHub Actions it also adds the
# binary's folder to $GITHUB_PATH and sets the step outputs `bin`, `dir`, `version`, `target`.
# Everything but the final path goes to stderr, so `BIN=$(scripts/install.sh)` works.
#
# Environment (the flags win): CDN_REFRESH_VERSION, CDN_REFRESH_DOWNLOAD_URL,
# CDN_REFRESH_CACHE_DIR, CDN_REFRESH_REPOSITORY (owner/name, for the default download URL),
# CDN_REFRESH_TARGET (override the detected target triple).
set -euo pipefail

# The repository whose GitHub releases hold the binaries, when nothing else says. The action
# passes github.action_repository, so a fork that publishes its own releases needs no change.
DEFAULT_REPOSITORY="cdn-refresh/cdn-refresh"
# The binary version this copy of the script installs by default; the release workflow sets it.
DEFAULT_VERSION="0.1.0" # x-release-version

log() { printf 'cdn-refresh install: %s\n' "$*" >&2; }
die() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    printf '::error title=cdn-refresh install::%s\n' "$*" >&2
  fi
  log "error: $*"
  exit 1
}

version="${CDN_REFRESH_VERSION:-$DEFAULT_VERSION}"
download_url="${CDN_REFRESH_DOWNLOAD_URL:-}"
cache_dir="${CDN_REFRESH_CACHE_DIR:-}"
source_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --download-url) download_url="${2:?--download-url needs a value}"; shift 2 ;;
    --cache-dir) cache_dir="${2:?--cache-dir needs a value}"; shift 2 ;;
    --from-source) source_dir="${2:?--from-source needs the checkout directory}"; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
version="${version#v}"
[ -n "$version" ] || version="$DEFAULT_VERSION"
case "$version" in
  *[!0-9A-Za-z.+-]* | "") die "version '$version' is not a release version such as 0.1.0" ;;
esac

# --- platform -------------------------------------------------------------------------
os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$os" in
  Linux) os=linux ;;
  macOS | Darwin) os=macos ;;
  Windows | MINGW* | MSYS* | CYGWIN*) os=windows ;;
  *) die "no release binary for OS '$os'; use --from-source with a checkout" ;;
esac
case "$arch" in
  X64 | x86_64 | amd64 | AMD64) arch=x86_64 ;;
  ARM64 | aarch64 | arm64) arch=aarch64 ;;
  *) die "no release binary for CPU '$arch'; use --from-source with a checkout" ;;
esac
case "$os" in
  # Static musl binaries: they run on any Linux, glibc or not (Alpine job containers too).
  linux) target="$arch-unknown-linux-musl" ;;
  macos) target="$arch-apple-darwin" ;;
  # Windows on Arm runs x64 binaries under emulation; there is no arm64 Windows build.
  windows) target="x86_64-pc-windows-msvc" ;;
esac
target="${CDN_REFRESH_TARGET:-$target}"
exe=cdn-refresh
ext=tar.gz
if [ "$os" = windows ]; then exe=cdn-refresh.exe; ext=zip; fi

# A Windows path from the runner (C:\hostedtoolcache) as bash wants it, and back.
unix_path() { if [ "$os" = windows ] && command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi; }
native_path() { if [ "$os" = windows ] && command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s\n' "$1"; fi; }

# `cdn-refresh --version`, without the ::add-mask:: lines the binary prints first in GitHub
# Actions when credentials are in the environment.
bin_version() { GITHUB_ACTIONS="" "$1" --version; }

# Tells GitHub Actions (when running there) where the binary is.
publish() {
  local bin="$1" dir
  dir="$(dirname "$bin")"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
      echo "bin=$bin"
      echo "dir=$dir"
      echo "version=$version"
      echo "target=$target"
    } >>"$GITHUB_OUTPUT"
  fi
  if [ -n "${GITHUB_PATH:-}" ]; then
    native_path "$dir" >>"$GITHUB_PATH"
  fi
  printf '%s\n' "$bin"
}

# --- build from source ------------------------------------------------------------------
if [ -n "$source_dir" ]; then
  command -v cargo >/dev/null 2>&1 || die "build-from-source needs cargo (rustup) on the runner"
  source_dir="$(unix_path "$source_dir")"
  [ -f "$source_dir/Cargo.toml" ] || die "no Cargo.toml in $source_dir"
  log "building $source_dir with cargo (release profile)"
  # Cargo's own target folder (or the caller's CARGO_TARGET_DIR), so a build the job already
  # made is reused.
  (cd "$source_dir" && cargo build --release --locked --bin cdn-refresh >&2) || die "cargo build failed"
  target_dir="$(unix_path "${CARGO_TARGET_DIR:-target}")"
  case "$target_dir" in /*) ;; *) target_dir="$source_dir/$target_dir" ;; esac
  bin="$target_dir/release/$exe"
  [ -x "$bin" ] || die "cargo build left no binary at $bin"
  version="$(bin_version "$bin" | awk '{print $2}')"
  target=source
  log "built $(bin_version "$bin")"
  publish "$bin"
  exit 0
fi

# --- cache ------------------------------------------------------------------------------
if [ -z "$cache_dir" ]; then
  if [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
    cache_dir="$(unix_path "$RUNNER_TOOL_CACHE")/cdn-refresh"
  else
    cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cdn-refresh"
  fi
fi
cache_dir="$(unix_path "$cache_dir")"
case "$cache_dir" in /*) ;; *) cache_dir="$PWD/$cache_dir" ;; esac
dest="$cache_dir/$version/$target"
bin="$dest/$exe"
# The marker is written last, so an interrupted install is never taken for a complete one.
if [ -f "$dest.complete" ] && [ -x "$bin" ]; then
  log "cached: $bin"
  publish "$bin"
  exit 0
fi

# --- download and verify ----------------------------------------------------------------
if [ -z "$download_url" ]; then
  repository="${CDN_REFRESH_REPOSITORY:-$DEFAULT_REPOSITORY}"
  download_url="https://github.com/$repository/releases/download"
fi
download_url="${download_url%/}"
asset="cdn-refresh-$version-$target.$ext"
base="$download_url/v$version"

curl_args=(--fail --location --silent --show-error --retry 3 --retry-delay 1 --connect-timeout 20)
case "$download_url" in
  https://*) curl_args+=(--proto '=https' --proto-redir '=https' --tlsv1.2) ;;
  # Plain HTTP only from this machine: the tests' stand-in for a release.
  http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/*) ;;
  *) die "download-url must be an https:// URL (got '$download_url')" ;;
esac
command -v curl >/dev/null 2>&1 || die "curl is needed to download the release"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | awk '{print $1}'
  else
    die "neither sha256sum nor shasum is available to verify the download"
  fi
}

work="$(mktemp -d "$(unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/cdn-refresh-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "downloading $base/$asset"
curl "${curl_args[@]}" -o "$work/$asset" "$base/$asset" || die "cannot download $base/$asset"
curl "${curl_args[@]}" -o "$work/checksums.txt" "$base/checksums.txt" ||
  die "cannot download $base/checksums.txt"

# checksums.txt is `sha256sum` output: "<hex>  <name>" (or "<hex> *<name>").
expected="$(awk -v name="$asset" '{ f = $2; sub(/^\*/, "", f); if (f == name) { print tolower($1); exit } }' "$work/checksums.txt")"
[ -n "$expected" ] || die "checksums.txt at $base has no line for $asset"
actual="$(sha256_of "$work/$asset")"
if [ "$actual" != "$expected" ]; then
  die "sha256 mismatch for $asset: expected $expected (checksums.txt), got $actual. The download is corrupt or was tampered with; nothing was installed."
fi
log "sha256 verified: $actual"

mkdir -p "$work/x"
if [ "$ext" = zip ]; then
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$work/$asset" -d "$work/x"
  elif command -v 7z >/dev/null 2>&1; then
    7z x -y -o"$work/x" "$work/$asset" >/dev/null
  else
    powershell.exe -NoProfile -Command "Expand-Archive -Force -LiteralPath '$(native_path "$work/$asset")' -DestinationPath '$(native_path "$work/x")'"
  fi
else
  tar -xzf "$work/$asset" -C "$work/x"
fi
[ -f "$work/x/$exe" ] || die "$asset holds no $exe at its top level"
chmod +x "$work/x/$exe"

mkdir -p "$cache_dir/$version"
rm -rf "$dest" "$dest.complete"
mv "$work/x" "$dest"
: >"$dest.complete"
log "installed $(bin_version "$bin") at $bin"
publish "$bin"
