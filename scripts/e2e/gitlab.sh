#!/usr/bin/env bash
# End-to-end: the GitLab CI/CD component (templates/cdn-refresh.yml) run by gitlab-ci-local
# with the shell executor, no GitLab and no network: a scripted project includes the component
# (`include: component:` resolves to the project's own templates/ at its HEAD), the component
# downloads the locally built binary packed as a release from a 127.0.0.1 file server and
# checks its sha256, refreshes the push's changes against the emulator, and a later job reads
# the dotenv outputs and the JSON report artifact.
#
# gitlab-ci-local 4.65.1 exactly: newer releases need Node 22 (Set.prototype.union).
# It synthesizes GITLAB_CI=false and no CI_COMMIT_BEFORE_SHA, hence --variable for the base
# (the component passes the dotenv path explicitly, so GITLAB_CI does not matter).
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$E2E_ROOT"

GCL_VERSION=4.65.1
e2e_apt git:git rsync:rsync node:nodejs npm:npm curl:curl
gcl="$TOOLS/npm/node_modules/.bin/gitlab-ci-local"
if [ ! -x "$gcl" ] || [ "$("$gcl" --version 2>/dev/null)" != "$GCL_VERSION" ]; then
  e2e_log "npm install gitlab-ci-local@$GCL_VERSION (into target/ci-tools/npm)"
  mkdir -p "$TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "gitlab-ci-local@$GCL_VERSION" >&2
fi
bin="$(e2e_binary)"
version="$(e2e_version)"

work="$(mktemp -d "${TMPDIR:-/tmp}/cdn-refresh-gitlab.XXXXXX")"
project="$work/project"
# The component is part of the project, committed with the base, so that HEAD has it.
mkdir -p "$work/extra/templates"
cp templates/cdn-refresh.yml "$work/extra/templates/"
read -r base head < <(E2E_EXTRA_BASE_FILES="$work/extra" e2e_site_repo "$project")
git -C "$project" remote add origin git@gitlab.example.com:e2e/site.git

e2e_pack_release "$bin" "$work/release" "$version"
download_url="$(e2e_http_server "$work/release")"
endpoint="$(e2e_emulator "$bin" --task-duration 300ms)"

# Written after the commits (and left untracked): it names HEAD, which gitlab-ci-local
# requires of a component it resolves from the project itself.
cat >"$project/.gitlab-ci.yml" <<EOF
stages: [deploy, verify]

include:
  - component: gitlab.example.com/e2e/site/cdn-refresh@$head
    inputs:
      job-name: refresh-cdn
      task: both
      mapping: |
        !site/**/*.map
        site/** => https://www.example.com/{path}
      endpoint: $endpoint
      download-url: $download_url
      poll-interval: 200ms
      timeout: 60s

verify:
  stage: verify
  needs: [refresh-cdn]
  script:
    - |
      set -u
      fails=0
      check() { what="\$1"; shift; if "\$@"; then echo "ok   \$what"; else echo "FAIL \$what"; fails=\$((fails + 1)); fi; }
      check "status = success (\$CDN_REFRESH_STATUS)"                   test "\$CDN_REFRESH_STATUS" = success
      check "refreshed = $E2E_REFRESH (\$CDN_REFRESH_REFRESHED_COUNT)"    test "\$CDN_REFRESH_REFRESHED_COUNT" = $E2E_REFRESH
      check "prefetched = $E2E_PREFETCH (\$CDN_REFRESH_PREFETCHED_COUNT)" test "\$CDN_REFRESH_PREFETCHED_COUNT" = $E2E_PREFETCH
      check "urls = $E2E_URLS (\$CDN_REFRESH_URLS_COUNT)"                 test "\$CDN_REFRESH_URLS_COUNT" = $E2E_URLS
      check "failed = 0 (\$CDN_REFRESH_FAILED_COUNT)"                   test "\$CDN_REFRESH_FAILED_COUNT" = 0
      check "pending = 0 (\$CDN_REFRESH_PENDING_COUNT)"                 test "\$CDN_REFRESH_PENDING_COUNT" = 0
      check "task ids (\$CDN_REFRESH_TASK_IDS)"                         test -n "\$CDN_REFRESH_TASK_IDS"
      check "refresh task ids (\$CDN_REFRESH_REFRESH_TASK_IDS)"         test -n "\$CDN_REFRESH_REFRESH_TASK_IDS"
      check "prefetch task ids (\$CDN_REFRESH_PREFETCH_TASK_IDS)"       test -n "\$CDN_REFRESH_PREFETCH_TASK_IDS"
      check "the report is named (\$CDN_REFRESH_REPORT)"                test "\$CDN_REFRESH_REPORT" = cdn-refresh-report.json
      check "the report artifact is here"                              test -s "\$CDN_REFRESH_REPORT"
      check "the report says success"                                  grep -q '"status": *"success"' "\$CDN_REFRESH_REPORT"
      check "the base came from CI_COMMIT_BEFORE_SHA"                  grep -q '"base": *"$base"' "\$CDN_REFRESH_REPORT"
      [ "\$fails" = 0 ] || { echo "\$fails check(s) failed"; exit 1; }
EOF

e2e_log "gitlab-ci-local $GCL_VERSION: base $base, head $head, release $download_url, emulator $endpoint"
log="$work/gitlab-ci-local.log"
run_pipeline() {
  (
    cd "$project"
    "$gcl" --force-shell-executor --no-color \
      --variable "CI_COMMIT_BEFORE_SHA=$base" \
      --variable ALIBABA_CLOUD_ACCESS_KEY_ID=testid \
      --variable ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret
  ) >"$log" 2>&1
}
set +e
run_pipeline
rc=$?
set -e
sed -e 's/^/  gcl| /' "$log"
[ "$rc" = 0 ] || e2e_fail "gitlab-ci-local exited $rc"
grep -q 'cdn-refresh install: sha256 verified' "$log" || e2e_fail "the component did not verify a download"
# gitlab-ci-local parses GitLab's section markers itself: "<name>_started", "<name> took Nms".
grep -q 'cdn_refresh_install took' "$log" || e2e_fail "no collapsible install section in the log"
grep -q 'verify.*ok   status = success' "$log" || e2e_fail "the verify job did not read the dotenv outputs"
grep -q 'FAIL ' "$log" && e2e_fail "a check failed"

# Second pipeline: the binary comes from the job cache, not the file server.
set +e
run_pipeline
rc=$?
set -e
[ "$rc" = 0 ] || { sed -e 's/^/  gcl| /' "$log"; e2e_fail "the second pipeline exited $rc"; }
grep -q 'cdn-refresh install: cached:' "$log" || { sed -e 's/^/  gcl| /' "$log"; e2e_fail "the second pipeline did not use the cache"; }

# --- marker: git ------------------------------------------------------------------------
# origin is a local bare repository (the project's remote URL stays the GitLab one that
# gitlab-ci-local derives the project from; GIT_CONFIG_* rewrite it for the jobs' git only).
# Its marker names `head`, the deploy refreshed above. Push 1 changes site/index.html and its
# pipeline fails (no URL quota left): the marker stays. Push 2 changes site/css/app.css; its
# CI_COMMIT_BEFORE_SHA is push 1, never refreshed: the job diffs from the marker, refreshes
# both, and moves the marker.
marker_ref=refs/cdn-refresh/production
origin="$work/origin.git"
git init -q --bare -b main "$origin"
git -C "$project" push -q "$origin" HEAD:main
git -C "$origin" update-ref "$marker_ref" "$head"
marker_at() { git -C "$origin" rev-parse --verify -q "$marker_ref" || true; }
commit_push() { # FILE TEXT MESSAGE: commit a change in the project, push it; print the commit
  printf '%s\n' "$2" >"$project/$1"
  git -C "$project" add "$1"
  git -C "$project" -c user.email=e2e@example.com -c user.name=e2e -c commit.gpgsign=false commit -qm "$3"
  git -C "$project" push -q "$origin" HEAD:main
  git -C "$project" rev-parse HEAD
}
marker_pipeline() { # BEFORE ENDPOINT EXPECT_URLS LOG
  local now
  now="$(git -C "$project" rev-parse HEAD)"
  cat >"$project/.gitlab-ci.yml" <<EOF
stages: [deploy, verify]

include:
  - component: gitlab.example.com/e2e/site/cdn-refresh@$now
    inputs:
      job-name: refresh-cdn
      mapping: site/** => https://www.example.com/{path}
      marker: git
      marker-ref: $marker_ref
      endpoint: $2
      download-url: $download_url
      poll-interval: 200ms
      timeout: 60s

verify:
  stage: verify
  needs: [refresh-cdn]
  script:
    - |
      python3 - "\$CDN_REFRESH_REPORT" <<'PY'
      import json, sys
      report = json.load(open(sys.argv[1]))
      git = report["git"]
      refreshed = sorted(u["url"] for u in report["urls"] if u["operation"] == "refresh" and u["status"] == "complete")
      checks = [
          ("status success", report["status"] == "success"),
          ("base is the marker's commit", git["base"] == "$head"),
          ("base_source marker", git["base_source"] == "marker"),
          ("the changes of both pushes were refreshed: %s" % refreshed, refreshed == sorted("$3".split(","))),
          ("the marker moved", git["markers"][0]["state"] == "moved"),
      ]
      for what, ok in checks:
          print(("ok   " if ok else "FAIL ") + what)
      sys.exit(0 if all(ok for _, ok in checks) else 1)
      PY
EOF
  (
    cd "$project"
    "$gcl" --force-shell-executor --no-color \
      --variable "CI_COMMIT_BEFORE_SHA=$1" \
      --variable GIT_CONFIG_COUNT=1 \
      --variable "GIT_CONFIG_KEY_0=url.$origin.insteadOf" \
      --variable GIT_CONFIG_VALUE_0=git@gitlab.example.com:e2e/site.git \
      --variable ALIBABA_CLOUD_ACCESS_KEY_ID=testid \
      --variable ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret
  ) >"$4" 2>&1
}
one="$(commit_push site/index.html '<h1>home, push 1</h1>' one)"
broke="$(e2e_emulator "$bin" --task-duration 0s --url-quota 0)"
e2e_log "gitlab-ci-local marker, pipeline 1 (fails for quota): marker $head, head $one"
set +e
marker_pipeline "$head" "$broke" unused "$work/gcl-marker-1.log"
rc=$?
set -e
sed -e 's/^/  gcl-marker-1| /' "$work/gcl-marker-1.log"
[ "$rc" != 0 ] || e2e_fail "marker pipeline 1 succeeded; the emulator had no quota"
grep -q 'stays at' "$work/gcl-marker-1.log" || e2e_fail "pipeline 1 did not say the marker stays"
[ "$(marker_at)" = "$head" ] || e2e_fail "pipeline 1 moved the marker to $(marker_at)"
two="$(commit_push site/css/app.css 'body{color:blue}' two)"
endpoint2="$(e2e_emulator "$bin" --task-duration 0s)"
e2e_log "gitlab-ci-local marker, pipeline 2: before $one, marker $head, head $two"
set +e
marker_pipeline "$one" "$endpoint2" "https://www.example.com/,https://www.example.com/css/app.css" "$work/gcl-marker-2.log"
rc=$?
set -e
sed -e 's/^/  gcl-marker-2| /' "$work/gcl-marker-2.log"
[ "$rc" = 0 ] || e2e_fail "marker pipeline 2 exited $rc"
grep -q 'FAIL ' "$work/gcl-marker-2.log" && e2e_fail "a marker check failed"
grep -q "marker $marker_ref moved to ${two:0:7}" "$work/gcl-marker-2.log" || e2e_fail "pipeline 2 did not say the marker moved"
[ "$(marker_at)" = "$two" ] || e2e_fail "pipeline 2 left the marker at $(marker_at), not $two"

rm -rf "$work"
echo "e2e-gitlab: 4 passed, 0 failed"
