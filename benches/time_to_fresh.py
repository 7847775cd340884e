#!/usr/bin/env python3
"""Benchmark: time to fresh, side by side: the seed's batch script and cdn-refresh on the
emulator's Alibaba Cloud API, against the floor the provider's limits set.

Usage:

    cargo build --release
    python3 benches/time_to_fresh.py [--binary target/release/cdn-refresh]
        [--sizes 1000,10000] [--tasks refresh,both] [--tools seed,cdn-refresh]
        [--scale 1] [--sleep 10] [--batch-sleep 1] [--sdk current|legacy]
        [--latency 20ms] [--task-duration 1s] [--urls-per-domain 1000] [--no-extra]
        [--timeout 900] [--json FIGURES.json] [--keep DIR]

    # the run the README shows (the seed's sleeps at 1/50, its time projected):
    python3 benches/time_to_fresh.py --scale 0.02

It prints one Markdown table, one row per tool × URLs × task; it measures and asserts
nothing. Every row gets a fresh emulator (its stats are cumulative), run as its own process
(`BINARY emulator`) with `--latency` on every call, `--task-duration` per task, quotas raised
to fit the row and Alibaba Cloud's real rates (50 refresh and 50 prefetch calls/s, 30
DescribeRefreshTaskById/s, 10 DescribeRefreshTasks/s, 20 quota calls/s, 1,000 refreshed URLs
per domain per sliding minute). The URLs are `https://dN.example.com/assets/..`, `--urls-per-domain`
per domain (default 1,000: 1,000 URLs on 1 domain, 10,000 on 10), listed domain after domain.

Tools:

  seed         benches/seed_batch.py, the seed document's script (20 URLs a batch, one batch
               at a time, status query at once then every 10 s, 1 s between batches) with
               the official SDK it uses, from the venv target/sdk-venv (created with the
               Alibaba lines of scripts/sdk-check/requirements.txt when missing).
               `-t refresh` is `-t clear`; `-t both` is `-t clear` over the file, then
               `-t push` over it, as a user of the script does.
  cdn-refresh  BINARY --provider aliyun --endpoint E -r urls.txt -t refresh|both
               --report R.json, key testid/testsecret from the environment; defaults
               otherwise.

Columns:

  wall         seconds from start to exit. The seed, with --scale F < 1: its sleeps are
               multiplied by F, and so is its emulator's world (task duration × F, but at
               least 5 latencies so that its first query still finds the task running; the
               rates ÷ F), so that it sees the same answers in the same order as a faithful
               run; the wall shown is then projected: measured API time (wall − slept) +
               the sleeps it made at their real length (slept ÷ F); `measured` is the scaled
               run's own wall. Projection holds when the sleeps per batch equal a faithful
               run's (min(ceil(task duration / 10 s), 6)); the notes say when they do not.
  calls        API calls the tool counted (cdn-refresh: the report's submit + status +
               quota + lookup; the seed: its own count) / the emulator counted (its
               `GET /_emulator/stats` requests, all actions); submit/status/quota after.
  floor        the least time the provider's limits allow for the row, any client:
                 latency (quota call)
               + 60 s × (W − 1), W = the most minute-windows a domain needs (its URLs ÷
                 1,000, rounded up: 1,000 refreshed URLs per domain per minute)
               + the last window's refresh submits: latency + 1 s × (ceil(k / 50) − 1),
                 k = max(ceil(its URLs / 1,000), ceil(its domains / 10)) (1,000 URLs and 10
                 domains a call, 50 calls/s)
               + task duration + latency (one status call that sees it complete)
               and for -t both, the same URLs' prefetch after that:
               + latency + 1 s × (ceil(k' / 50) − 1), k' = ceil(its URLs / 100) (100 URLs a
                 call, 50 calls/s) + task duration + latency.
  ratio        wall / floor.

Extra row (default; --no-extra leaves it out): issue 15's 5,000 URLs over 3 domains,
-t both, cdn-refresh only (the 10,000 URLs / 10 domains / 1 s -t refresh case is the main
table's row). Bounded: every subprocess has a timeout (--timeout, seconds; the seed's is
derived from its batches and scale), and each emulator is stopped (SIGINT, then SIGKILL)
when its row ends, whatever happens.
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "benches", "seed_batch.py")
REQUIREMENTS = os.path.join(ROOT, "scripts", "sdk-check", "requirements.txt")

# Alibaba Cloud's limits (src/providers/aliyun/mod.rs LIMITS; the emulator's defaults).
REFRESH_PER_CALL = 1000
PREFETCH_PER_CALL = 100
DOMAINS_PER_CALL = 10
SUBMIT_QPS = 50
PER_DOMAIN_MINUTE = 1000
RATES = {  # emulator flag -> real value
    "--refresh-qps": 50,
    "--push-qps": 50,
    "--describe-by-id-qps": 30,
    "--describe-tasks-qps": 10,
    "--quota-qps": 20,
    "--urls-per-minute-per-domain": PER_DOMAIN_MINUTE,
}
ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
       "CDN_REFRESH_LOG": "warn"}
SEED_POLL_SLEEP_LIMIT = 6  # the seed gives a batch up after 6 sleeps


def seconds(text):
    for unit, factor in (("ms", 0.001), ("s", 1), ("m", 60)):
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * factor
            except ValueError:
                break
    raise argparse.ArgumentTypeError(f"not a duration: {text} (e.g. 20ms, 1s)")


def duration_flag(s):
    return f"{round(s * 1000)}ms"


def layout(urls, domains):
    """URLs per domain as the file lists them: domain after domain, the first ones fuller."""
    base, extra = divmod(urls, domains)
    return [base + (1 if i < extra else 0) for i in range(domains)]


def floor(urls, domains, task, latency, duration):
    per = layout(urls, domains)
    windows = max(math.ceil(n / PER_DOMAIN_MINUTE) for n in per)
    last = [n - PER_DOMAIN_MINUTE * (windows - 1) for n in per
            if math.ceil(n / PER_DOMAIN_MINUTE) == windows]
    last_urls = sum(last)
    k = max(math.ceil(last_urls / REFRESH_PER_CALL), math.ceil(len(last) / DOMAINS_PER_CALL))
    wave = latency + (math.ceil(k / SUBMIT_QPS) - 1)
    total = latency + 60 * (windows - 1) + wave + duration + latency
    if task == "both":
        k_p = math.ceil(last_urls / PREFETCH_PER_CALL)
        total += latency + (math.ceil(k_p / SUBMIT_QPS) - 1) + duration + latency
    return total


class Emulator:
    """One `BINARY emulator` process; its URL from the first line of its output."""

    def __init__(self, binary, flags, workdir):
        self.out = open(os.path.join(workdir, "emulator.out"), "w+")
        self.proc = subprocess.Popen(
            [binary, "emulator", "--listen", "127.0.0.1:0"] + flags,
            stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            self.out.seek(0)
            first = self.out.readline()
            if first.endswith("\n"):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                sys.exit(f"the emulator did not start: {first!r}")
            time.sleep(0.02)
        if not first.startswith("listening on "):
            self.close()
            sys.exit(f"unexpected first line from the emulator: {first!r}")
        self.endpoint = first.split()[-1]

    def stats(self):
        with urllib.request.urlopen(self.endpoint + "/_emulator/stats", timeout=10) as r:
            return json.load(r)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # the emulator serves until Ctrl-C
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def emulator_flags(args, urls, domains, duration, rate_scale):
    flags = ["--domains", ",".join(domains), "--latency", duration_flag(args.latency),
             "--task-duration", duration_flag(duration),
             "--url-quota", str(max(urls, 10_000)), "--preload-quota", str(max(urls, 1_000))]
    for flag, value in RATES.items():
        flags += [flag, str(math.ceil(value / rate_scale))]
    return flags


def write_urls(path, per, domains):
    with open(path, "w") as f:
        i = 0
        for domain, n in zip(domains, per):
            for _ in range(n):
                f.write(f"https://{domain}/assets/{i // 100}/file-{i}.js\n")
                i += 1


def run_cdn_refresh(args, urls_file, endpoint, task, workdir):
    report = os.path.join(workdir, "report.json")
    cmd = [args.binary, "--provider", "aliyun", "--endpoint", endpoint, "-r", urls_file,
           "-t", task, "--report", report]
    start = time.monotonic()
    try:
        run = subprocess.run(cmd, env=dict(os.environ, **ENV), capture_output=True, text=True,
                             timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"wall": time.monotonic() - start, "error": f"timed out after {args.timeout} s"}
    wall = time.monotonic() - start
    row = {"wall": wall, "exit": run.returncode}
    try:
        with open(report) as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        row["error"] = f"no report ({e}); exit {run.returncode}: {run.stderr.strip()[-300:]}"
        return row
    c = rep["calls"]
    row.update(
        status=rep.get("status"), counts=rep.get("counts"),
        calls=c["submit"] + c["status"] + c["quota"] + c.get("lookup", 0),
        split={"submit": c["submit"], "status": c["status"], "quota": c["quota"],
               "retries": c["retries"], "lookup": c.get("lookup", 0)})
    if run.returncode != 0:
        row["error"] = f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    return row


def ensure_venv(args):
    python = os.path.join(args.venv, "bin", "python")
    probe = "import alibabacloud_cdn20180510, aliyunsdkcdn, aliyunsdkcore"
    if os.path.exists(python) and subprocess.run(
            [python, "-c", probe], capture_output=True, timeout=60).returncode == 0:
        return python
    if args.no_install:
        sys.exit(f"no SDKs in {args.venv} (and --no-install)")
    print(f"installing the Alibaba Cloud SDKs into {args.venv} ...", file=sys.stderr)
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True, timeout=120)
    with open(REQUIREMENTS) as f:
        pins = [line.strip() for line in f
                if line.strip().lower().startswith(("aliyun", "alibabacloud", "darabonba"))]
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
                   + pins, check=True, timeout=600)
    return python


def run_seed(args, python, urls_file, endpoint, seed_task, batches, workdir):
    summary = os.path.join(workdir, f"seed-{seed_task}.json")
    cmd = [python, SEED, "-r", urls_file, "-t", seed_task, "--endpoint", endpoint,
           "--sdk", args.sdk, "--sleep", str(args.sleep), "--batch-sleep", str(args.batch_sleep),
           "--scale", str(args.scale), "--summary", summary, "--quiet"]
    # Worst case: every batch given up after 6 sleeps; a second a batch for the calls.
    limit = 60 + batches * ((SEED_POLL_SLEEP_LIMIT * args.sleep + args.batch_sleep) * args.scale
                            + 1.0)
    try:
        run = subprocess.run(cmd, env=dict(os.environ, **ENV), capture_output=True, text=True,
                             timeout=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {limit:.0f} s"}
    try:
        with open(summary) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"no summary ({e}); exit {run.returncode}: {run.stderr.strip()[-300:]}"}
    if run.returncode != 0:
        s["error"] = s.get("error") or f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    return s


def accepted_notes(accepted, n, task):
    """The emulator's accepted URLs, when they are not every URL once per operation."""
    want = {"refresh": n, "prefetch": n if task == "both" else 0}
    return [f"emulator accepted {accepted.get(op, 0):,} {op} URLs of {w:,}"
            for op, w in want.items() if accepted.get(op, 0) != w]


def row_seed(args, python, n, domains, task, urls_file, workdir):
    # The scaled world: task duration × scale (at least 5 latencies), rates ÷ scale.
    duration = args.task_duration
    if args.scale != 1:
        duration = max(args.task_duration * args.scale, 5 * args.latency)
    batches = math.ceil(n / args.batch_size)
    faithful_sleeps = min(math.ceil(args.task_duration / args.sleep), SEED_POLL_SLEEP_LIMIT)
    emulator = Emulator(args.binary, emulator_flags(args, n, domains, duration, args.scale),
                        workdir)
    try:
        parts = [run_seed(args, python, urls_file, emulator.endpoint, t, batches, workdir)
                 for t in (["clear"] if task == "refresh" else ["clear", "push"])]
        stats = emulator.stats()
    finally:
        emulator.close()
    row = {"tool": "seed", "urls": n, "domains": len(domains), "task": task}
    errors = [p["error"] for p in parts if p.get("error")]
    if errors:
        row["error"] = "; ".join(errors)
        return row
    measured = sum(p["wall_s"] for p in parts)
    slept = sum(p["slept_s"] for p in parts)
    api = measured - slept
    row.update(
        measured=measured, api_s=api, slept_s=slept, wall=api + slept / args.scale,
        scaled=args.scale != 1, emulator_task_duration=duration,
        calls=sum(p["total_calls"] for p in parts),
        split={"submit": sum(p["calls"].get(a, 0) for p in parts
                             for a in ("RefreshObjectCaches", "PushObjectCache")),
               "status": sum(p["calls"].get("DescribeRefreshTasks", 0) for p in parts),
               "quota": sum(p["calls"].get("DescribeRefreshQuota", 0) for p in parts)},
        batches=sum(p["batches"] for p in parts),
        poll_sleeps=sum(p["poll_sleeps"] for p in parts),
        given_up=sum(p["batches_given_up"] for p in parts),
        emulator_calls=sum(stats["requests"].values()),
        accepted={k: sum(v.values()) for k, v in stats["accepted"].items()})
    notes = []
    if row["poll_sleeps"] != faithful_sleeps * row["batches"]:
        notes.append(f"{row['poll_sleeps']} status sleeps where a faithful run makes "
                     f"{faithful_sleeps * row['batches']}: projection off")
    if row["given_up"]:
        notes.append(f"{row['given_up']} batches given up")
    notes += accepted_notes(row["accepted"], n, task)
    row["notes"] = notes
    return row


def row_cdn_refresh(args, n, domains, task, urls_file, workdir):
    emulator = Emulator(args.binary, emulator_flags(args, n, domains, args.task_duration, 1),
                        workdir)
    try:
        row = run_cdn_refresh(args, urls_file, emulator.endpoint, task, workdir)
        stats = emulator.stats()
    finally:
        emulator.close()
    row.update(tool="cdn-refresh", urls=n, domains=len(domains), task=task, scaled=False,
               emulator_calls=sum(stats["requests"].values()),
               accepted={k: sum(v.values()) for k, v in stats["accepted"].items()})
    notes = []
    if row.get("status") and row["status"] != "success":
        notes.append(f"status {row['status']}")
    if row.get("split", {}).get("retries"):
        notes.append(f"{row['split']['retries']} retries")
    rate = {k: v for k, v in stats.get("errors", {}).items()
            if k in ("Throttling.User", "QuotaPerMinuteExceeded.Refresh")}
    if rate:
        notes.append(f"rate refusals {rate}")
    if not row.get("error"):
        notes += accepted_notes(row["accepted"], n, task)
    row["notes"] = notes
    return row


def table(rows, args):
    out = ["| tool | URLs | domains | task | wall s | measured s | calls (tool / emulator) "
           "| submit / status / quota | floor s | wall / floor | notes |",
           "|---|---:|---:|---|---:|---:|---|---|---:|---:|---|"]
    for r in rows:
        head = f"| {r['tool']} | {r['urls']:,} | {r['domains']} | {r['task']} |"
        if r.get("error"):
            out.append(head + f" – | – | – | – | {r['floor']:.2f} | – | failed: {r['error']} |")
            continue
        wall = f"{r['wall']:.2f}" + (" (projected)" if r.get("scaled") else "")
        measured = f"{r['measured']:.2f}" if r.get("scaled") else "="
        s = r["split"]
        notes = list(r.get("notes", []))
        if r["tool"] == "seed":
            notes.insert(0, f"{r['batches']} batches, API time {r['api_s']:.1f} s"
                         + (f", sleeps ×{args.scale:g}" if r.get("scaled") else ""))
        out.append(
            head + f" {wall} | {measured} | {r['calls']:,} / {r['emulator_calls']:,} | "
            f"{s['submit']:,} / {s['status']:,} / {s['quota']} | {r['floor']:.2f} | "
            f"{r['wall'] / r['floor']:,.1f}× | {'; '.join(notes)} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description="time to fresh, side by side (see the docstring)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/cdn-refresh"))
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--tasks", default="refresh,both")
    ap.add_argument("--tools", default="seed,cdn-refresh")
    ap.add_argument("--latency", type=seconds, default=seconds("20ms"))
    ap.add_argument("--task-duration", type=seconds, default=seconds("1s"))
    ap.add_argument("--urls-per-domain", type=int, default=1000)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the seed's sleeps (and its emulator's times); 1 = faithful")
    ap.add_argument("--sleep", type=float, default=10.0, help="the seed's status-query sleep")
    ap.add_argument("--batch-sleep", type=float, default=1.0, help="the seed's sleep per batch")
    ap.add_argument("--batch-size", type=int, default=20, help="the seed's URLs per batch")
    ap.add_argument("--sdk", choices=["current", "legacy"], default="current")
    ap.add_argument("--venv", default=os.path.join(ROOT, "target", "sdk-venv"))
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-extra", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds a cdn-refresh run may take before it is killed")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--keep", metavar="DIR", help="keep URL files, reports and logs here")
    args = ap.parse_args()
    if not 0 < args.scale <= 1:
        sys.exit("--scale must be in (0, 1]")
    if args.batch_size != 20:
        print("note: --batch-size is not the seed's 20", file=sys.stderr)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no executable at {args.binary} (cargo build --release, or --binary)")
    tools = args.tools.split(",")
    python = ensure_venv(args) if "seed" in tools else None

    plan = []
    for n in (int(s) for s in args.sizes.split(",")):
        for task in args.tasks.split(","):
            for tool in tools:
                plan.append((tool, n, math.ceil(n / args.urls_per_domain), task))
    if not args.no_extra and "cdn-refresh" in tools:
        plan.append(("cdn-refresh", 5000, 3, "both"))

    base = args.keep or tempfile.mkdtemp(prefix="time-to-fresh-")
    os.makedirs(base, exist_ok=True)
    rows = []
    try:
        for tool, n, d, task in plan:
            workdir = os.path.join(base, f"{tool}-{n}-{d}-{task}")
            os.makedirs(workdir, exist_ok=True)
            domains = [f"d{i}.example.com" for i in range(d)]
            urls_file = os.path.join(workdir, "urls.txt")
            write_urls(urls_file, layout(n, d), domains)
            print(f"running {tool}: {n} URLs over {d} domains, -t {task} ...", file=sys.stderr)
            if tool == "seed":
                row = row_seed(args, python, n, domains, task, urls_file, workdir)
            else:
                row = row_cdn_refresh(args, n, domains, task, urls_file, workdir)
            row["floor"] = floor(n, d, task, args.latency, args.task_duration)
            if "wall" in row:
                row["ratio"] = row["wall"] / row["floor"]
            rows.append(row)
            print(f"  wall {row.get('wall', float('nan')):.2f} s"
                  + (f" (error: {row['error']})" if row.get("error") else ""), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    scaled = args.scale != 1 and "seed" in tools
    print(f"Time to fresh, Alibaba Cloud API on the emulator: latency "
          f"{args.latency * 1000:g} ms a call, tasks {args.task_duration:g} s, "
          f"{args.urls_per_domain:,} URLs a domain, real rate limits; binary {args.binary}")
    if scaled:
        print(f"The seed ran SCALED: its sleeps ×{args.scale:g} (status query every "
              f"{args.sleep * args.scale:g} s, {args.batch_sleep * args.scale:g} s between "
              f"batches) in an emulator scaled alike; its wall is projected: API time + its "
              f"sleeps at full length ({args.sleep:g} s, {args.batch_sleep:g} s).")
    print()
    print(table(rows, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": {k: v for k, v in vars(args).items()}, "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
