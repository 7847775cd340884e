#!/usr/bin/env python3
"""Checks that a composite action hands every input to its steps through `env:` only.

GitHub gives a composite action no INPUT_* variables (act does, so an act run cannot catch a
missing mapping), and `${{ }}` expanded inside `run:` text is a script injection. Fails when:

- an input is referenced by no step's `env:` (`${{ inputs.NAME }}`);
- an `env:` key named INPUT_* does not match the input it carries (INPUT_<NAME with
  underscores, upper case>), so the binary would read it as another option;
- a `run:` text contains `${{` at all (inputs, step outputs, github.*: all go through env);
- an input name is not kebab-case, or is mapped twice under different INPUT_ names.

Usage: check-action-env.py [action.yml]    (needs ruamel.yaml or PyYAML)
"""

import re
import sys

EXPR = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")
INPUT_REF = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")


def load(path):
    try:
        from ruamel.yaml import YAML

        with open(path, encoding="utf-8") as f:
            return YAML(typ="safe").load(f)
    except ImportError:
        import yaml

        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)


def check(path):
    action = load(path)
    errors = []
    runs = action.get("runs") or {}
    if runs.get("using") != "composite":
        return [f"{path}: runs.using is {runs.get('using')!r}, this check is for composite actions"]
    inputs = list((action.get("inputs") or {}).keys())
    mapped = {name: set() for name in inputs}
    for name in inputs:
        if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
            errors.append(f"input `{name}`: not kebab-case")

    for i, step in enumerate(runs.get("steps") or []):
        where = f"step {i + 1} ({step.get('name') or step.get('id') or step.get('uses') or 'unnamed'})"
        run = step.get("run")
        if isinstance(run, str) and "${{" in run:
            for line in run.splitlines():
                if "${{" in line:
                    errors.append(f"{where}: `${{{{` inside run: text: {line.strip()}")
        for key, value in (step.get("env") or {}).items():
            refs = EXPR.findall(str(value))
            for ref in refs:
                if ref not in mapped:
                    errors.append(f"{where}: env {key} reads inputs.{ref}, which action.yml does not declare")
                    continue
                mapped[ref].add(key)
                if key.startswith("INPUT_"):
                    want = "INPUT_" + ref.upper().replace("-", "_")
                    if key != want:
                        errors.append(f"{where}: env {key} carries inputs.{ref}; the binary reads it as {want}")
            loose = set(INPUT_REF.findall(str(value))) - set(refs)
            for ref in loose:
                errors.append(f"{where}: env {key} uses inputs.{ref} inside a larger expression; map it alone")
        # `with:` of a nested `uses:` may take inputs directly: that is not shell text.
        for key, value in (step.get("with") or {}).items():
            for ref in EXPR.findall(str(value)):
                if ref in mapped:
                    mapped[ref].add(f"with.{key}")

    for name, keys in mapped.items():
        if not keys:
            errors.append(f"input `{name}`: not passed to any step through env: (GitHub sets no INPUT_* for composite actions)")
        input_keys = {k for k in keys if k.startswith("INPUT_")}
        if len(input_keys) > 1:
            errors.append(f"input `{name}`: mapped as {sorted(input_keys)}; map it once")
    return errors


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "action.yml"
    errors = check(path)
    for e in errors:
        print(f"check-action-env: {path}: {e}", file=sys.stderr)
    if errors:
        print(f"check-action-env: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    n = len(load(path).get("inputs") or {})
    print(f"check-action-env: {path}: all {n} inputs mapped through env:, no ${{{{ }}}} in run:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
