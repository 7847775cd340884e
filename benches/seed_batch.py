#!/usr/bin/env python3
"""The seed's Alibaba Cloud batch refresh/prefetch script, reproduced for benchmarking.

Alibaba Cloud documents a Python script ("refresh and prefetch content with a script",
2025 revision; reference seed 000) that users run as

    python Refresh.py -r urllist.txt -t clear|push [-a domestic|overseas] [-o File|Directory]

with the key in ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET. This file
behaves the way that document describes it, written from the description (not its code):

  1. every line of the file must start with `http` (else: exit, listing the bad lines);
  2. one DescribeRefreshQuota call; `push` stops when the file has more lines than
     PreloadRemain, `clear -o File` / `-o Directory` when more than UrlRemain / DirRemain
     (`clear` without `-o` compares nothing);
  3. the lines, each stripped and percent-encoded (letters, digits and `: / . - _ *` kept,
     a space as `+`), are cut into batches of 20, in file order; each batch's ObjectPath is
     its lines joined, each ending in a newline;
  4. batches go strictly one after another: RefreshObjectCaches (`clear`, ObjectType when
     `-o`) or PushObjectCache (`push`, Area when `-a`), then at once DescribeRefreshTasks
     with the returned task id; while any entry is not `Complete` it sleeps 10 s and asks
     again, giving the batch up after 6 sleeps (7 queries); then it sleeps 1 s and starts
     the next batch (after the last one too);
  5. any API error ends the run (exit 1). No retries of its own.

The seed uses the current SDK (`alibabacloud_cdn20180510`, Darabonba/Tea; ACS3-HMAC-SHA256
signature by default): `--sdk current`, the default. `--sdk legacy` uses the older
`aliyun-python-sdk-cdn` / `aliyun-python-sdk-core` (V1, HMAC-SHA1, every parameter in the
query), as the 2021 English revision of the same document (seed 001) did. Both must be in
the interpreter running this script; `benches/time_to_fresh.py` installs the pinned ones from
`scripts/sdk-check/requirements.txt` into `target/sdk-venv`.

Additions for benchmarking, none of which changes what is sent:

    --endpoint URL        where the API is (default https://cdn.aliyuncs.com; the emulator:
                          http://127.0.0.1:PORT)
    --sleep S             the sleep between status queries (default 10, the seed's)
    --batch-sleep S       the sleep after each batch (default 1, the seed's)
    --scale F             multiplies both sleeps (default 1: faithful); for a quick run
    --batch-size N        URLs per batch (default 20, the seed's)
    --summary PATH        writes JSON: calls by action, batches, status queries, sleeps,
                          seconds slept, wall seconds, batches given up
    --quiet               leaves out the seed's per-batch printing

Usage (against a running emulator):

    ALIBABA_CLOUD_ACCESS_KEY_ID=testid ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret \\
        target/sdk-venv/bin/python benches/seed_batch.py -r urls.txt -t clear \\
        --endpoint http://127.0.0.1:PORT [--scale 0.02] [--summary s.json]
"""
import argparse
import json
import logging
import os
import re
import sys
import time
from urllib.parse import urlparse

log = logging.getLogger("seed_batch")

# The seed's constants.
BATCH_SIZE = 20
POLL_SLEEP = 10.0
BATCH_SLEEP = 1.0
MAX_SLEEPS = 6  # the status loop gives a batch up once it has slept this many times


class Counters:
    def __init__(self):
        self.calls = {}
        self.batches = 0
        self.polls = 0
        self.sleeps = 0
        self.poll_sleeps = 0
        self.slept = 0.0
        self.given_up = 0
        self.start = time.monotonic()

    def call(self, action):
        self.calls[action] = self.calls.get(action, 0) + 1

    def sleep(self, seconds, poll):
        t = time.monotonic()
        time.sleep(seconds)
        self.slept += time.monotonic() - t
        self.sleeps += 1
        self.poll_sleeps += 1 if poll else 0

    def summary(self, status, error=None):
        wall = time.monotonic() - self.start
        return {
            "status": status,
            "error": error,
            "calls": self.calls,
            "total_calls": sum(self.calls.values()),
            "batches": self.batches,
            "status_queries": self.polls,
            "sleeps": self.sleeps,
            "poll_sleeps": self.poll_sleeps,
            "slept_s": round(self.slept, 4),
            "wall_s": round(wall, 4),
            "api_s": round(wall - self.slept, 4),
            "batches_given_up": self.given_up,
        }


class CurrentSdk:
    """alibabacloud_cdn20180510, as the seed document installs and calls it."""

    def __init__(self, endpoint, key_id, secret):
        from alibabacloud_cdn20180510 import models
        from alibabacloud_cdn20180510.client import Client
        from alibabacloud_credentials.client import Client as CredentialClient
        from alibabacloud_credentials.models import Config as CredentialConfig
        from alibabacloud_tea_openapi.models import Config
        from alibabacloud_tea_util.models import RuntimeOptions

        credential = CredentialClient(CredentialConfig(
            type="access_key", access_key_id=key_id, access_key_secret=secret))
        config = Config(credential=credential)
        config.endpoint = endpoint.netloc
        config.protocol = endpoint.scheme
        self.m = models
        self.client = Client(config)
        self.runtime = RuntimeOptions

    def quota(self):
        r = self.client.describe_refresh_quota_with_options(
            self.m.DescribeRefreshQuotaRequest(), self.runtime())
        return r.body.to_map()

    def refresh(self, paths, object_type):
        req = self.m.RefreshObjectCachesRequest(object_path=paths)
        if object_type:
            req.object_type = object_type
        return self.client.refresh_object_caches_with_options(req, self.runtime()).body.to_map()

    def push(self, paths, area):
        req = self.m.PushObjectCacheRequest(object_path=paths)
        if area:
            req.area = area
        return self.client.push_object_cache_with_options(req, self.runtime()).body.to_map()

    def tasks(self, task_id):
        req = self.m.DescribeRefreshTasksRequest(task_id=task_id)
        return self.client.describe_refresh_tasks_with_options(req, self.runtime()).body.to_map()


class LegacySdk:
    """aliyun-python-sdk-cdn on aliyun-python-sdk-core (V1 signature), as seed 001 used it."""

    def __init__(self, endpoint, key_id, secret):
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkcdn.request.v20180510 import (
            DescribeRefreshQuotaRequest, DescribeRefreshTasksRequest, PushObjectCacheRequest,
            RefreshObjectCachesRequest)

        self.client = AcsClient(key_id, secret, "cn-hangzhou")
        self.endpoint = endpoint
        self.r = {
            "quota": DescribeRefreshQuotaRequest.DescribeRefreshQuotaRequest,
            "tasks": DescribeRefreshTasksRequest.DescribeRefreshTasksRequest,
            "push": PushObjectCacheRequest.PushObjectCacheRequest,
            "refresh": RefreshObjectCachesRequest.RefreshObjectCachesRequest,
        }

    def _do(self, req):
        req.set_endpoint(self.endpoint.netloc)
        req.set_protocol_type(self.endpoint.scheme)
        req.set_accept_format("json")
        return json.loads(self.client.do_action_with_exception(req))

    def quota(self):
        return self._do(self.r["quota"]())

    def refresh(self, paths, object_type):
        req = self.r["refresh"]()
        if object_type:
            req.set_ObjectType(object_type)
        req.set_ObjectPath(paths)
        return self._do(req)

    def push(self, paths, area):
        req = self.r["push"]()
        if area:
            req.set_Area(area)
        req.set_ObjectPath(paths)
        return self._do(req)

    def tasks(self, task_id):
        req = self.r["tasks"]()
        req.set_TaskId(int(task_id))
        return self._do(req)


def encode(url):
    """Percent-encodes what the seed encodes: all but letters, digits and `: / . - _ *`."""
    out = []
    for ch in url:
        if ch.isalnum() or ch in ":/.-_*":
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def batches(lines, size):
    batch = []
    for line in lines:
        batch.append(encode(line.strip()) + "\n")
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args, counters):
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        sys.exit("[error]: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    endpoint = urlparse(args.endpoint if "://" in args.endpoint else "https://" + args.endpoint)
    sdk = (CurrentSdk if args.sdk == "current" else LegacySdk)(endpoint, key_id, secret)
    say = (lambda *a: None) if args.quiet else print

    with open(args.r) as f:
        lines = f.readlines()
    bad = [line for line in lines if not re.match(r"^(https|http)", line)]
    if bad:
        sys.exit("[error]: URL format is illegal\n" + "".join(bad))

    counters.call("DescribeRefreshQuota")
    quota = sdk.quota()
    limit = None
    if args.t == "push":
        limit = "PreloadRemain"
    elif args.o == "File":
        limit = "UrlRemain"
    elif args.o == "Directory":
        limit = "DirRemain"
    if limit and len(lines) > int(quota[limit]):
        sys.exit(f"[error]: {limit} is not enough {quota[limit]}")

    poll_sleep = args.sleep * args.scale
    batch_sleep = args.batch_sleep * args.scale
    for batch in batches(lines, args.batch_size):
        paths = "".join(batch)
        counters.batches += 1
        if args.t == "clear":
            counters.call("RefreshObjectCaches")
            answer, id_field = sdk.refresh(paths, args.o), "RefreshTaskId"
        else:
            counters.call("PushObjectCache")
            answer, id_field = sdk.push(paths, args.a), "PushTaskId"
        say(answer)
        task_id = answer[id_field]
        slept = 0
        while True:
            counters.call("DescribeRefreshTasks")
            counters.polls += 1
            tasks = sdk.tasks(task_id)
            say(f"[{task_id}] is doing... ...")
            entries = (tasks.get("Tasks") or {}).get("CDNTask") or []
            if all(t.get("Status") == "Complete" for t in entries):
                log.info("[%s] is finish", task_id)
                break
            if slept >= MAX_SLEEPS:
                log.info("[%s] given up", task_id)
                counters.given_up += 1
                break
            slept += 1
            counters.sleep(poll_sleep, poll=True)
        counters.sleep(batch_sleep, poll=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-r", required=True, metavar="FILE", help="one URL a line")
    ap.add_argument("-t", required=True, choices=["clear", "push"])
    ap.add_argument("-a", choices=["domestic", "overseas"])
    ap.add_argument("-o", choices=["File", "Directory"])
    ap.add_argument("--endpoint", default="https://cdn.aliyuncs.com")
    ap.add_argument("--sdk", choices=["current", "legacy"], default="current")
    ap.add_argument("--sleep", type=float, default=POLL_SLEEP)
    ap.add_argument("--batch-sleep", type=float, default=BATCH_SLEEP)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    ap.add_argument("--summary", metavar="PATH")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.a and args.o:
        sys.exit("[error]: -a and -o cannot be used together")
    if args.o and args.t == "push":
        sys.exit("[error]: -o goes with -t clear")
    if args.scale <= 0:
        sys.exit("[error]: --scale must be above 0")

    counters = Counters()
    status, error, code = "done", None, 0
    try:
        run(args, counters)
    except SystemExit as e:
        status, error, code = "stopped", str(e.code), 1
    except Exception as e:  # the seed: any API error ends the run
        status, error, code = "error", f"{type(e).__name__}: {e}", 1
        print(f"[error]: {error}", file=sys.stderr)
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(counters.summary(status, error), f, indent=1)
    if error and status == "stopped":
        print(error, file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
