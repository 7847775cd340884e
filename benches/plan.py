#!/usr/bin/env python3
"""Benchmark: the real binary's diff + map + plan, beside `git diff`, on one repository.

Uses the repository `benches/changes.py` generates (100,000 files under `site/`; the head
changes 20,000 of them: 12,000 modified, 2,000 added, 2,000 deleted, 2,000 renamed, 2,000
renamed with an edit), then times, --runs times, each as its own process under GNU time
so its peak RSS is its own, stdout to /dev/null:

  cdn-refresh plan   target/release/cdn-refresh plan --format json --repo R --base B
                     --head H -t both --mapping 'site/** => https://www.example.com/{path}'
                     (open, diff, map every path through the rules, plan, batch, print JSON)
  git diff           git diff --name-status --no-renames B H

then the same two for a head that changes one file only. Each row shows the best and the
median of the runs, and the ratio of each. One extra run of the binary,
outside the timing, prints what the plan holds: its change count counts a rename once,
where `git diff --no-renames` prints a deletion and an addition.

--shape folders uses a second repository shape instead: 100,000 files in 2,000 folders of 50
directly under `site/`, the head changing 25,000 of them spread evenly over every folder
(11 or 12 changed files in each, the kinds interleaved; added and renamed files stay in
their folder), in the default's proportions: 15,000 modified, 2,500 each added, deleted,
renamed, renamed with an edit. --mix modified makes every change a modification instead.
The one-change head adds one file to a folder in the middle.

It builds the binary (`cargo build --release`) unless --binary names one, and measures; it
asserts nothing. Usage:

    python3 benches/plan.py [--files 100000] [--changes 20000] [--runs 5] [--keep DIR]
                            [--binary PATH] [--shape default|folders] [--mix all|modified]

(--changes defaults to 25000 with --shape folders. A --keep directory holds the shape it was
generated with: give each shape its own.)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import changes  # noqa: E402  (the generator and the GNU time wrapper)

ROOT = changes.ROOT
BINARY = os.path.join(ROOT, "target/release/cdn-refresh")
MAPPING = "site/** => https://www.example.com/{path}"


def plan_cmd(repo, base, head):
    return [BINARY, "plan", "--format", "json", "--repo", repo, "--base", base, "--head", head,
            "-t", "both", "--mapping", MAPPING]


def env():
    """Only PATH and HOME: no CI variable, INPUT_* or CDN_REFRESH_* reaches the binary."""
    return {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}


def measure(cmd, runs):
    """Best and median wall time (s) over `runs` processes with stdout to /dev/null, and the
    largest peak RSS (KiB) GNU time saw, or None without GNU time."""
    walls, rss = [], None
    have_time = os.access(changes.GNU_TIME, os.X_OK)
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as rss_file:
            full = [changes.GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if have_time \
                else cmd
            start = time.perf_counter()
            p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
            wall = time.perf_counter() - start
            if p.returncode != 0:
                sys.exit(f"{cmd} failed with status {p.returncode}: {p.stderr.decode()}")
            if have_time:
                kib = int(rss_file.read().split()[-1])
                rss = kib if rss is None else max(rss, kib)
        walls.append(wall)
    return min(walls), statistics.median(walls), rss


def check(repo, base, head):
    """What the plan holds, from one run outside the timing."""
    p = subprocess.run(plan_cmd(repo, base, head), capture_output=True, env=env())
    if p.returncode != 0:
        sys.exit(f"cdn-refresh plan failed: {p.stderr.decode()}")
    out = json.loads(p.stdout)
    names = subprocess.run(["git", "-C", repo, "diff", "--name-status", "--no-renames",
                            base, head], capture_output=True, check=True).stdout
    batches = out["batches"]
    return (f"{out['git']['changes']} changes (git --no-renames: {len(names.splitlines())} "
            f"lines), refresh {len(out['plan']['refresh'].get('file', []))} URLs, "
            f"prefetch {len(out['plan']['prefetch'])} URLs, {len(batches)} batches, "
            f"{len(p.stdout) / 1e6:.1f} MB of JSON")


def compare(repo, base, head, runs):
    rows = [
        ("cdn-refresh plan", plan_cmd(repo, base, head)),
        ("git diff", ["git", "-C", repo, "diff", "--name-status", "--no-renames", base, head]),
    ]
    print(f"  {check(repo, base, head)}")
    walls = {}
    for name, cmd in rows:
        best, median, rss = measure(cmd, runs)
        walls[name] = best, median
        rss = "n/a (no GNU time)" if rss is None else f"{rss / 1024:6.1f} MiB"
        print(f"  {name:17} best {best * 1000:6.1f} ms, median {median * 1000:6.1f} ms"
              f"  peak RSS {rss}")
    (ours_best, ours_median), (git_best, git_median) = (walls["cdn-refresh plan"],
                                                         walls["git diff"])
    print(f"  cdn-refresh plan / git diff: {ours_best / git_best:.2f}x best, "
          f"{ours_median / git_median:.2f}x median")


def main():
    global BINARY
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--changes", type=int, help="default: 20000, or 25000 with --shape folders")
    ap.add_argument("--shape", choices=["default", "folders"], default="default",
                    help="folders: 2,000 folders of 50, changes spread over every folder")
    ap.add_argument("--mix", choices=["all", "modified"], default="all",
                    help="modified: only modifications (with --shape folders)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", help="generate into (or reuse) this directory")
    ap.add_argument("--binary", help="the cdn-refresh to time (default: build it)")
    args = ap.parse_args()
    if args.changes is None:
        args.changes = 25_000 if args.shape == "folders" else 20_000
    if args.mix != "all" and args.shape != "folders":
        ap.error("--mix modified needs --shape folders")

    if args.binary:
        BINARY = os.path.abspath(args.binary)
    else:
        subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "cdn-refresh"],
                       cwd=ROOT, check=True)
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"{BINARY} is missing")

    tmp = None
    if args.keep:
        repo = os.path.abspath(args.keep)
    else:
        tmp = tempfile.mkdtemp(prefix="plan-bench-")
        repo = os.path.join(tmp, "repo")
    try:
        if not os.path.isdir(os.path.join(repo, ".git")):
            start = time.perf_counter()
            changes.generate(repo, args.files, args.changes, args.shape, args.mix)
            print(f"generated {args.files} files, {args.changes} changes, shape {args.shape}, "
                  f"mix {args.mix} "
                  f"in {time.perf_counter() - start:.1f} s ({repo})")
        print(f"{args.runs} runs each, {BINARY}")
        for title, base, head in [
            (f"{args.changes} changes", "base", "main"),
            ("1 change", "main", "one-change"),
        ]:
            print(f"== {title} in {args.files} files: {base}..{head}")
            compare(repo, base, head, args.runs)
    finally:
        if tmp:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
