#!/usr/bin/env python3
"""Benchmark: CloudFront, 10,000 changed paths on one distribution, against the emulator.

CloudFront lets 3,000 file paths be in progress per distribution: 10,000 paths are four
invalidations (3,000, 3,000, 3,000, 1,000), each but the first sent when the one before it
completed. The floor is therefore four invalidation times (`--task-duration`), whatever the
client does; the figure that matters is how close the wall time comes to it. Prints wall
time against that floor, the API calls made beside the minimum, and the client's peak RSS.
It measures; it asserts nothing. Usage:

    cargo build --release
    python3 benches/cloudfront.py [--paths 10000] [--latency 20ms] [--task-duration 5s]

The emulator runs as its own process (so the RSS is the client's alone) with the latency on
every call and CloudFront's limits (3,000 paths and 15 wildcards in progress per
distribution, 10 calls a second per API).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_PROGRESS = 3000


def seconds(text):
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    raise SystemExit(f"{text}: give a duration like 5s or 500ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/cdn-refresh"))
    ap.add_argument("--paths", type=int, default=10000)
    ap.add_argument("--latency", default="20ms")
    ap.add_argument("--task-duration", default="5s")
    args = ap.parse_args()

    emulator = subprocess.Popen(
        [args.bin, "emulator", "--listen", "127.0.0.1:0", "--domains", "www.example.com",
         "--latency", args.latency, "--task-duration", args.task_duration],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = emulator.stdout.readline().strip()
        assert first.startswith("listening on "), first
        endpoint = first.split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            urls = os.path.join(tmp, "urls.txt")
            with open(urls, "w") as f:
                for i in range(args.paths):
                    f.write(f"https://www.example.com/assets/{i // 100}/file-{i}.js\n")
            report = os.path.join(tmp, "report.json")
            env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDCDNREFRESHTEST",
                       AWS_SECRET_ACCESS_KEY="cloudfront-test-secret", CDN_REFRESH_LOG="warn")
            start = time.monotonic()
            run = subprocess.run(
                [args.bin, "--provider", "cloudfront", "--distribution-id",
                 "www.example.com=EWWWEXAMPLECOM", "-r", urls, "--endpoint", endpoint,
                 "--report", report, "--poll-interval", "1s", "--timeout", "30m"],
                env=env, capture_output=True, text=True)
            wall = time.monotonic() - start
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if run.returncode != 0:
                print(run.stdout, run.stderr, file=sys.stderr)
                sys.exit(f"run failed with exit {run.returncode}")
            with open(report) as f:
                rep = json.load(f)
    finally:
        emulator.terminate()
        emulator.wait()

    calls = rep["calls"]
    invalidations = math.ceil(args.paths / IN_PROGRESS)
    floor = invalidations * seconds(args.task_duration)
    print(f"cloudfront: {args.paths} paths on one distribution, latency {args.latency}, "
          f"invalidations take {args.task_duration}")
    print(f"status: {rep['status']}, complete: {rep['counts']['refreshed']}, "
          f"invalidations: {len(rep['tasks'])}")
    print(f"wall time: {wall:.1f} s (floor set by {IN_PROGRESS} paths in progress: "
          f"{invalidations} invalidations one after another, {floor:.0f} s)")
    print(f"submit calls: {calls['submit']} (minimum {invalidations}), status calls: "
          f"{calls['status']}, in-progress and quota reads: {calls['quota']}, retries: {calls['retries']}")
    print(f"client peak RSS: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
