//! Qiniu signing against the official vectors kept in `tests/fixtures/signing/qiniu/`.
//! Every stage a vector gives (the signed part of the URL, the data signed, the HMAC, the
//! token, the `Authorization` header) is asserted on its own, so a failure names the stage
//! that broke.

use cdn_refresh::providers::qiniu::sign::*;

mod vectors;
use vectors::{pairs, s};

fn text(data: Vec<u8>) -> String {
    String::from_utf8(data).expect("vectors are UTF-8")
}

#[test]
fn qbox_token_primitive_vectors() {
    let f = vectors::fixture("qiniu", "qbox.json");
    for case in f["token"].as_array().unwrap() {
        let name = s(case, "name");
        assert_eq!(
            token(
                s(case, "access_key"),
                s(case, "secret_key").as_bytes(),
                s(case, "data").as_bytes()
            ),
            s(case, "token"),
            "{name}"
        );
    }
    // `token_with_data` is `AK:sign(b64(data)):b64(data)`: built from the same primitives.
    for case in f["token_with_data"].as_array().unwrap() {
        let encoded = urlsafe_base64(s(case, "data").as_bytes());
        assert_eq!(encoded, s(case, "encoded_data"));
        let signed = token(
            s(case, "access_key"),
            s(case, "secret_key").as_bytes(),
            encoded.as_bytes(),
        );
        assert_eq!(format!("{signed}:{encoded}"), s(case, "token"));
    }
}

#[test]
fn qbox_request_vectors_every_stage() {
    let f = vectors::fixture("qiniu", "qbox.json");
    let cases = f["requests"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = s(case, "name");
        let (ak, sk) = (s(case, "access_key"), s(case, "secret_key").as_bytes());
        let pq = path_and_query(s(case, "url"));
        assert_eq!(pq, s(case, "path_and_query"), "path and query: {name}");
        let content_type = case["content_type"].as_str();
        let body = s(case, "body").as_bytes();
        let data = qbox_signing_data(pq, content_type, body);
        assert_eq!(
            text(data.clone()),
            s(case, "signing_data"),
            "signing data: {name}"
        );
        if let Some(hex) = case["hmac_sha1_hex"].as_str() {
            assert_eq!(hex::encode(hmac_sha1(sk, &data)), hex, "HMAC: {name}");
        }
        let tok = qbox_token(ak, sk, pq, content_type, body);
        assert_eq!(tok, s(case, "token"), "token: {name}");
        assert_eq!(tok, token(ak, sk, &data), "token from data: {name}");
        let header = authorization(Scheme::QBox, &tok);
        assert_eq!(header, s(case, "authorization"), "header: {name}");
        let parsed = parse_authorization(&header).expect("parses");
        assert_eq!(
            (parsed.scheme, parsed.access_key, parsed.sign),
            (Scheme::QBox, ak, tok.split_once(':').unwrap().1),
            "parsed header: {name}"
        );
    }
}

#[test]
fn qbox_fusion_tokens_ignore_json_bodies() {
    // With JSON (every fusion call) the body is not signed: one token per path.
    let f = vectors::fixture("qiniu", "qbox.json");
    for case in f["requests"].as_array().unwrap() {
        if case["content_type"] != "application/json" {
            continue;
        }
        let pq = s(case, "path_and_query");
        let other = qbox_token(
            s(case, "access_key"),
            s(case, "secret_key").as_bytes(),
            pq,
            Some("application/json"),
            b"{\"urls\":[\"http://other.example.com/x\"]}",
        );
        assert_eq!(other, s(case, "token"), "{pq}");
        assert_eq!(
            qbox_token(
                s(case, "access_key"),
                s(case, "secret_key").as_bytes(),
                pq,
                None,
                b""
            ),
            s(case, "token")
        );
    }
}

#[test]
fn qiniu_request_vectors_every_stage() {
    let f = vectors::fixture("qiniu", "qiniu.json");
    let cases = f["requests"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    for case in cases {
        let name = s(case, "name");
        let (ak, sk) = (s(case, "access_key"), s(case, "secret_key").as_bytes());
        let pq = path_and_query(s(case, "url"));
        assert_eq!(pq, s(case, "path_and_query"), "path and query: {name}");
        let headers = pairs(&case["headers"]);
        let req = QiniuRequest {
            method: s(case, "method"),
            path_and_query: pq,
            host: s(case, "host"),
            content_type: case["content_type"].as_str(),
            headers: &headers,
            body: s(case, "body").as_bytes(),
        };
        let data = qiniu_signing_data(&req);
        assert_eq!(
            text(data.clone()),
            s(case, "signing_data"),
            "signing data: {name}"
        );
        let tok = qiniu_token(ak, sk, &req);
        assert_eq!(tok, s(case, "token"), "token: {name}");
        assert_eq!(tok, token(ak, sk, &data), "token from data: {name}");
        let header = authorization(Scheme::Qiniu, &tok);
        assert_eq!(header, s(case, "authorization"), "header: {name}");
        let parsed = parse_authorization(&header).expect("parses");
        assert_eq!(
            (parsed.scheme, parsed.access_key),
            (Scheme::Qiniu, ak),
            "{name}"
        );
    }
}

#[test]
fn qiniu_headers_are_canonicalised_before_sorting() {
    // The server sees lower-case names (HTTP/2, or any proxy): the token must not change.
    let f = vectors::fixture("qiniu", "qiniu.json");
    let case = f["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| s(c, "name").contains("case 9"))
        .unwrap();
    let lower: Vec<(String, String)> = pairs(&case["headers"])
        .into_iter()
        .rev()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let req = QiniuRequest {
        method: s(case, "method"),
        path_and_query: s(case, "path_and_query"),
        host: s(case, "host"),
        content_type: case["content_type"].as_str(),
        headers: &lower,
        body: s(case, "body").as_bytes(),
    };
    assert_eq!(text(qiniu_signing_data(&req)), s(case, "signing_data"));
    assert_eq!(qiniu_token("ak", b"sk", &req), s(case, "token"));
}

#[test]
fn qiniu_body_rules() {
    let headers = vec![];
    let mut req = QiniuRequest {
        method: "POST",
        path_and_query: "/v2/tune/refresh",
        host: "fusion.qiniuapi.com",
        content_type: None,
        headers: &headers,
        body: b"{}",
    };
    // No content type: neither its line nor the body.
    assert_eq!(
        text(qiniu_signing_data(&req)),
        "POST /v2/tune/refresh\nHost: fusion.qiniuapi.com\n\n"
    );
    req.content_type = Some("application/octet-stream");
    assert_eq!(
        text(qiniu_signing_data(&req)),
        "POST /v2/tune/refresh\nHost: fusion.qiniuapi.com\nContent-Type: application/octet-stream\n\n"
    );
    req.content_type = Some("application/json");
    assert!(text(qiniu_signing_data(&req)).ends_with("application/json\n\n{}"));
}
