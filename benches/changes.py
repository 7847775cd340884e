#!/usr/bin/env python3
"""Benchmark: `changes::diff` on a large generated repository, beside `git diff`.

Generates (with `git fast-import`) a repository whose base commit has 100,000 files and
whose head commit changes 20,000 of them: 12,000 modified, 2,000 added, 2,000 deleted,
2,000 renamed unchanged and 2,000 renamed with an edit. Then times, best of --runs, each
as its own process so its peak RSS is its own:

  ours             changes::diff (examples/changes_bench): tree walk, exact renames
  libgit2          libgit2's git_diff_tree_to_tree, no renames (what ours replaced)
  libgit2 similar  the same plus libgit2's find_similar rename detection
  git              git diff --name-status --no-renames base head
  git -M           git diff --name-status -M base head (git's own rename detection)

then the same five for a head that changes one file only, where skipping unchanged
subtrees is what counts.

It measures; it asserts nothing. Usage:

    python3 benches/changes.py [--files 100000] [--changes 20000] [--runs 3] [--keep DIR]
                               [--shape default|folders] [--mix all|modified]

--shape folders generates the second shape instead (see `generate` and benches/plan.py:
100,000 files in 2,000 folders of 50, 25,000 changes spread over every folder).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target/release/examples/changes_bench")


def page(i, rev=0):
    """About 1 KiB of HTML, distinct per file, so similarity scoring has real work."""
    lines = [f"<h1>Page {i}</h1>"]
    lines += [f"<p>Paragraph {j} of page {i}: lorem ipsum dolor sit amet {i * 7 + j}.</p>"
              for j in range(14)]
    if rev:
        lines[3] = f"<p>Edited in revision {rev} of page {i}.</p>"
    return ("\n".join(lines) + "\n").encode()


def path(i):
    return f"site/s{i // 10000:02d}/d{(i // 100) % 100:02d}/page-{i}.html"


FOLDER_SIZE = 50  # files per folder in the "folders" shape


def folder(i):
    """The folder of file i in the "folders" shape: site/f0000 … site/f1999 for 100,000 files."""
    return f"site/f{i // FOLDER_SIZE:04d}"


def generate(repo, files, changes, shape="default", mix="all"):
    """Writes the repository: tag `base`, branch `main` (the head) and branch `one-change`.

    shape "default": files under site/sNN/dNN/ (100 a folder); the changed files are every
    stride-th one from the start, the kinds in runs (modified first); renamed files go to
    site/moved/ and site/moved-edited/, added ones to site/new/.
    shape "folders": the files in folders of FOLDER_SIZE directly under site/ (2,000 folders
    for 100,000); the changed files are spread evenly over all the folders, the kinds
    interleaved, and added and renamed files stay in their folder, so every folder changes.
    mix "all": 60% modified, 10% each added, deleted, renamed, renamed with an edit;
    mix "modified": every change a modification (shape "folders" only).
    """
    if shape not in ("default", "folders") or mix not in ("all", "modified") or \
            (shape == "default" and mix != "all"):
        sys.exit(f"no shape {shape!r} with mix {mix!r}")
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    fi = subprocess.Popen(["git", "-C", repo, "fast-import", "--quiet"], stdin=subprocess.PIPE)
    out = fi.stdin

    def commit(mark, parent, msg, body):
        out.write(f"commit refs/heads/main\nmark :{mark}\n".encode())
        out.write(b"committer Bench <bench@example.com> 1700000000 +0000\n")
        out.write(f"data {len(msg)}\n{msg}\n".encode())
        if parent:
            out.write(f"from :{parent}\n".encode())
        body()

    def put(p, data):
        out.write(f"M 100644 inline {p}\ndata {len(data)}\n".encode())
        out.write(data)
        out.write(b"\n")

    where = path if shape == "default" else lambda i: f"{folder(i)}/page-{i}.html"

    def base():
        for i in range(files):
            put(where(i), page(i))

    # Split the changes: 60% modified, 10% each added, deleted, renamed, renamed+edited.
    if mix == "all":
        n_mod = changes * 6 // 10
        n_add = n_del = n_ren = n_ren_edit = changes // 10
    else:
        n_mod, n_add, n_del, n_ren, n_ren_edit = changes, 0, 0, 0, 0
    n_picked = n_mod + n_del + n_ren + n_ren_edit

    def head_default():
        stride = max(1, files // n_picked)
        picked = iter(range(0, files, stride))
        for _ in range(n_mod):
            i = next(picked)
            put(path(i), page(i, rev=1))
        for _ in range(n_del):
            out.write(f"D {path(next(picked))}\n".encode())
        for _ in range(n_ren):
            i = next(picked)
            out.write(f'R {path(i)} site/moved/page-{i}.html\n'.encode())
        for _ in range(n_ren_edit):
            i = next(picked)
            out.write(f"D {path(i)}\n".encode())
            put(f"site/moved-edited/page-{i}.html", page(i, rev=2))
        for k in range(n_add):
            put(f"site/new/page-{files + k}.html", page(files + k))

    def head_folders():
        # The picked files are spread evenly over all the files, so over every folder (11 or
        # 12 of each 50 for 22,500 of 100,000); their kinds cycle through the same 6:1:1:1
        # split as the counts (the last cycle may be cut short), so each folder has a mix.
        # Added files go round the folders, one folder after the other.
        cycle = ["mod"] * 6 + ["del", "ren", "ren_edit"] if mix == "all" else ["mod"]
        left = {"mod": n_mod, "del": n_del, "ren": n_ren, "ren_edit": n_ren_edit}
        kinds = []
        while len(kinds) < n_picked:
            for kind in cycle:
                if left[kind] and len(kinds) < n_picked:
                    left[kind] -= 1
                    kinds.append(kind)
        for j, kind in enumerate(kinds):
            i = j * files // n_picked
            if kind == "mod":
                put(where(i), page(i, rev=1))
            elif kind == "del":
                out.write(f"D {where(i)}\n".encode())
            elif kind == "ren":
                out.write(f"R {where(i)} {folder(i)}/moved-{i}.html\n".encode())
            else:
                out.write(f"D {where(i)}\n".encode())
                put(f"{folder(i)}/moved-edited-{i}.html", page(i, rev=2))
        n_folders = -(-files // FOLDER_SIZE)
        for k in range(n_add):
            put(f"{folder((k % n_folders) * FOLDER_SIZE)}/new-{files + k}.html",
                page(files + k))

    commit(1, None, "base", base)
    commit(2, 1, "head", head_default if shape == "default" else head_folders)
    out.close()
    if fi.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "-C", repo, "tag", "base", "main~1"], check=True)
    # A third commit on its own branch that adds one file to main's tree.
    one = "site/s05/d50/one-change.html" if shape == "default" else \
        f"{folder(files // 2)}/one-change.html"
    blob = subprocess.run(["git", "-C", repo, "hash-object", "-w", "--stdin"], input=b"one",
                          capture_output=True, check=True).stdout.decode().strip()
    env = dict(os.environ, GIT_INDEX_FILE=os.path.join(repo, ".git", "bench-index"))
    subprocess.run(["git", "-C", repo, "read-tree", "main"], env=env, check=True)
    subprocess.run(["git", "-C", repo, "update-index", "--add", "--cacheinfo",
                    f"100644,{blob},{one}"], env=env, check=True)
    tree = subprocess.run(["git", "-C", repo, "write-tree"], env=env, capture_output=True,
                          check=True).stdout.decode().strip()
    commit = subprocess.run(["git", "-C", repo, "commit-tree", tree, "-p", "main", "-m", "one"],
                            env=dict(env, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="b@example.com",
                                     GIT_COMMITTER_NAME="Bench",
                                     GIT_COMMITTER_EMAIL="b@example.com"),
                            capture_output=True, check=True).stdout.decode().strip()
    subprocess.run(["git", "-C", repo, "update-ref", "refs/heads/one-change", commit], check=True)


def compare(repo, base, head, runs):
    rows = [
        ("ours", [EXAMPLE, repo, base, head, "ours"]),
        ("libgit2", [EXAMPLE, repo, base, head, "libgit2"]),
        ("libgit2 similar", [EXAMPLE, repo, base, head, "libgit2-similar"]),
        ("git --no-renames", ["git", "-C", repo, "diff", "--name-status", "--no-renames",
                              base, head]),
        ("git -M", ["git", "-C", repo, "diff", "--name-status", "-M", base, head]),
    ]
    results = {}
    for name, cmd in rows:
        wall, rss, stdout = measure(cmd, runs)
        if name.startswith(("ours", "libgit2")):
            detail = json.loads(stdout)
            detail = f"{detail['changes']} entries {detail['kinds']}"
        else:
            detail = f"{len(stdout.splitlines())} lines"
        results[name] = wall
        rss = "n/a (no GNU time)" if rss is None else f"{rss / 1024:6.1f} MiB"
        print(f"  {name:17} {wall * 1000:8.1f} ms  peak RSS {rss}  {detail}")
    ratio = results["ours"] / results["git --no-renames"]
    print(f"  ours / git --no-renames: {ratio:.2f}x")


GNU_TIME = "/usr/bin/time"


def measure(cmd, runs):
    """Best wall time (s) over `runs` processes, the max peak RSS (KiB, or None), and stdout.

    Peak RSS comes from GNU time: a child forked from this Python process would report
    Python's own RSS (a fork inherits its parent's pages) for anything smaller.
    """
    best, rss, stdout = None, None, b""
    have_time = os.access(GNU_TIME, os.X_OK)
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r") as rss_file:
            full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if have_time else cmd
            start = time.perf_counter()
            p = subprocess.run(full, capture_output=True)
            wall = time.perf_counter() - start
            if p.returncode != 0:
                sys.exit(f"{cmd} failed with status {p.returncode}: {p.stderr.decode()}")
            stdout = p.stdout
            if have_time:
                kib = int(rss_file.read().split()[-1])
                rss = kib if rss is None else max(rss, kib)
        best = wall if best is None else min(best, wall)
    return best, rss, stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--changes", type=int, help="default: 20000, or 25000 with --shape folders")
    ap.add_argument("--shape", choices=["default", "folders"], default="default")
    ap.add_argument("--mix", choices=["all", "modified"], default="all")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="generate into (or reuse) this directory")
    args = ap.parse_args()
    if args.changes is None:
        args.changes = 25_000 if args.shape == "folders" else 20_000
    if args.mix != "all" and args.shape != "folders":
        ap.error("--mix modified needs --shape folders")

    subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "changes_bench"],
                   cwd=ROOT, check=True)

    tmp = None
    if args.keep:
        repo = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="changes-bench-")
        repo = os.path.join(tmp, "repo")
    try:
        if not os.path.isdir(os.path.join(repo, ".git")):
            start = time.perf_counter()
            generate(repo, args.files, args.changes, args.shape, args.mix)
            print(f"generated {args.files} files, {args.changes} changes, shape {args.shape} "
                  f"in {time.perf_counter() - start:.1f} s ({repo})")

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
