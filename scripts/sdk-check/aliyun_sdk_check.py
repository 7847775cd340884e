#!/usr/bin/env python3
"""Drive a running cdn-refresh emulator with the OFFICIAL Alibaba Cloud Python SDKs.

The SDKs are independent implementations of the V1 and V3 signatures and of the wire
format, so if they can talk to the emulator (and fail where the real service would), the
emulator verifies what the real service verifies.

Usage: aliyun_sdk_check.py [URL [KEY_ID [SECRET]]]
       (or EMULATOR_URL, ALIYUN_KEY_ID, ALIYUN_KEY_SECRET; defaults: testid / testsecret)
       ALIYUN_STS_KEY=ID:SECRET:TOKEN adds the STS checks (the emulator must know that key).
Prints one line per check; exits non-zero when any check fails.
"""

import json
import os
import sys
import uuid
from urllib.parse import urlparse

from checks import check, expect, summary


def unique_url(tag):
    # Unique paths so that reruns against the same emulator never collide.
    return f"http://example.com/sdk-check/{tag}-{uuid.uuid4().hex[:8]}.js"


# ---------------------------------------------------------------- legacy SDK (V1, query)
def legacy_checks(hostport, key_id, secret):
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcdn.request.v20180510.DescribeRefreshQuotaRequest import DescribeRefreshQuotaRequest
    from aliyunsdkcdn.request.v20180510.DescribeRefreshTaskByIdRequest import DescribeRefreshTaskByIdRequest
    from aliyunsdkcdn.request.v20180510.PushObjectCacheRequest import PushObjectCacheRequest
    from aliyunsdkcdn.request.v20180510.RefreshObjectCachesRequest import RefreshObjectCachesRequest

    def client(sec=secret):
        # No automatic retries: a check must see the emulator's first answer.
        return AcsClient(key_id, sec, "cn-hangzhou", auto_retry=False)

    def call(req, sec=secret):
        req.set_endpoint(hostport)
        req.set_protocol_type("http")
        return json.loads(client(sec).do_action_with_exception(req))

    task_ids = []

    def refresh():
        req = RefreshObjectCachesRequest()
        url = unique_url("legacy-refresh")
        req.set_ObjectPath(url + "\n" + unique_url("legacy-refresh"))
        req.set_ObjectType("File")
        body = call(req)
        expect(body.get("RefreshTaskId"), f"no RefreshTaskId in {body}")
        task_ids.append(body["RefreshTaskId"])
        return f"task {body['RefreshTaskId']}"

    def push():
        req = PushObjectCacheRequest()
        req.set_ObjectPath(unique_url("legacy-push"))
        req.set_Area("domestic")
        body = call(req)
        expect(body.get("PushTaskId"), f"no PushTaskId in {body}")
        task_ids.append(body["PushTaskId"])
        return f"task {body['PushTaskId']}"

    def describe():
        expect(task_ids, "no task ids from the previous checks")
        req = DescribeRefreshTaskByIdRequest()
        req.set_TaskId(",".join(task_ids))
        body = call(req)
        expect(body.get("TotalCount") == 3, f"expected 3 entries, got {body}")
        statuses = {t["Status"] for t in body["Tasks"]}
        expect(statuses <= {"Pending", "Refreshing", "Complete"}, f"statuses {statuses}")
        return f"{body['TotalCount']} entries, {sorted(statuses)}"

    def quota():
        body = call(DescribeRefreshQuotaRequest())
        for field in ("UrlQuota", "UrlRemain", "DirQuota", "PreloadRemain", "RegexRemain"):
            expect(isinstance(body.get(field), str), f"{field} missing or not a string in {body}")
        return f"UrlRemain {body['UrlRemain']}/{body['UrlQuota']}"

    def quota_xml_get():
        # Format=XML is the V1 default; GET puts everything in the query string.
        import xml.etree.ElementTree as ET

        req = DescribeRefreshQuotaRequest()
        req.set_method("GET")
        req.set_endpoint(hostport)
        req.set_protocol_type("http")
        req.set_accept_format("XML")
        # do_action_with_exception forces Format=JSON; this lower-level call sends XML as set.
        status, _headers, body, exc = client()._implementation_of_do_action(req)
        expect(status == 200 and exc is None, f"status {status}: {exc}")
        root = ET.fromstring(body)
        expect(root.tag == "DescribeRefreshQuotaResponse", f"root <{root.tag}>")
        expect(root.findtext("UrlQuota") and root.findtext("RequestId"), "fields missing")
        return f"<{root.tag}> UrlQuota {root.findtext('UrlQuota')}"

    def unknown_domain():
        req = RefreshObjectCachesRequest()
        req.set_ObjectPath("http://not-mine.example.org/a.js")
        try:
            call(req)
        except ServerException as exc:
            expect(exc.get_error_code() == "InvalidDomain.NotFound", f"code {exc.get_error_code()}")
            expect(exc.get_http_status() == 404, f"status {exc.get_http_status()}")
            return "InvalidDomain.NotFound (HTTP 404)"
        raise AssertionError("a domain outside --domains was accepted")

    def wrong_secret():
        req = DescribeRefreshQuotaRequest()
        try:
            call(req, sec=secret + "-wrong")
        except ServerException as exc:
            # The legacy SDK compares the server's echoed string to sign with its own and,
            # when they are equal (only the secret differs), renames the error
            # InvalidAccessKeySecret: that proves the echo is exact.
            code = exc.get_error_code()
            expect(code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret"), f"code {code}")
            expect(exc.get_http_status() == 400, f"status {exc.get_http_status()}")
            return f"{code} (HTTP 400)"
        raise AssertionError("a wrong secret was accepted")

    check("legacy V1 RefreshObjectCaches", refresh)
    check("legacy V1 PushObjectCache", push)
    check("legacy V1 DescribeRefreshTaskById", describe)
    check("legacy V1 DescribeRefreshQuota", quota)
    check("legacy V1 GET DescribeRefreshQuota as XML", quota_xml_get)
    check("legacy V1 unknown domain -> InvalidDomain.NotFound", unknown_domain)
    check("legacy V1 wrong secret -> SignatureDoesNotMatch", wrong_secret)


# ------------------------------------------------- current SDK (V3 default, V1 via 'v2')
def current_checks(hostport, key_id, secret, algorithm):
    from alibabacloud_cdn20180510 import models as cdn
    from alibabacloud_cdn20180510.client import Client
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.utils_models import Config

    label = "V3" if algorithm is None else f"signature_algorithm={algorithm!r} (V1)"

    def client(sec=secret):
        config = Config(access_key_id=key_id, access_key_secret=sec, endpoint=hostport, protocol="http")
        if algorithm is not None:
            config.signature_algorithm = algorithm
        return Client(config)

    task_ids = []

    def refresh():
        resp = client().refresh_object_caches(
            cdn.RefreshObjectCachesRequest(
                object_path=unique_url("sdk-refresh") + "\r\n" + unique_url("sdk-refresh"),
                object_type="File",
                force=False,
            )
        )
        expect(resp.status_code == 200, f"status {resp.status_code}")
        expect(resp.body.refresh_task_id and resp.body.request_id, f"body {resp.body}")
        task_ids.append(resp.body.refresh_task_id)
        return f"task {resp.body.refresh_task_id}"

    def directory():
        resp = client().refresh_object_caches(
            cdn.RefreshObjectCachesRequest(object_path="static.example.com/sdk-check/", object_type="Directory")
        )
        expect(resp.body.refresh_task_id, f"body {resp.body}")
        return f"task {resp.body.refresh_task_id}"

    def push():
        resp = client().push_object_cache(
            cdn.PushObjectCacheRequest(
                object_path=unique_url("sdk-push"),
                area="overseas",
                l_2preload=True,
                with_header='{"Accept-Encoding":["gzip"]}',
            )
        )
        expect(resp.body.push_task_id, f"body {resp.body}")
        task_ids.append(resp.body.push_task_id)
        return f"task {resp.body.push_task_id}"

    def describe():
        expect(task_ids, "no task ids from the previous checks")
        resp = client().describe_refresh_task_by_id(cdn.DescribeRefreshTaskByIdRequest(task_id=",".join(task_ids)))
        expect(resp.body.total_count == 3, f"expected 3 entries, got {resp.body.total_count}")
        types = sorted({t.object_type for t in resp.body.tasks})
        expect(types == ["file", "preload"], f"object types {types}")
        return f"{resp.body.total_count} entries, types {types}"

    def quota():
        body = client().describe_refresh_quota(cdn.DescribeRefreshQuotaRequest()).body
        expect(body.url_quota and body.url_remain and body.preload_remain, f"body {body}")
        expect(int(body.url_remain) <= int(body.url_quota), "UrlRemain > UrlQuota")
        return f"UrlRemain {body.url_remain}/{body.url_quota}"

    def tasks():
        body = client().describe_refresh_tasks(cdn.DescribeRefreshTasksRequest(page_size=5)).body
        expect(body.tasks is not None and body.tasks.cdntask, f"body {body}")
        expect(body.page_size == 5 and body.total_count >= len(body.tasks.cdntask), f"paging {body}")
        return f"{len(body.tasks.cdntask)} of {body.total_count}"

    def wrong_secret():
        try:
            client(secret + "-wrong").describe_refresh_quota(cdn.DescribeRefreshQuotaRequest())
        except ClientException as exc:
            expect(exc.code == "SignatureDoesNotMatch", f"code {exc.code}")
            expect(exc.status_code == 400, f"status {exc.status_code}")
            expect("server string to sign is:" in exc.message, f"message {exc.message}")
            return "SignatureDoesNotMatch (HTTP 400) with the server's string to sign"
        raise AssertionError("a wrong secret was accepted")

    check(f"current {label} RefreshObjectCaches", refresh)
    check(f"current {label} RefreshObjectCaches Directory", directory)
    check(f"current {label} PushObjectCache", push)
    check(f"current {label} DescribeRefreshTaskById", describe)
    check(f"current {label} DescribeRefreshQuota", quota)
    check(f"current {label} DescribeRefreshTasks", tasks)
    check(f"current {label} wrong secret -> SignatureDoesNotMatch", wrong_secret)


# ------------------------------------------------------------------ STS credentials
def sts_checks(hostport, sts):
    """STS: V1 carries the token as SecurityToken, V3 as x-acs-security-token (signed)."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.auth.credentials import StsTokenCredential
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcdn.request.v20180510.DescribeRefreshQuotaRequest import DescribeRefreshQuotaRequest
    from alibabacloud_cdn20180510 import models as cdn
    from alibabacloud_cdn20180510.client import Client
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.utils_models import Config

    key_id, secret, token = sts.split(":", 2)
    mismatch = "InvalidSecurityToken.MismatchWithAccessKey"

    def legacy(tok):
        client = AcsClient(region_id="cn-hangzhou", credential=StsTokenCredential(key_id, secret, tok), auto_retry=False)
        req = DescribeRefreshQuotaRequest()
        req.set_endpoint(hostport)
        req.set_protocol_type("http")
        return json.loads(client.do_action_with_exception(req))

    def current(tok, algorithm):
        config = Config(access_key_id=key_id, access_key_secret=secret, security_token=tok, endpoint=hostport, protocol="http")
        if algorithm:
            config.signature_algorithm = algorithm
        return Client(config).describe_refresh_quota(cdn.DescribeRefreshQuotaRequest()).body

    def legacy_ok():
        expect(legacy(token).get("UrlQuota"), "no UrlQuota")

    def legacy_wrong():
        try:
            legacy(token + "-wrong")
        except ServerException as exc:
            expect(exc.get_error_code() == mismatch, f"code {exc.get_error_code()}")
            return mismatch
        raise AssertionError("a wrong security token was accepted")

    def current_ok(algorithm):
        return lambda: expect(current(token, algorithm).url_quota, "no UrlQuota")

    def current_wrong(algorithm):
        def run():
            try:
                current(token + "-wrong", algorithm)
            except ClientException as exc:
                expect(exc.code == mismatch, f"code {exc.code}")
                return mismatch
            raise AssertionError("a wrong security token was accepted")

        return run

    check("STS legacy V1 DescribeRefreshQuota", legacy_ok)
    check("STS legacy V1 wrong token", legacy_wrong)
    for algorithm, label in ((None, "V3"), ("v2", "signature_algorithm='v2' (V1)")):
        check(f"STS current {label} DescribeRefreshQuota", current_ok(algorithm))
        check(f"STS current {label} wrong token", current_wrong(algorithm))


def main():
    args = sys.argv[1:]
    url = args[0] if len(args) > 0 else os.environ.get("EMULATOR_URL")
    key_id = args[1] if len(args) > 1 else os.environ.get("ALIYUN_KEY_ID", "testid")
    secret = args[2] if len(args) > 2 else os.environ.get("ALIYUN_KEY_SECRET", "testsecret")
    if not url:
        print(__doc__, file=sys.stderr)
        return 2
    hostport = urlparse(url).netloc
    print(f"emulator {url}, access key id {key_id}")
    legacy_checks(hostport, key_id, secret)
    current_checks(hostport, key_id, secret, None)
    current_checks(hostport, key_id, secret, "v2")
    sts = os.environ.get("ALIYUN_STS_KEY")
    if sts:
        sts_checks(hostport, sts)
    else:
        print("skip  STS checks (set ALIYUN_STS_KEY=ID:SECRET:TOKEN, a key the emulator was given)")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
