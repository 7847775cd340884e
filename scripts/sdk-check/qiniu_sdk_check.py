#!/usr/bin/env python3
"""Drive a running cdn-refresh emulator with the OFFICIAL Qiniu Python SDK (`qiniu`).

The SDK is an independent implementation of the QBox and Qiniu tokens and of the fusion
CDN wire format, so if it can talk to the emulator (and fails where the real service
would), the emulator verifies what the real service verifies.

`CdnManager` covers refresh and prefetch (QBox token); it has no list calls, so those go
through the SDK's own signed-post helpers, once with the QBox token (`Auth`) and once with
the newer Qiniu token (`QiniuMacAuth`, which adds a signed `X-Qiniu-Date`).

Usage: qiniu_sdk_check.py [URL [ACCESS_KEY [SECRET_KEY]]]
       (or EMULATOR_URL, QINIU_ACCESS_KEY, QINIU_SECRET_KEY; defaults: testak / testsk)
Prints one line per check and a last line "N passed, M failed"; exits non-zero when any
check fails.
"""

import json
import os
import sys
import uuid

from checks import check, expect, summary


def unique_url(tag, host="example.com"):
    # Unique paths so that reruns against the same emulator never collide (400037).
    return f"http://{host}/sdk-check/qiniu-{tag}-{uuid.uuid4().hex[:8]}.js"


def unique_dir(tag, host="www.example.com"):
    return f"https://{host}/sdk-check/qiniu-{tag}-{uuid.uuid4().hex[:8]}/"


def qiniu_checks(url, access_key, secret_key):
    from qiniu import Auth, CdnManager, QiniuMacAuth
    from qiniu import http as qhttp

    def manager(sk=secret_key):
        cdn = CdnManager(Auth(access_key, sk))
        cdn.server = url  # the documented knob: every CdnManager call posts to self.server
        return cdn

    def succeeded(ret, info, what):
        expect(info.status_code == 200, f"{what}: HTTP {info.status_code}: {info.text_body}")
        expect(info.req_id, f"{what}: no X-Reqid header")
        expect(ret is not None, f"{what}: the SDK dropped the body: {info}")
        expect(ret.get("code") == 200 and ret.get("error") == "success", f"{what}: {ret}")
        expect(len(ret.get("requestId", "")) == 24, f"{what}: requestId {ret.get('requestId')!r}")
        return ret

    request_ids = {}

    def refresh_urls():
        urls = [unique_url("refresh"), unique_url("refresh")]
        ret = succeeded(*manager().refresh_urls(urls), "refresh_urls")
        expect(sorted(ret.get("taskIds", {})) == sorted(urls), f"taskIds {ret.get('taskIds')}")
        expect(ret.get("invalidUrls") is None and ret.get("invalidDirs") is None, f"{ret}")
        for field in ("urlQuotaDay", "urlSurplusDay", "dirQuotaDay", "dirSurplusDay"):
            expect(isinstance(ret.get(field), int), f"{field} missing in {ret}")
        request_ids["refresh"] = ret["requestId"]
        return f"request {ret['requestId']}, URLs left {ret['urlSurplusDay']}/{ret['urlQuotaDay']}"

    def refresh_dirs():
        ret = succeeded(*manager().refresh_dirs([unique_dir("dir")]), "refresh_dirs")
        return f"dirs left {ret['dirSurplusDay']}/{ret['dirQuotaDay']}"

    def refresh_urls_and_dirs():
        ret = succeeded(
            *manager().refresh_urls_and_dirs([unique_url("both")], [unique_dir("both")]),
            "refresh_urls_and_dirs",
        )
        expect(len(ret.get("taskIds", {})) == 2, f"taskIds {ret.get('taskIds')}")
        return f"{len(ret['taskIds'])} tasks"

    def prefetch_urls():
        ret = succeeded(*manager().prefetch_urls([unique_url("prefetch", "static.example.com")]), "prefetch_urls")
        expect(isinstance(ret.get("quotaDay"), int) and isinstance(ret.get("surplusDay"), int), f"{ret}")
        request_ids["prefetch"] = ret["requestId"]
        return f"prefetch left {ret['surplusDay']}/{ret['quotaDay']}"

    def post_qbox(path, body):
        # The SDK's own QBox-signed JSON post, the one CdnManager uses.
        return qhttp._post_with_auth_and_headers(
            url + path, json.dumps(body), Auth(access_key, secret_key), {"Content-Type": "application/json"}
        )

    def post_qiniu(path, body, sk=secret_key):
        # The SDK's Qiniu-token post: signs method, path, host, content type, X-Qiniu-Date, body.
        auth = QiniuMacAuth(access_key, sk, disable_qiniu_timestamp_signature=False)
        return qhttp._post_with_qiniu_mac_and_headers(
            url + path, json.dumps(body), auth, {"Content-Type": "application/json"}
        )

    def refresh_list():
        expect("refresh" in request_ids, "no request id from refresh_urls")
        ret = succeeded(
            *post_qbox("/v2/tune/refresh/list", {"requestId": request_ids["refresh"], "pageSize": 10}),
            "refresh/list",
        )
        items = ret.get("items") or []
        expect(ret.get("total") == 2 and len(items) == 2, f"{ret}")
        expect({i["state"] for i in items} <= {"processing", "success"}, f"{items}")
        expect(all(i.get("isDir") == "no" and i.get("taskId") for i in items), f"{items}")
        return f"{ret['total']} items, states {sorted({i['state'] for i in items})}"

    def prefetch_list_qiniu_token():
        expect("prefetch" in request_ids, "no request id from prefetch_urls")
        ret = succeeded(
            *post_qiniu("/v2/tune/prefetch/list", {"requestId": request_ids["prefetch"]}),
            "prefetch/list",
        )
        expect(ret.get("total") == 1, f"{ret}")
        return "Qiniu token with X-Qiniu-Date accepted"

    def refresh_qiniu_token():
        ret = succeeded(*post_qiniu("/v2/tune/refresh", {"urls": [unique_url("mac")]}), "refresh")
        return f"request {ret['requestId']}"

    def unknown_request_id():
        ret, info = post_qbox("/v2/tune/refresh/list", {"requestId": "0" * 24})
        expect(ret is None and info.status_code == 400, f"HTTP {info.status_code}: {info.text_body}")
        body = json.loads(info.text_body)
        expect(body.get("code") == 400036, f"body {body}")
        return "400036 invalid request id (HTTP 400)"

    def unknown_domain():
        ret, info = manager().refresh_urls(["http://not-mine.example.org/a.js"])
        expect(ret is None and info.status_code == 400, f"HTTP {info.status_code}: {info.text_body}")
        body = json.loads(info.text_body)
        expect(body.get("code") == 400032 and body.get("error") == "invalid host", f"body {body}")
        expect(body.get("invalidUrls") == ["http://not-mine.example.org/a.js"], f"body {body}")
        return "400032 invalid host (HTTP 400), URL named"

    def wrong_secret_qbox():
        ret, info = manager(secret_key + "-wrong").refresh_urls([unique_url("wrong")])
        expect(ret is None, f"a wrong secret was accepted: {ret}")
        expect(info.status_code == 401, f"HTTP {info.status_code}: {info.text_body}")
        expect(json.loads(info.text_body) == {"error": "bad token"}, f"body {info.text_body}")
        return "401 bad token"

    def wrong_secret_qiniu_token():
        ret, info = post_qiniu("/v2/tune/prefetch", {"urls": [unique_url("wrong")]}, sk=secret_key + "-wrong")
        expect(ret is None and info.status_code == 401, f"HTTP {info.status_code}: {info.text_body}")
        return "401 bad token"

    check("qiniu CdnManager.refresh_urls", refresh_urls)
    check("qiniu CdnManager.refresh_dirs", refresh_dirs)
    check("qiniu CdnManager.refresh_urls_and_dirs", refresh_urls_and_dirs)
    check("qiniu CdnManager.prefetch_urls", prefetch_urls)
    check("qiniu QBox /v2/tune/refresh/list", refresh_list)
    check("qiniu Qiniu-token /v2/tune/prefetch/list", prefetch_list_qiniu_token)
    check("qiniu Qiniu-token /v2/tune/refresh", refresh_qiniu_token)
    check("qiniu unknown request id -> 400036", unknown_request_id)
    check("qiniu unknown domain -> 400032", unknown_domain)
    check("qiniu wrong secret (QBox) -> 401 bad token", wrong_secret_qbox)
    check("qiniu wrong secret (Qiniu token) -> 401 bad token", wrong_secret_qiniu_token)


def main():
    args = sys.argv[1:]
    url = args[0] if len(args) > 0 else os.environ.get("EMULATOR_URL")
    access_key = args[1] if len(args) > 1 else os.environ.get("QINIU_ACCESS_KEY", "testak")
    secret_key = args[2] if len(args) > 2 else os.environ.get("QINIU_SECRET_KEY", "testsk")
    if not url:
        print(__doc__, file=sys.stderr)
        return 2
    url = url.rstrip("/")
    print(f"emulator {url}, Qiniu access key {access_key}")
    qiniu_checks(url, access_key, secret_key)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
