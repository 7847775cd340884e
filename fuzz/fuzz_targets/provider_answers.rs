//! Provider answers: the first byte picks the answer type (submit, status and quota answers of
//! Alibaba Cloud, Qiniu and Huawei Cloud), the next two the HTTP status (mostly one the parsers
//! branch on), the rest is the body, read by that provider's `api::parse`. The body also goes
//! through each `classify` (its first line as the code) and `aliyun::api::split_task_ids`.
#![no_main]

#[path = "../../tests/parser_checks/mod.rs"]
mod parser_checks;

use libfuzzer_sys::fuzz_target;
use parser_checks::*;

const STATUSES: [u16; 16] = [
    200, 200, 201, 204, 299, 300, 400, 401, 403, 404, 429, 500, 503, 0, 100, 65535,
];

fuzz_target!(|data: &[u8]| {
    let [kind, high, low, body @ ..] = data else {
        return;
    };
    let answer = Answer::ALL[usize::from(*kind) % Answer::ALL.len()];
    let status = if high & 0x80 == 0 {
        STATUSES[usize::from(low & 15)]
    } else {
        u16::from_be_bytes([high & 0x7f, *low])
    };
    let body = String::from_utf8_lossy(body);
    check_answer(answer, status, &body);
    let (code, message) = body.split_once('\n').unwrap_or((&body, ""));
    check_classify(status, code, message);
    check_split_task_ids(&body);
});
