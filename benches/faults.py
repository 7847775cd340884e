#!/usr/bin/env python3
"""Benchmark: the real client against the emulator's injected faults, one row per
(provider, fault class).

For every row it starts a fresh emulator (its stats are cumulative) as its own process,
runs the release client on it once (`interrupt`: twice, the second with `--resume`) and
prints one markdown table (for the README):

  URLs                 the run's URLs (each is refreshed, then prefetched: `-t both`)
  acceptances per URL  min–max (and how many) over the run's URLs of the emulator's
                       `accepted.refresh` / `accepted.prefetch` counts (`GET
                       /_emulator/stats`): for every URL the report shows accepted
                       (complete, failed, submitted, or pending with a task id) it must be
                       exactly 1; for the others ("not accepted": rejected, or pending
                       unsent because its refresh had not finished), 0
  exit, status         the client's exit code and the report's `status`
  wall / timeout       wall time against the client's `--timeout` (a run must end within
                       about timeout + 5 s)
  rate refusals        the emulator's own rate refusals (its `errors` map: Throttling.User,
                       QuotaPerMinuteExceeded.Refresh, qiniu:403024, huawei:APIGW.0308);
                       injected `throttle` faults are not among them
  peak RSS             the client's own peak RSS (GNU time's %M: see `Run`)

It measures; it asserts nothing, but exits 1 when a row's acceptances are not what they
must be. Usage:

    cargo build --release
    python3 benches/faults.py [--only aliyun|qiniu|huawei] [--faults none,drop,...]
                              [--urls 200] [--batch-size 20] [--timeout 30s]
                              [--show-commands] [--keep DIR]

Fault classes (emulator flags, client flags):

  none           (baseline)
  lose-answer    --fault lose-answer=1/3 (served in full, answer lost)   client --timeout 120s
  drop           --fault drop=1/3 (connection closed, nothing served)
  garbage        --fault garbage=1/3 (200 with an HTML body)
  throttle       --fault throttle=1/3 (the provider's rate refusal, nothing served)
  error          --fault error=1/3 (500)
  trickle        --fault trickle=1/2 (a body that never ends)              client --timeout 10s
  huge           --fault huge=1/5 (64 MiB answers; the client refuses over 16 MiB without
                 retry, the run stops, exit 3): notes give the emulator's `faults.huge`
  redirect       --fault redirect=1/1 (307 to a port this script listens on: notes give the
                 connections it saw, 0 when nothing was followed; exit 3)
  endless-pages  --fault endless-pages=1/1 (listings that never end)      client --timeout 10s
  slow           --slow 1/2=800ms (every 2nd request reaches the rate counters late): rate
                 refusals must stay 0
  interrupt      emulator --latency 100ms, client --concurrency 1; SIGTERM once the emulator
                 has accepted 40 refresh URLs (exit 143 within ~5 s expected), then the same
                 command with --resume <first report>; acceptances are over both runs

Every run: the emulator's default domains, --task-duration 300ms --latency 20ms (interrupt:
100ms), quotas raised well past the run (so a URL accepted twice shows as a count, not as
a quota refusal), the client with -t both --batch-size 20 --poll-interval 1s.
"""
import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TIME = "/usr/bin/time"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROVIDERS = ["aliyun", "qiniu", "huawei"]
DOMAINS = ["example.com", "www.example.com", "static.example.com"]
ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
       "QINIU_ACCESS_KEY": "testak", "QINIU_SECRET_KEY": "testsk",
       "HUAWEICLOUD_SDK_AK": "HWTESTAK", "HUAWEICLOUD_SDK_SK": "HWTESTSK",
       "CDN_REFRESH_LOG": "warn"}
# The emulator's own rate refusals, by its `errors` key.
RATE_KEYS = {"Throttling", "Throttling.User", "QuotaPerMinuteExceeded.Refresh", "qiniu:403024",
             "huawei:APIGW.0308"}
# Report statuses of a URL the provider accepted; `pending` too when it carries a task id
# (without one it was never sent: its refresh had not finished).
ACCEPTED = {"complete", "failed", "submitted"}


def shown_accepted(u):
    return u["status"] in ACCEPTED or (u["status"] == "pending" and bool(u.get("task_id")))

# class -> (emulator flags, client flags, client --timeout or None for --timeout's default)
FAULTS = {
    "none": ([], [], None),
    "lose-answer": (["--fault", "lose-answer=1/3"], [], "120s"),
    "drop": (["--fault", "drop=1/3"], [], None),
    "garbage": (["--fault", "garbage=1/3"], [], None),
    "throttle": (["--fault", "throttle=1/3"], [], None),
    "error": (["--fault", "error=1/3"], [], None),
    "trickle": (["--fault", "trickle=1/2"], [], "10s"),
    "huge": (["--fault", "huge=1/5"], [], None),
    "redirect": (["--fault", "redirect=1/1"], [], None),
    "endless-pages": (["--fault", "endless-pages=1/1"], [], "10s"),
    "slow": (["--slow", "1/2=800ms"], [], None),
    "interrupt": (["--latency", "100ms"], ["--concurrency", "1"], None),
}
INTERRUPT_AFTER = 40  # accepted refresh URLs before SIGTERM
GRACE = 60  # seconds past a run's --timeout before this script kills it


def seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if duration.endswith(unit) and duration[:-len(unit)].replace(".", "").isdigit():
            return float(duration[:-len(unit)]) * units[unit]
    raise argparse.ArgumentTypeError(f"not a duration: {duration}")


class Emulator:
    """One emulator process; `endpoint` from its first line `listening on http://HOST:PORT`."""

    def __init__(self, bin_, flags):
        self.cmd = [bin_, "emulator", "--listen", "127.0.0.1:0"] + flags
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("listening on "):
            self.close()
            sys.exit(f"emulator did not start: {first!r}")
        self.endpoint = first.split()[-1]
        # The rest of the banner (and anything later) is drained so the emulator never blocks.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stats(self):
        with urllib.request.urlopen(self.endpoint + "/_emulator/stats", timeout=10) as r:
            return json.load(r)

    def close(self):
        # The emulator serves until Ctrl-C: SIGINT, not SIGTERM (which its first time only
        # raises the client's interrupt, unheard by the emulator).
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Listener:
    """Counts the connections made to a port: where the `redirect` fault points."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


class Run:
    """One client process under GNU time: its exit code, wall time and own peak RSS.

    `/usr/bin/time -f %M` and not os.wait4 on the client: Python starts a child with vfork
    (or fork), and Linux carries the peak RSS of the process that calls exec over to the
    program it runs, so wait4 on a child of this script reports this script's own peak (some
    14 MiB or more) whenever the client stays below it. GNU time forks a child of its own,
    about 1 MiB, and reports that child's peak.
    """

    def __init__(self, cmd, env, log):
        self.cmd = cmd
        self.log = log
        self.rss_file = log + ".rss"
        with open(log, "w") as out:
            self.start = time.monotonic()
            self.proc = subprocess.Popen([TIME, "-f", "%M", "-o", self.rss_file] + cmd,
                                         env=env, stdout=out, stderr=subprocess.STDOUT)
        self.code = None
        self.wall = None
        self.peak_kib = 0
        self.killed = False
        self.by_signal = None
        self.signalled_at = None

    def client_pid(self):
        """The client itself, GNU time's one child (None before it forked or after it ended)."""
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids = f.read().split()
        except OSError:
            return None
        return int(pids[0]) if pids else None

    def signal(self, sig):
        for _ in range(100):
            pid = self.client_pid()
            if pid is not None:
                self.signalled_at = time.monotonic()
                os.kill(pid, sig)
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.01)
        return False

    def wait(self, limit):
        def kill():
            self.killed = True
            pid = self.client_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        timer = threading.Timer(limit, kill)
        timer.start()
        try:
            self.code = self.proc.wait()
        finally:
            timer.cancel()
        self.wall = time.monotonic() - self.start
        try:
            with open(self.rss_file) as f:
                lines = f.read().split("\n")
        except OSError:
            lines = []
        for line in lines:
            if line.strip().isdigit():
                self.peak_kib = int(line)
            elif line.startswith("Command terminated by signal"):
                self.by_signal = int(line.split()[-1])
        return self

    def exit_text(self):
        if self.killed:
            return "killed"
        return str(self.code) if self.by_signal is None else f"signal {self.by_signal}"


def read_report(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def check(report, stats, urls):
    """(text, ok): the emulator's acceptances per URL beside what the report says of it."""
    accepted = stats["accepted"]
    counts = {op: accepted.get(op, {}) for op in ("refresh", "prefetch")}
    problems = []
    if report is None:
        # Nothing to compare with: at least nothing may be accepted twice.
        got = [n for op in counts for n in counts[op].values()]
        text = f"{min(got, default=0)}–{max(got, default=0)} ({len(got)}), no report ✗"
        return text, ["no report to compare the emulator's acceptances with"]
    shown = set()
    ok_counts, rejected_counts = [], []
    for u in report.get("urls", []):
        op = u["operation"]
        n = counts.get(op, {}).get(u["url"], 0)
        shown.add((op, u["url"]))
        if shown_accepted(u):
            ok_counts.append(n)
            if n != 1:
                problems.append(f"{op} {u['url']} {u['status']}: accepted {n}×")
        else:
            rejected_counts.append(n)
            if n != 0:
                problems.append(f"{op} {u['url']} {u['status']}: accepted {n}×")
    for op, by_url in counts.items():
        for url, n in by_url.items():
            if (op, url) not in shown:
                problems.append(f"{op} {url}: accepted {n}×, not in the report")
    if len({u["url"] for u in report.get("urls", [])}) != urls:
        problems.append(f"the report lists {len({u['url'] for u in report.get('urls', [])})} "
                        f"URLs, not {urls}")

    def span(xs):
        return f"{min(xs)}–{max(xs)} ({len(xs)})" if xs else "— (0)"
    text = span(ok_counts)
    if rejected_counts:
        text += f"; not accepted {span(rejected_counts)}"
    if problems:
        text += " ✗"
    return text, problems


def rate_refusals(stats):
    errors = stats.get("errors", {})
    return sum(n for k, n in errors.items() if k in RATE_KEYS)


def row(args, provider, fault, tmp, urls_file):
    emu_flags, client_flags, fault_timeout = FAULTS[fault]
    timeout = fault_timeout or args.timeout
    latency = [] if "--latency" in emu_flags else ["--latency", args.latency]
    q = str(10 * args.urls)
    flags = (latency + ["--task-duration", args.task_duration,
                        "--url-quota", q, "--preload-quota", q,
                        "--qiniu-url-quota", q, "--qiniu-prefetch-quota", q,
                        "--huawei-file-refresh-quota", q, "--huawei-preheat-quota", q]
             + (["--fault-seed", str(args.seed)] if args.seed is not None else [])
             + emu_flags)
    listener = Listener() if fault == "redirect" else None
    if listener:
        flags += ["--redirect-port", str(listener.port)]
    emulator = Emulator(args.bin, flags)
    env = dict(os.environ, **ENV)
    base = os.path.join(tmp, f"{provider}-{fault}")
    report1 = base + ".report.json"
    client = [args.bin, "--provider", provider, "-r", urls_file, "-t", "both",
              "--endpoint", emulator.endpoint, "--batch-size", str(args.batch_size),
              "--poll-interval", "1s", "--timeout", timeout] + client_flags
    notes = []
    commands = [emulator.cmd]
    try:
        run = Run(client + ["--report", report1], env, base + ".log")
        commands.append(run.cmd)
        runs = [run]
        if fault == "interrupt":
            hit = threading.Event()

            def watch():
                bound = time.monotonic() + seconds(timeout)
                while run.proc.poll() is None and time.monotonic() < bound:
                    try:
                        n = len(emulator.stats()["accepted"].get("refresh", {}))
                    except OSError:
                        n = 0
                    if n >= INTERRUPT_AFTER:
                        hit.set()
                        run.signal(signal.SIGTERM)
                        return
                    time.sleep(0.05)
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            run.wait(seconds(timeout) + GRACE)
            watcher.join()
            if run.signalled_at is not None:
                to_exit = run.start + run.wall - run.signalled_at
                notes.append(f"SIGTERM after {run.signalled_at - run.start:.1f} s, "
                             f"exit {run.exit_text()} {to_exit:.2f} s later")
            else:
                notes.append(f"not interrupted: fewer than {INTERRUPT_AFTER} refresh URLs "
                             f"accepted before the run ended")
            report2 = base + ".resumed.report.json"
            if read_report(report1) is not None:
                second = Run(client + ["--resume", report1, "--report", report2], env,
                             base + ".resumed.log")
                commands.append(second.cmd)
                second.wait(seconds(timeout) + GRACE)
                runs.append(second)
                notes.append(f"resumed: exit {second.exit_text()} in {second.wall:.1f} s")
                final = report2
            else:
                notes.append("the interrupted run wrote no report: nothing to resume")
                final = report1
        else:
            run.wait(seconds(timeout) + GRACE)
            final = report1
        stats = emulator.stats()
    finally:
        emulator.close()
        if listener:
            listener.close()

    report = read_report(final)
    accepted_text, problems = check(report, stats, args.urls)
    if fault == "interrupt" and report is not None:
        first = read_report(report1)
        accepted_text += f" over both runs"
        if first is not None:
            gone = [u for u in first["urls"] if shown_accepted(u)
                    and stats["accepted"].get(u["operation"], {}).get(u["url"], 0) != 1]
            if gone:
                problems = (problems or []) + [f"{len(gone)} URLs the first run reports "
                                               f"accepted are not accepted exactly once"]
                accepted_text += " ✗"
    if report is not None and report.get("stopped"):
        notes.append(f"stopped: {report['stopped'].get('code')}")
    if fault == "huge":
        notes.append(f"faults.huge {stats.get('faults', {}).get('huge', 0)}")
    faults = {k: v for k, v in stats.get("faults", {}).items()
              if not (fault == "huge" and k == "huge")}
    if listener:
        notes.append(f"connections to the redirect target {listener.connections}")
    if report is not None:
        calls = report.get("calls", {})
        notes.append(f"calls: {calls.get('submit', 0)} submit, {calls.get('retries', 0)} "
                     f"retries, {calls.get('lookup', 0)} look-ups")
    if faults:
        notes.append("faults " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())))
    wall = " + ".join(f"{r.wall:.1f}" for r in runs) + f" s / {timeout}"
    return {
        "provider": provider, "fault": fault, "urls": args.urls,
        "accepted": accepted_text, "problems": problems or [],
        "exit": " → ".join(r.exit_text() for r in runs),
        "status": " → ".join((read_report(p) or {}).get("status", "—")
                             for p in ([report1, report2] if len(runs) > 1 else [report1])),
        "wall": wall, "rates": rate_refusals(stats),
        "rss": max(r.peak_kib for r in runs) / 1024,
        "notes": "; ".join(notes),
        "commands": commands,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/cdn-refresh"))
    ap.add_argument("--only", choices=PROVIDERS, help="one provider only")
    ap.add_argument("--faults", default=",".join(FAULTS),
                    help="fault classes, comma-separated (default: all)")
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--latency", default="20ms")
    ap.add_argument("--task-duration", default="300ms")
    ap.add_argument("--timeout", default="30s",
                    help="the client's --timeout for the classes that set none of their own")
    ap.add_argument("--seed", type=int, default=1, help="the emulator's --fault-seed")
    ap.add_argument("--show-commands", action="store_true",
                    help="print every row's emulator and client commands after the table")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the URL list, reports and client logs in DIR")
    args = ap.parse_args()
    seconds(args.timeout)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        ap.error(f"unknown fault classes {unknown}; known: {', '.join(FAULTS)}")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"{TIME} (GNU time) is missing: it measures the client's peak RSS")
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin} is missing: cargo build --release")
    providers = [args.only] if args.only else PROVIDERS

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        tmp_ctx = None
        tmp = args.keep
    else:
        tmp_ctx = tempfile.TemporaryDirectory()
        tmp = tmp_ctx.name
    rows = []
    started = time.monotonic()
    try:
        urls_file = os.path.join(tmp, "urls.txt")
        with open(urls_file, "w") as f:
            for i in range(args.urls):
                f.write(f"https://{DOMAINS[i % len(DOMAINS)]}/assets/{i // 100}/file-{i}.js\n")
        for provider in providers:
            for fault in faults:
                r = row(args, provider, fault, tmp, urls_file)
                rows.append(r)
                print(f"{provider} {fault}: exit {r['exit']}, {r['wall']}, "
                      f"accepted {r['accepted']}", file=sys.stderr, flush=True)
    finally:
        if tmp_ctx:
            tmp_ctx.cleanup()

    print(f"{args.urls} URLs over {len(DOMAINS)} domains, -t both, --batch-size "
          f"{args.batch_size}; emulator --task-duration {args.task_duration} --latency "
          f"{args.latency}; total {time.monotonic() - started:.0f} s\n")
    head = ["provider", "fault", "URLs", "acceptances per URL", "exit", "status",
            "wall / timeout", "rate refusals", "peak RSS", "notes"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        cells = [r["provider"], r["fault"], str(r["urls"]), r["accepted"], r["exit"],
                 r["status"], r["wall"], str(r["rates"]), f"{r['rss']:.1f} MiB", r["notes"]]
        print("| " + " | ".join(cells) + " |")
    bad = [r for r in rows if r["problems"]]
    for r in bad:
        print(f"\n{r['provider']} {r['fault']}: acceptances not as they must be:", file=sys.stderr)
        for p in r["problems"][:10]:
            print(f"  {p}", file=sys.stderr)
        if len(r["problems"]) > 10:
            print(f"  … and {len(r['problems']) - 10} more", file=sys.stderr)
    if args.show_commands or bad:
        print("\nTo reproduce (the emulator prints its port; the client's paths are in the"
              " temp dir, kept with --keep), with the credentials env:")
        print("  " + " ".join(f"{k}={v}" for k, v in ENV.items()))
        for r in rows if args.show_commands else bad:
            print(f"{r['provider']} {r['fault']}:")
            for c in r["commands"]:
                print("  " + shlex.join(c))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
