//! Huawei Cloud SDK-HMAC-SHA256 signing against the vectors kept in
//! `tests/fixtures/signing/huawei/`: `official.json` (the API signing guide's example and the
//! Java SDK's `AKSKSignerTest` cases) and `derived.json` (CDN request shapes and the encoding
//! and payload rules, computed with the official Python signer). Every stage is asserted on
//! its own (canonical URI, query, headers, request and its hash, string to sign, signature,
//! header), so a failure names the stage that broke; a few properties close the suite.

use cdn_refresh::providers::huawei::sign::*;
use proptest::prelude::*;
use serde_json::Value;

mod vectors;
use vectors::{pairs, s};

/// Signatures as their sources print them, independently of the fixture files, so that a
/// regenerated fixture cannot silently drift from what Huawei published.
const PUBLISHED: &[(&str, &str)] = &[
    (
        "API signing guide",
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
    ),
    (
        "AKSKSignerTest GET with query",
        "fd95e7da6f695cfb4cabbb9d6b0968aec155bc576b064835282473539ae9ea1d",
    ),
    (
        "AKSKSignerTest POST with a JSON body",
        "b5649aa774f6cac7437631662f08815fc65c70e40e486df6db2436ce68902771",
    ),
    (
        "AKSKSignerTest GET /",
        "919ad8b75d4ad49da0d377e63ee21c4a7a54b752f6bf2878b4adbe9c19927da6",
    ),
    (
        "CDN CreateRefreshTasks",
        "f4560cbe5919840a5056811638a12507a55018a27c35d9a6203ddfec7767bf82",
    ),
];

/// Asserts every stage of one vector; returns its name.
fn check_vector(case: &Value) -> String {
    let name = s(case, "name").to_string();
    let (ak, sk) = (s(case, "access_key"), s(case, "secret_key").as_bytes());
    let query = pairs(&case["query"]);
    let headers = pairs(&case["headers"]);
    let req = SigningRequest {
        method: s(case, "method"),
        path: s(case, "path"),
        query: &query,
        headers: &headers,
        body: s(case, "body").as_bytes(),
    };
    let expected_canonical = s(case, "canonical_request");
    let lines: Vec<&str> = expected_canonical.split('\n').collect();
    assert_eq!(canonical_uri(req.path), lines[1], "canonical URI: {name}");
    assert_eq!(canonical_query(&query), lines[2], "canonical query: {name}");
    let (block, signed) = canonical_headers(&headers);
    let header_lines = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let expected_block: String = lines[3..3 + header_lines]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block, expected_block, "canonical headers: {name}");
    assert_eq!(signed, s(case, "signed_headers"), "signed headers: {name}");
    assert_eq!(
        payload_hash(&headers, req.body),
        *lines.last().unwrap(),
        "payload hash: {name}"
    );

    let canonical = canonical_request(&req);
    assert_eq!(canonical, expected_canonical, "canonical request: {name}");
    assert_eq!(
        sha256_hex(canonical.as_bytes()),
        s(case, "canonical_request_sha256"),
        "canonical request hash: {name}"
    );
    let date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(DATE_HEADER))
        .map(|(_, v)| v.as_str())
        .expect("every vector has X-Sdk-Date");
    let sts = string_to_sign(&canonical, date);
    assert_eq!(sts, s(case, "string_to_sign"), "string to sign: {name}");
    let sig = signature(sk, &sts);
    assert_eq!(sig, s(case, "signature"), "signature: {name}");
    let header = authorization(ak, &signed, &sig);
    assert_eq!(header, s(case, "authorization"), "Authorization: {name}");
    assert_eq!(
        authorize(ak, sk, &req).as_deref(),
        Some(header.as_str()),
        "authorize: {name}"
    );

    let parsed = parse_authorization(&header).expect("parses");
    assert_eq!(parsed.access_key, ak, "parsed access key: {name}");
    assert_eq!(
        parsed.signed_headers.join(";"),
        signed,
        "parsed list: {name}"
    );
    assert_eq!(parsed.signature, sig, "parsed signature: {name}");
    for (label, published) in PUBLISHED {
        if name.contains(label) {
            assert_eq!(sig, *published, "published signature: {name}");
        }
    }
    name
}

#[test]
fn official_vectors_every_stage() {
    let f = vectors::fixture("huawei", "official.json");
    let names: Vec<String> = f["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(check_vector)
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // The guide prints the hash of its canonical request too.
    let guide = &f["requests"][0];
    assert_eq!(
        s(guide, "canonical_request_sha256"),
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    );
}

#[test]
fn derived_vectors_every_stage() {
    let f = vectors::fixture("huawei", "derived.json");
    let names: Vec<String> = f["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(check_vector)
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn every_published_signature_is_covered() {
    let mut names = Vec::new();
    for file in ["official.json", "derived.json"] {
        for case in vectors::fixture("huawei", file)["requests"]
            .as_array()
            .unwrap()
        {
            names.push(s(case, "name").to_string());
        }
    }
    for (label, _) in PUBLISHED {
        assert!(
            names.iter().any(|n| n.contains(label)),
            "no vector named like {label:?}"
        );
    }
}

#[test]
fn the_signature_covers_what_the_server_must_check() {
    // Starting from the CDN vector, changing any signed input changes the signature.
    let f = vectors::fixture("huawei", "derived.json");
    let case = &f["requests"][0];
    let query = pairs(&case["query"]);
    let headers = pairs(&case["headers"]);
    let base = SigningRequest {
        method: s(case, "method"),
        path: s(case, "path"),
        query: &query,
        headers: &headers,
        body: s(case, "body").as_bytes(),
    };
    let good = authorize("AccessKey", b"SecretKey", &base).unwrap();
    assert_eq!(good, s(case, "authorization"));
    let other_query = vec![("enterprise_project_id".to_string(), "1".to_string())];
    let mut other_headers = headers.clone();
    other_headers[1].1 = "20240102T030406Z".into();
    let variants = [
        SigningRequest {
            method: "PUT",
            ..base
        },
        SigningRequest {
            path: "/v1.0/cdn/content/preheating-tasks",
            ..base
        },
        SigningRequest {
            query: &other_query,
            ..base
        },
        SigningRequest {
            headers: &other_headers,
            ..base
        },
        SigningRequest {
            body: b"{\"refresh_task\":{\"type\":\"file\",\"urls\":[\"https://www.example.com/b.jpg\"]}}",
            ..base
        },
    ];
    for (i, variant) in variants.iter().enumerate() {
        assert_ne!(
            authorize("AccessKey", b"SecretKey", variant).unwrap(),
            good,
            "variant {i}"
        );
    }
    assert_ne!(authorize("AccessKey", b"OtherKey", &base).unwrap(), good);
    // A trailing slash or not, the canonical URI is the same: the path is not told apart.
    let slash = SigningRequest {
        path: "/v1.0/cdn/content/refresh-tasks/",
        ..base
    };
    assert_eq!(authorize("AccessKey", b"SecretKey", &slash).unwrap(), good);
}

#[test]
fn unsigned_payload_ignores_the_body() {
    let f = vectors::fixture("huawei", "derived.json");
    let case = f["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| s(c, "name").starts_with("UNSIGNED-PAYLOAD"))
        .unwrap();
    let headers = pairs(&case["headers"]);
    let req = |body: &'static [u8]| SigningRequest {
        method: s(case, "method"),
        path: s(case, "path"),
        query: &[],
        headers: &headers,
        body,
    };
    let a = authorize("HWTESTAK", b"HWTESTSK", &req(b"binary data")).unwrap();
    let b = authorize("HWTESTAK", b"HWTESTSK", &req(b"other bytes")).unwrap();
    assert_eq!(a, s(case, "authorization"));
    assert_eq!(a, b);
}

proptest! {
    #[test]
    fn canonical_uri_ends_with_a_slash_and_is_idempotent(path in "(/[a-zA-Z0-9 ~%._*+中-]{0,8}){0,5}/?") {
        let once = canonical_uri(&path);
        prop_assert!(once.ends_with('/'));
        prop_assert!(once.starts_with('/') || !path.starts_with('/'));
        prop_assert_eq!(canonical_uri(&once), once.clone());
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.~/%".contains(c);
        prop_assert!(once.chars().all(allowed), "{}", once);
    }

    #[test]
    fn canonical_query_ignores_the_order_given(
        mut query in proptest::collection::vec(("[a-z_ %&=]{1,6}", "[a-zA-Z0-9 ~*+/?&=中]{0,6}"), 0..6),
        seed in any::<u64>(),
    ) {
        let sorted = canonical_query(&query);
        // A deterministic shuffle driven by the seed.
        let n = query.len();
        if n > 1 {
            let mut x = seed;
            for i in (1..n).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                query.swap(i, (x >> 33) as usize % (i + 1));
            }
        }
        prop_assert_eq!(canonical_query(&query), sorted.clone());
        prop_assert_eq!(sorted.matches('&').count(), n.saturating_sub(1));
    }

    #[test]
    fn authorization_header_round_trips(
        ak in "[A-Za-z0-9]{1,24}",
        headers in proptest::collection::btree_set("[a-z][a-z0-9-]{0,12}", 1..6),
        sig in "[0-9a-f]{64}",
    ) {
        let signed = headers.iter().cloned().collect::<Vec<_>>().join(";");
        let header = authorization(&ak, &signed, &sig);
        let parsed = parse_authorization(&header).expect("parses");
        prop_assert_eq!(parsed.access_key, ak.as_str());
        prop_assert_eq!(parsed.signed_headers.join(";"), signed);
        prop_assert_eq!(parsed.signature, sig.as_str());
    }
}
