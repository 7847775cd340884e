#!/usr/bin/env python3
"""Two independent checks of CloudFront support.

1. The OFFICIAL AWS SDK (`boto3`/`botocore`) against a running cdn-refresh emulator. botocore
   is an independent implementation of SigV4 and of CloudFront's REST-XML wire format, so if
   it can create, get and list invalidations on the emulator, gets the same invalidation for
   the same CallerReference, and fails where CloudFront fails (a wrong secret, a temporary
   key without its token, an unknown distribution), the emulator verifies what CloudFront
   verifies.
2. The cdn-refresh CLIENT (the binary, `CDN_REFRESH_BIN`) against `moto_server`, an
   independent fake of CloudFront from PyPI (`moto[server]`): a distribution is created
   there with boto3, then `cdn-refresh run --provider cloudfront` invalidates on it and
   must report every URL complete. moto answers `COMPLETED` in capitals and does not
   implement CallerReference reuse: the first is accepted, the second is checked against
   the emulator only. moto does not check signatures.

Usage: cloudfront_sdk_check.py [URL [ACCESS_KEY_ID [SECRET_ACCESS_KEY]]]
       CLOUDFRONT_STS_KEY=ID:SECRET:TOKEN adds the checks of temporary credentials.
       CDN_REFRESH_BIN (default target/debug/cdn-refresh) and MOTO_SERVER (default
       moto_server beside this Python) for the second part.
Prints one line per check and a last line "N passed, M failed"; exits non-zero when any
check fails.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from checks import check, expect, summary

# The emulator's default distribution of example.com (one per --domains entry).
DISTRIBUTION = "EEXAMPLECOM"


def unique_path(tag):
    # Unique paths, so that reruns against one emulator never mix invalidations up.
    return f"/sdk-check/cloudfront-{tag}-{uuid.uuid4().hex[:8]}.js"


def client(url, key_id, secret, token=None):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "cloudfront",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def batch(paths, reference):
    return {
        "Paths": {"Quantity": len(paths), "Items": paths},
        "CallerReference": reference,
    }


def error_code(fn):
    from botocore.exceptions import ClientError

    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("the call succeeded")


def emulator_checks(url, key_id, secret, sts_key):
    cf = client(url, key_id, secret)
    made = {}

    def create():
        paths = [unique_path("a"), "/sdk-check/dir/*", "/sdk-check/caf%C3%A9.html"]
        answer = cf.create_invalidation(
            DistributionId=DISTRIBUTION,
            InvalidationBatch=batch(paths, f"sdk-check-{uuid.uuid4()}"),
        )
        inv = answer["Invalidation"]
        expect(answer["ResponseMetadata"]["HTTPStatusCode"] == 201, answer)
        expect(inv["Status"] == "InProgress", inv)
        expect(inv["InvalidationBatch"]["Paths"]["Items"] == paths, inv)
        expect(answer["Location"].endswith(f"/invalidation/{inv['Id']}"), answer["Location"])
        made["id"], made["paths"] = inv["Id"], paths
        return inv["Id"]

    check("create_invalidation: 201, InProgress, Location, the paths as sent", create)

    def get():
        inv = cf.get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"])["Invalidation"]
        expect(inv["Id"] == made["id"], inv)
        expect(inv["InvalidationBatch"]["Paths"]["Items"] == made["paths"], inv)
        # InProgress, then Completed after the emulator's --task-duration (2 s by default).
        deadline = time.monotonic() + 30
        while inv["Status"] != "Completed" and time.monotonic() < deadline:
            time.sleep(0.5)
            inv = cf.get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"])["Invalidation"]
        expect(inv["Status"] == "Completed", inv["Status"])
        return inv["Status"]

    check("get_invalidation: the same invalidation, InProgress then Completed", get)

    def listed():
        # A second one, so that pages of one item are followed.
        cf.create_invalidation(
            DistributionId=DISTRIBUTION,
            InvalidationBatch=batch([unique_path("list")], f"sdk-check-{uuid.uuid4()}"),
        )
        pages = cf.get_paginator("list_invalidations").paginate(
            DistributionId=DISTRIBUTION, PaginationConfig={"PageSize": 1}
        )
        ids = [s["Id"] for page in pages for s in page["InvalidationList"].get("Items", [])]
        expect(made["id"] in ids and len(ids) >= 2, ids)
        expect(len(ids) == len(set(ids)), ids)
        return f"{len(ids)} invalidations over pages of 1"

    check("list_invalidations: paged with Marker/NextMarker, holds the new one", listed)

    def same_reference():
        reference = f"sdk-check-{uuid.uuid4()}"
        paths = [unique_path("same")]
        first = cf.create_invalidation(DistributionId=DISTRIBUTION, InvalidationBatch=batch(paths, reference))
        again = cf.create_invalidation(DistributionId=DISTRIBUTION, InvalidationBatch=batch(paths, reference))
        expect(first["Invalidation"]["Id"] == again["Invalidation"]["Id"], (first, again))
        code, _ = error_code(
            lambda: cf.create_invalidation(
                DistributionId=DISTRIBUTION,
                InvalidationBatch=batch([unique_path("other")], reference),
            )
        )
        expect(code == "InvalidationBatchAlreadyExists", code)
        return first["Invalidation"]["Id"]

    check("the same CallerReference twice: the same invalidation; other paths refused", same_reference)

    def wrong_secret():
        bad = client(url, key_id, secret + "-wrong")
        code, message = error_code(lambda: bad.get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"]))
        expect(code == "SignatureDoesNotMatch", code)
        expect("Canonical String" in message and "String-to-Sign" in message, message)
        return code

    check("a wrong secret: SignatureDoesNotMatch with the canonical request", wrong_secret)

    def unknown_key():
        code, _ = error_code(
            lambda: client(url, "AKIDUNKNOWN", secret).get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"])
        )
        expect(code == "InvalidClientTokenId", code)
        return code

    check("an unknown access key: InvalidClientTokenId", unknown_key)

    def unknown_distribution():
        code, _ = error_code(
            lambda: cf.create_invalidation(
                DistributionId="ENOSUCHDIST", InvalidationBatch=batch(["/x"], f"r-{uuid.uuid4()}")
            )
        )
        expect(code == "NoSuchDistribution", code)
        code, _ = error_code(lambda: cf.get_invalidation(DistributionId=DISTRIBUTION, Id="INOSUCH"))
        expect(code == "NoSuchInvalidation", code)
        return "NoSuchDistribution, NoSuchInvalidation"

    check("unknown distribution and invalidation: CloudFront's codes", unknown_distribution)

    def bad_paths():
        code, _ = error_code(
            lambda: cf.create_invalidation(
                DistributionId=DISTRIBUTION, InvalidationBatch=batch(["/a*b"], f"r-{uuid.uuid4()}")
            )
        )
        expect(code == "InvalidArgument", code)
        return code

    check("a * that is not last: InvalidArgument", bad_paths)

    if sts_key:
        sts_id, sts_secret, token = sts_key.split(":", 2)

        def temporary():
            ok = client(url, sts_id, sts_secret, token).get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"])
            expect(ok["Invalidation"]["Id"] == made["id"], ok)
            code, _ = error_code(
                lambda: client(url, sts_id, sts_secret).get_invalidation(DistributionId=DISTRIBUTION, Id=made["id"])
            )
            expect(code == "InvalidClientTokenId", code)
            return "with X-Amz-Security-Token: ok; without: InvalidClientTokenId"

        check("temporary credentials: the session token is required", temporary)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_checks(binary, moto_server):
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.2)
        moto_run(binary, endpoint)
    finally:
        server.terminate()
        server.wait(timeout=10)


def moto_run(binary, endpoint):
    cf = client(endpoint, "AKIDMOTO", "moto-secret")
    dist = cf.create_distribution(
        DistributionConfig={
            "CallerReference": f"sdk-check-{uuid.uuid4()}",
            "Aliases": {"Quantity": 1, "Items": ["example.com"]},
            "Origins": {
                "Quantity": 1,
                "Items": [{"Id": "origin", "DomainName": "origin.example.com", "CustomOriginConfig": {
                    "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all"},
            "Comment": "cdn-refresh sdk check",
            "Enabled": True,
        }
    )["Distribution"]["Id"]
    report = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "AKIDMOTO",
        "AWS_SECRET_ACCESS_KEY": "moto-secret",
    }
    urls = "https://example.com/a.js\nhttps://example.com/caf%C3%A9.html\nhttps://example.com/docs/index.html"

    def run(extra):
        args = [binary, "run", "--provider", "cloudfront", "--endpoint", endpoint, "--distribution-id",
                f"example.com={dist}", "--report", report, "--poll-interval", "200ms", "--timeout", "60s"]
        done = subprocess.run(args + extra, env=env, capture_output=True, text=True, timeout=120)
        with open(report) as f:
            return done, json.load(f)

    def files():
        done, rep = run(["--urls", urls, "-t", "both"])
        expect(done.returncode == 0, done.stderr)
        statuses = {(u["url"], u["operation"]): u["status"] for u in rep["urls"]}
        expect(len(statuses) == 6, statuses)
        for (u, op), s in statuses.items():
            expect(s == ("complete" if op == "refresh" else "unsupported"), (u, op, s))
        listed = cf.list_invalidations(DistributionId=dist)["InvalidationList"]
        expect(listed.get("Quantity", 0) >= 1, listed)
        task = rep["tasks"][0]["id"].split("/")[1]
        paths = cf.get_invalidation(DistributionId=dist, Id=task)["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
        expect(sorted(paths) == ["/a.js", "/caf%C3%A9.html", "/docs/index.html"], paths)
        return f"3 URLs complete, prefetch unsupported, paths {paths}"

    check("cdn-refresh against moto_server: invalidation polled to COMPLETED, prefetch unsupported", files)

    def directory():
        done, rep = run(["--urls", "https://example.com/assets/", "-o", "directory"])
        expect(done.returncode == 0, done.stderr)
        by_op = {(u["operation"], u["status"]) for u in rep["urls"]}
        expect(by_op == {("refresh", "complete")}, by_op)
        task = rep["tasks"][0]["id"].split("/")[1]
        paths = cf.get_invalidation(DistributionId=dist, Id=task)["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
        expect(paths == ["/assets/*"], paths)
        return "/assets/* complete"

    check("cdn-refresh against moto_server: a directory is /dir/*", directory)


def main():
    args = sys.argv[1:]
    url = args[0] if args else os.environ.get("EMULATOR_URL", "http://127.0.0.1:8080")
    key_id = args[1] if len(args) > 1 else "AKIDCDNREFRESHTEST"
    secret = args[2] if len(args) > 2 else "cloudfront-test-secret"
    emulator_checks(url, key_id, secret, os.environ.get("CLOUDFRONT_STS_KEY"))
    here = os.path.dirname(os.path.abspath(__file__))
    binary = os.environ.get("CDN_REFRESH_BIN", os.path.join(here, "..", "..", "target", "debug", "cdn-refresh"))
    moto_server = os.environ.get("MOTO_SERVER", os.path.join(os.path.dirname(sys.executable), "moto_server"))
    check("moto_server runs", lambda: moto_checks(binary, moto_server))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
