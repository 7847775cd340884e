#!/usr/bin/env python3
"""Drive a running cdn-refresh emulator with the OFFICIAL Huawei Cloud Python SDK
(`huaweicloudsdkcdn` + `huaweicloudsdkcore`).

The SDK is an independent implementation of SDK-HMAC-SHA256 signing (it signs every header
it sends, X-Domain-Id and X-Security-Token included) and of the CDN wire format (the v2
models, `/v1.0/cdn/...` paths, nested `error` bodies), so if it can talk to the emulator,
and fails where the real service would, the emulator verifies what the real service
verifies.

`GlobalCredentials` gets an explicit domain id, otherwise the SDK would first ask IAM for
one. The endpoint is the emulator's http URL (`with_endpoints`).

Usage: huawei_sdk_check.py [URL [ACCESS_KEY [SECRET_KEY]]]
       (or EMULATOR_URL, HUAWEI_ACCESS_KEY, HUAWEI_SECRET_KEY; defaults: HWTESTAK / HWTESTSK)
       HUAWEI_STS_KEY=AK:SK:TOKEN adds the checks of a temporary key (X-Security-Token).
Prints one line per check and a last line "N passed, M failed"; exits non-zero when any
check fails.
"""

import json
import os
import sys
import time
import uuid

from checks import check, expect, summary


# Any 32-hex id: given explicitly so that the SDK does not call IAM to look it up.
DOMAIN_ID = "0d6f3c8e2b9a4c7e8f1a5b3d9c2e7f40"


def unique_url(tag, host="example.com"):
    # Unique paths so that reruns against the same emulator never mix up tasks.
    return f"https://{host}/sdk-check/huawei-{tag}-{uuid.uuid4().hex[:8]}.js"


def unique_dir(tag, host="www.example.com"):
    return f"http://{host}/sdk-check/huawei-{tag}-{uuid.uuid4().hex[:8]}/"


def huawei_checks(url, access_key, secret_key, sts_key):
    from huaweicloudsdkcore.auth.credentials import GlobalCredentials
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkcdn.v2 import (
        CdnClient,
        CreatePreheatingTasksRequest,
        CreateRefreshTasksRequest,
        PreheatingTaskRequest,
        PreheatingTaskRequestBody,
        RefreshTaskRequest,
        RefreshTaskRequestBody,
        ShowHistoryTaskDetailsRequest,
        ShowHistoryTasksRequest,
        ShowQuotaRequest,
        ShowUrlTaskInfoRequest,
    )

    def client(ak=access_key, sk=secret_key, token=None):
        credentials = GlobalCredentials(ak, sk, DOMAIN_ID)
        if token:
            credentials = credentials.with_security_token(token)
        return CdnClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()

    def refresh(urls, kind="file", mode=None, zh=None, c=None):
        body = RefreshTaskRequestBody(type=kind, mode=mode, zh_url_encode=zh, urls=urls)
        return (c or client()).create_refresh_tasks(CreateRefreshTasksRequest(body=RefreshTaskRequest(refresh_task=body)))

    def preheat(urls, c=None):
        body = PreheatingTaskRequestBody(urls=urls)
        return (c or client()).create_preheating_tasks(
            CreatePreheatingTasksRequest(body=PreheatingTaskRequest(preheating_task=body))
        )

    def task_id(value, what):
        # Digits: ShowUrlTaskInfo carries the same id as a number (a Long in the SDK's model).
        expect(isinstance(value, str) and value.isdigit(), f"{what}: task id {value!r}")
        return value

    def raises(fn, status, code, message_part=None):
        try:
            ret = fn()
        except ClientRequestException as exc:
            expect(exc.status_code == status, f"HTTP {exc.status_code}, expected {status}: {exc}")
            expect(exc.error_code == code, f"error_code {exc.error_code}, expected {code}: {exc}")
            expect(exc.request_id, f"no request id: {exc}")
            if message_part:
                expect(message_part in (exc.error_msg or ""), f"error_msg {exc.error_msg!r}")
            return f"{code} (HTTP {status})"
        raise AssertionError(f"no ClientRequestException, got {ret}")

    def error_in_200(ret, code):
        # The CDN service answers its business errors with HTTP 200 and a nested error
        # body: the SDK raises nothing and fills no field, only the raw body tells.
        expect(ret.status_code == 200, f"HTTP {ret.status_code}")
        body = json.loads(ret.raw_content)
        expect(body.get("error", {}).get("error_code") == code, f"body {body}")
        return body

    tasks = {}
    file_urls = [unique_url("refresh"), unique_url("refresh", "static.example.com")]

    def create_refresh_file():
        ret = refresh(file_urls)
        tasks["file"] = task_id(ret.refresh_task, "refresh")
        expect(ret.x_request_id and len(ret.x_request_id) == 32, f"X-Request-Id {ret.x_request_id!r}")
        return f"task {ret.refresh_task}"

    def create_refresh_directory():
        ret = refresh([unique_dir("dir")], kind="directory", mode="detect_modify_refresh")
        tasks["dir"] = task_id(ret.refresh_task, "directory refresh")
        return f"task {ret.refresh_task}"

    def create_refresh_zh():
        ret = refresh([f"https://example.com/sdk-check/中文-{uuid.uuid4().hex[:6]}.js?v=1"], zh=True)
        task_id(ret.refresh_task, "zh_url_encode refresh")
        return "a URL with Chinese characters (signed and sent by the SDK)"

    def create_preheat():
        ret = preheat([unique_url("preheat", "www.example.com")])
        tasks["preheat"] = task_id(ret.preheating_task, "preheat")
        return f"task {ret.preheating_task}"

    def detail_until_done():
        expect("file" in tasks, "no task from create_refresh_tasks")
        deadline = time.monotonic() + 20
        while True:
            ret = client().show_history_task_details(
                ShowHistoryTaskDetailsRequest(history_tasks_id=tasks["file"], page_size=10, page_number=1)
            )
            expect(ret.id == tasks["file"], f"id {ret.id}")
            expect(ret.total == 2 and len(ret.urls) == 2, f"{ret}")
            expect(sorted(u.url for u in ret.urls) == sorted(file_urls), f"urls {[u.url for u in ret.urls]}")
            if ret.status == "task_done":
                break
            expect(ret.status == "task_inprocess", f"status {ret.status}")
            expect(time.monotonic() < deadline, f"not done after 20 s: {ret}")
            time.sleep(0.2)
        expect(ret.succeed == 2 and ret.failed == 0 and ret.processing == 0, f"{ret}")
        expect(all(u.status == "succeed" and u.task_type == "REFRESH" for u in ret.urls), f"{ret.urls}")
        expect(ret.task_type == "refresh" and ret.file_type == "file", f"{ret}")
        return f"{ret.total} URLs succeed"

    def detail_filtered_by_url():
        ret = client().show_history_task_details(
            ShowHistoryTaskDetailsRequest(history_tasks_id=tasks["file"], url=file_urls[1])
        )
        expect([u.url for u in ret.urls] == [file_urls[1]], f"{ret.urls}")
        return "url query parameter (encoded and signed by the SDK)"

    def history_tasks():
        ret = client().show_history_tasks(
            ShowHistoryTasksRequest(page_size=100, page_number=1, task_type="refresh", file_type="file")
        )
        ids = [t.id for t in ret.tasks]
        expect(tasks["file"] in ids, f"{tasks['file']} not in {ids}")
        expect(ret.total >= 1 and all(t.task_type == "refresh" for t in ret.tasks), f"{ret}")
        dirs = client().show_history_tasks(ShowHistoryTasksRequest(file_type="directory"))
        expect(tasks["dir"] in [t.id for t in dirs.tasks], f"{dirs}")
        heats = client().show_history_tasks(ShowHistoryTasksRequest(task_type="preheating"))
        expect(tasks["preheat"] in [t.id for t in heats.tasks], f"{heats}")
        return f"{ret.total} refresh tasks listed"

    def quota_counts():
        def used():
            ret = client().show_quota(ShowQuotaRequest())
            by_type = {q.type: q for q in ret.quotas}
            for name in ("file_refresh", "dir_refresh", "preheat"):
                expect(name in by_type, f"no {name} quota in {ret}")
                expect(by_type[name].user_domain_id, f"no user_domain_id in {by_type[name]}")
            return {name: (q.used, q.quota_limit) for name, q in by_type.items()}

        before = used()
        refresh([unique_url("quota"), unique_url("quota")])
        after = used()
        expect(after["file_refresh"][0] == before["file_refresh"][0] + 2, f"{before} -> {after}")
        expect(after["dir_refresh"] == before["dir_refresh"], f"{before} -> {after}")
        return f"file_refresh used {after['file_refresh'][0]}/{after['file_refresh'][1]}, types {sorted(after)}"

    def url_task_info_by_url():
        # The lookup after a lost answer: which task took this URL? The SDK's `Urls` model
        # reads `task_id` (and `id`) as integers: the create call's id, as a number.
        target = unique_url("lookup")
        created = refresh([target]).refresh_task
        ret = client().show_url_task_info(ShowUrlTaskInfoRequest(url=target, task_type="REFRESH"))
        expect(ret.total == 1 and ret.count == 1 and len(ret.result) == 1, f"{ret}")
        row = ret.result[0]
        expect(row.task_id == int(created), f"task_id {row.task_id!r}, created {created!r}")
        expect(isinstance(row.id, int), f"id {row.id!r}")
        expect(row.url == target and row.type == "REFRESH", f"{row}")
        expect(row.file_type == "file" and row.mode == "all", f"{row}")
        expect(row.status in ("waiting", "refreshing", "succeed"), f"status {row.status}")
        expect(row.create_time > 1_600_000_000_000 and row.modify_time >= row.create_time, f"{row}")
        return f"task {row.task_id} found by its URL"

    def url_task_info_in_range():
        target = unique_url("lookup-heat", "www.example.com")
        created = preheat([target]).preheating_task
        now = int(time.time() * 1000)
        ret = client().show_url_task_info(
            ShowUrlTaskInfoRequest(
                start_time=now - 3_600_000, end_time=now + 3_600_000, url=target, offset=0, limit=100
            )
        )
        expect([(r.task_id, r.type) for r in ret.result] == [(int(created), "PREHEATING")], f"{ret}")
        later = client().show_url_task_info(
            ShowUrlTaskInfoRequest(start_time=now + 3_600_000, end_time=now + 7_200_000, url=target)
        )
        expect(later.total == 0 and later.result == [], f"{later}")
        return "start_time/end_time, task_type PREHEATING"

    def url_task_info_span_over_a_day():
        now = int(time.time() * 1000)
        return raises(
            lambda: client().show_url_task_info(
                ShowUrlTaskInfoRequest(start_time=now - 86_400_001, end_time=now)
            ),
            400,
            "CDN.0001",
        )

    def wrong_secret():
        return raises(
            lambda: refresh([unique_url("wrong")], c=client(sk=secret_key + "-wrong")),
            401,
            "APIGW.0301",
            "verify aksk signature fail",
        )

    def unknown_access_key():
        return raises(
            lambda: client(ak="NOBODY" + uuid.uuid4().hex[:6].upper()).show_quota(ShowQuotaRequest()),
            401,
            "APIGW.0301",
            "err:ak not exist",
        )

    def too_many_urls():
        urls = [f"https://example.com/sdk-check/many/{i}.js" for i in range(1001)]
        return raises(lambda: refresh(urls), 400, "CDN.0001")

    def index_page_preheat():
        # A URL ending with / is a page (a folder's index), not a directory: it is preheated.
        ret = preheat([unique_dir("heat")])
        return task_id(ret.preheating_task, "preheat of an index page")

    def foreign_domain():
        ret = refresh(["https://not-mine.example.org/a.js"])
        expect(ret.refresh_task is None, f"a task for a foreign domain: {ret}")
        error_in_200(ret, "CDN.0108")
        return "CDN.0108 with HTTP 200: the SDK raises nothing"

    def unknown_task():
        ret = client().show_history_task_details(
            ShowHistoryTaskDetailsRequest(history_tasks_id="ff8080" + "0" * 26)
        )
        expect(ret.id is None and ret.urls is None, f"{ret}")
        error_in_200(ret, "CDN.0108")
        return "CDN.0108 with HTTP 200"

    check("huawei CreateRefreshTasks (file)", create_refresh_file)
    check("huawei CreateRefreshTasks (directory, detect_modify_refresh)", create_refresh_directory)
    check("huawei CreateRefreshTasks (zh_url_encode)", create_refresh_zh)
    check("huawei CreatePreheatingTasks", create_preheat)
    check("huawei ShowHistoryTaskDetails until task_done", detail_until_done)
    check("huawei ShowHistoryTaskDetails filtered by url", detail_filtered_by_url)
    check("huawei ShowHistoryTasks (task_type, file_type, paging)", history_tasks)
    check("huawei ShowQuota counts per URL", quota_counts)
    check("huawei ShowUrlTaskInfo finds a refresh by its URL", url_task_info_by_url)
    check("huawei ShowUrlTaskInfo in a time range", url_task_info_in_range)
    check("huawei ShowUrlTaskInfo over 24 hours -> 400 CDN.0001", url_task_info_span_over_a_day)
    check("huawei wrong secret -> 401 APIGW.0301", wrong_secret)
    check("huawei unknown access key -> 401 APIGW.0301", unknown_access_key)
    check("huawei 1,001 URLs -> 400 CDN.0001", too_many_urls)
    check("huawei CreatePreheatingTasks (index page ending with /)", index_page_preheat)
    check("huawei foreign domain -> 200 CDN.0108", foreign_domain)
    check("huawei unknown task id -> 200 CDN.0108", unknown_task)

    if sts_key:
        sts_ak, sts_sk, sts_token = sts_key.split(":", 2)

        def temporary_key():
            ret = refresh([unique_url("sts")], c=client(sts_ak, sts_sk, sts_token))
            task_id(ret.refresh_task, "temporary key refresh")
            return "X-Security-Token signed by the SDK and accepted"

        def temporary_key_without_token():
            return raises(
                lambda: refresh([unique_url("sts")], c=client(sts_ak, sts_sk)),
                401,
                "APIGW.0301",
            )

        check("huawei temporary key with X-Security-Token", temporary_key)
        check("huawei temporary key without its token -> 401 APIGW.0301", temporary_key_without_token)


def main():
    args = sys.argv[1:]
    url = args[0] if len(args) > 0 else os.environ.get("EMULATOR_URL")
    access_key = args[1] if len(args) > 1 else os.environ.get("HUAWEI_ACCESS_KEY", "HWTESTAK")
    secret_key = args[2] if len(args) > 2 else os.environ.get("HUAWEI_SECRET_KEY", "HWTESTSK")
    sts_key = os.environ.get("HUAWEI_STS_KEY")
    if not url:
        print(__doc__, file=sys.stderr)
        return 2
    url = url.rstrip("/")
    print(f"emulator {url}, Huawei access key {access_key}")
    huawei_checks(url, access_key, secret_key, sts_key)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
