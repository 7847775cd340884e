#!/usr/bin/env bash
# Checks the emulator against the official Python SDKs: Alibaba Cloud's, Qiniu's, Huawei
# Cloud's and AWS's (boto3, for CloudFront; that script also runs the cdn-refresh client
# against moto_server, an independent fake of CloudFront).
#
#   scripts/sdk-check/run.sh [BIN]     BIN: a built cdn-refresh (default target/debug/cdn-refresh)
#
# Starts `BIN emulator --listen 127.0.0.1:0` with the keys of every provider in `providers`
# below, reads the URL from its first line, installs the pinned SDKs (requirements.txt) into a
# venv under target/sdk-venv and runs each provider's PROVIDER_sdk_check.py against it (all
# always run), then prints the summed counts as its last line and fails when any check failed.
# The emulator is stopped on exit, whatever happens.
set -euo pipefail

# One row per provider: its name, the key pair its script signs with (the emulator's default,
# given as `--NAME-key`), and where its SDK carries a token, a temporary key
# (`ID:SECRET:TOKEN`) that the emulator also accepts and the script gets as NAME_STS_KEY.
# Each script is run as `NAME_sdk_check.py URL ID SECRET`.
providers=(
    "aliyun testid:testsecret STS.sdkcheck:sts-secret:sts-token-value"
    "qiniu  testak:testsk"
    "huawei HWTESTAK:HWTESTSK HWSTSAK:hw-sts-secret:hw-security-token"
    "cloudfront AKIDCDNREFRESHTEST:cloudfront-test-secret ASIASDKCHECK:cf-sts-secret:cf-session-token"
)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/cdn-refresh}"
venv="$root/target/sdk-venv"
python="${PYTHON:-python3}"

[ -x "$bin" ] || { echo "no executable at $bin (build it first: cargo build)" >&2; exit 2; }

workdir="$(mktemp -d)"
emulator_pid=""
cleanup() {
    if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
    rm -rf "$workdir"
}
trap cleanup EXIT

mkfifo "$workdir/out"
flags=()
for row in "${providers[@]}"; do
    read -r name key sts_key <<<"$row"
    flags+=("--$name-key" "$key")
    # The temporary key too: the checks also cover how the SDK carries the token.
    [ -z "$sts_key" ] || flags+=("--$name-key" "$sts_key")
done
"$bin" emulator --listen 127.0.0.1:0 "${flags[@]}" >"$workdir/out" 2>"$workdir/err" &
emulator_pid=$!
exec 3<"$workdir/out"
if ! IFS= read -r -t 30 first <&3; then
    echo "the emulator printed no first line within 30 s" >&2
    cat "$workdir/err" >&2
    exit 1
fi
# Keep draining the banner so the emulator never blocks on a full pipe.
cat <&3 >/dev/null &
url="${first#listening on }"
[ "$url" != "$first" ] || { echo "unexpected first line: $first" >&2; exit 1; }
echo "emulator at $url (pid $emulator_pid)"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

passed=0
failed=0
status=0
# Runs one check script, shows its output and adds its last line ("N passed, M failed").
run_check() {
    local name="$1"
    shift
    local log="$workdir/$name.log" rc=0
    "$@" 2>&1 | tee "$log" || rc=$?
    local summary
    summary="$(tail -n 1 "$log")"
    if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "$name: no summary line (exit $rc)"
        failed=$((failed + 1))
    fi
    [ "$rc" -eq 0 ] || status=1
}

for row in "${providers[@]}"; do
    read -r name key sts_key <<<"$row"
    sts=()
    [ -z "$sts_key" ] || sts=("${name^^}_STS_KEY=$sts_key")
    run_check "$name" env "${sts[@]}" CDN_REFRESH_BIN="$bin" "$venv/bin/python" "$here/${name}_sdk_check.py" \
        "$url" "${key%%:*}" "${key#*:}"
done
echo "all SDK checks: $passed passed, $failed failed"
exit "$status"
