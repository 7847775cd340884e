#!/usr/bin/env python3
"""Benchmark: a large refresh through the real client and pipeline against the emulator.

Prints wall time, API calls made beside the minimum possible, and the client's peak RSS.
It measures; it asserts nothing. Usage:

    cargo build --release
    python3 benches/pipeline.py [--provider aliyun|qiniu|huawei] [--urls 10000] [--domains 3]
                                [--latency 20ms] [--task refresh]

The emulator runs as its own process (so the client's RSS is the client's alone) with the
given latency on every call, quotas raised to fit the run, and the provider's real rates,
including Alibaba's 1,000 refreshed URLs per domain per minute, Qiniu's 240 items per
second (refresh and prefetch together) and Huawei's 30 calls per second per API, which the
client honours.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/cdn-refresh"))
    ap.add_argument("--provider", default="aliyun", choices=["aliyun", "qiniu", "huawei"])
    ap.add_argument("--urls", type=int, default=10000)
    ap.add_argument("--domains", type=int, default=3)
    ap.add_argument("--latency", default="20ms")
    ap.add_argument("--task", default="refresh", choices=["refresh", "prefetch", "both"])
    ap.add_argument("--task-duration", default="1s")
    ap.add_argument("--per-domain-cap", type=int, default=1000,
                    help="the emulator's refreshed URLs per domain per minute")
    args = ap.parse_args()

    domains = [f"d{i}.example.com" for i in range(args.domains)]
    emulator = subprocess.Popen(
        [args.bin, "emulator", "--listen", "127.0.0.1:0", "--domains", ",".join(domains),
         "--latency", args.latency, "--task-duration", args.task_duration,
         "--url-quota", str(args.urls), "--preload-quota", str(args.urls),
         "--qiniu-url-quota", str(args.urls), "--qiniu-prefetch-quota", str(args.urls),
         "--huawei-file-refresh-quota", str(args.urls), "--huawei-preheat-quota", str(args.urls),
         "--urls-per-minute-per-domain", str(args.per_domain_cap)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = emulator.stdout.readline().strip()
        assert first.startswith("listening on "), first
        endpoint = first.split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            urls = os.path.join(tmp, "urls.txt")
            with open(urls, "w") as f:
                for i in range(args.urls):
                    f.write(f"https://{domains[i % len(domains)]}/assets/{i // 100}/file-{i}.js\n")
            report = os.path.join(tmp, "report.json")
            env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID="testid",
                       ALIBABA_CLOUD_ACCESS_KEY_SECRET="testsecret", QINIU_ACCESS_KEY="testak",
                       QINIU_SECRET_KEY="testsk", HUAWEICLOUD_SDK_AK="HWTESTAK",
                       HUAWEICLOUD_SDK_SK="HWTESTSK", CDN_REFRESH_LOG="warn")
            start = time.monotonic()
            run = subprocess.run(
                [args.bin, "--provider", args.provider, "-r", urls, "-t", args.task,
                 "--endpoint", endpoint,
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
    per_host = math.ceil(args.urls / args.domains)
    refreshes = args.urls if args.task != "prefetch" else 0
    prefetches = args.urls if args.task != "refresh" else 0
    if args.provider == "aliyun":
        refresh_min = math.ceil(refreshes / 1000)
        prefetch_min = math.ceil(prefetches / 100)
        floor = 60 * (math.ceil(per_host / args.per_domain_cap) - 1) if refreshes else 0
        floor_why = f"{args.per_domain_cap} URLs/domain/min"
    elif args.provider == "huawei":
        refresh_min = math.ceil(refreshes / 1000)
        prefetch_min = math.ceil(prefetches / 1000)
        floor = 0
        floor_why = "no rate that a run of this size reaches"
    else:
        refresh_min = math.ceil(refreshes / 60)
        prefetch_min = math.ceil(prefetches / 60)
        # The first second's 240 items go at once; every further 240 waits a second.
        floor = max(0, math.ceil((refreshes + prefetches) / 240) - 1)
        floor_why = "240 items/s"
    print(f"{args.provider}: {args.urls} URLs over {args.domains} domains, task {args.task}, "
          f"latency {args.latency}")
    print(f"status: {rep['status']}, complete: {rep['counts']['refreshed'] + rep['counts']['prefetched']}")
    print(f"wall time: {wall:.1f} s (floor set by {floor_why}: {floor} s)")
    print(f"submit calls: {calls['submit']} (minimum {refresh_min + prefetch_min}), "
          f"status calls: {calls['status']}, quota calls: {calls['quota']}, retries: {calls['retries']}")
    print(f"client peak RSS: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
