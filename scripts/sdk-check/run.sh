#!/usr/bin/env bash
# Checks the emulator against the official Python SDKs: Alibaba Cloud's, Qiniu's and Huawei
# Cloud's.
#
#   scripts/sdk-check/run.sh [BIN]     BIN: a built cdn-refresh (default target/debug/cdn-refresh)
#
# Starts `BIN emulator --listen 127.0.0.1:0`, reads the URL from its first line, installs the
# pinned SDKs into a venv under target/sdk-venv and runs aliyun_sdk_check.py,
# qiniu_sdk_check.py and huawei_sdk_check.py against it (all always run), then prints the
# summed counts as its last line and fails when any check failed. The emulator is stopped on
# exit, whatever happens.
set -euo pipefail

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
# A second, STS credential: the checks also cover how each SDK carries the token.
sts_key="STS.sdkcheck:sts-secret:sts-token-value"
huawei_sts_key="HWSTSAK:hw-sts-secret:hw-security-token"
"$bin" emulator --listen 127.0.0.1:0 \
    --aliyun-key testid:testsecret --aliyun-key "$sts_key" \
    --qiniu-key testak:testsk \
    --huawei-key HWTESTAK:HWTESTSK --huawei-key "$huawei_sts_key" >"$workdir/out" 2>"$workdir/err" &
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

run_check aliyun env ALIYUN_STS_KEY="$sts_key" "$venv/bin/python" "$here/aliyun_sdk_check.py" "$url" testid testsecret
run_check qiniu "$venv/bin/python" "$here/qiniu_sdk_check.py" "$url" testak testsk
run_check huawei env HUAWEI_STS_KEY="$huawei_sts_key" "$venv/bin/python" "$here/huawei_sdk_check.py" "$url" HWTESTAK HWTESTSK
echo "all SDK checks: $passed passed, $failed failed"
exit "$status"
