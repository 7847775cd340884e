//! AWS SigV4 header signing (`providers::cloudfront::sign`) against the AWS signing test
//! suite kept in `tests/fixtures/signing/aws/` (awslabs/aws-c-auth `aws-signing-test-suite/v4`,
//! Apache-2.0, its LICENSE beside the cases). Every case is a header-signing case a SigV4
//! signer must pass (the `query-*` files of the suite are presigned URLs, which CloudFront
//! calls never use, and are not kept). Each stage is asserted on its own: canonical request,
//! string to sign, signature, the `Authorization` line of the signed request.

use std::path::{Path, PathBuf};

use cdn_refresh::providers::cloudfront::sign::*;
use serde_json::Value;

/// Signatures as the suite publishes them, independently of the fixture files, so that a
/// changed fixture cannot silently drift from the source.
const PUBLISHED: &[(&str, &str)] = &[
    (
        "get-vanilla",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "get-vanilla-with-session-token",
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    ),
    (
        "post-x-www-form-urlencoded",
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    ),
    (
        "get-utf8",
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signing/aws")
}

fn read(case: &Path, file: &str) -> String {
    let path = case.join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request of the suite's `request.txt`: the request line, headers (a line that starts
/// with whitespace continues the header before it), an empty line, the body.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_request(text: &str) -> Request {
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, b),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.split('\n');
    let line = lines.next().unwrap();
    let (method, rest) = line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in lines {
        if l.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a header");
            last.1.push('\n');
            last.1.push_str(l);
        } else {
            let (name, value) = l.split_once(':').unwrap();
            headers.push((name.to_string(), value.to_string()));
        }
    }
    Request {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// Checks every stage of one case; returns its name.
fn check_case(case: &Path) -> String {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let context: Value = serde_json::from_str(&read(case, "context.json")).unwrap();
    let creds = &context["credentials"];
    let (id, secret) = (
        creds["access_key_id"].as_str().unwrap(),
        creds["secret_access_key"].as_str().unwrap(),
    );
    let timestamp = context["timestamp"].as_str().unwrap();
    let amz_date = chrono::DateTime::parse_from_rfc3339(timestamp)
        .unwrap()
        .format(DATE_FORMAT)
        .to_string();
    let mut req = parse_request(&read(case, "request.txt"));
    // What the signer adds before signing: the time, the token (unless the case signs
    // without it and adds it after), the payload hash (cases that sign the body).
    req.headers.push((DATE_HEADER.into(), amz_date.clone()));
    if let Some(token) = creds["token"].as_str()
        && context["omit_session_token"] != true
    {
        req.headers.push((TOKEN_HEADER.into(), token.into()));
    }
    if context["sign_body"] == true {
        req.headers.push((
            CONTENT_SHA256_HEADER.to_ascii_lowercase(),
            sha256_hex(&req.body),
        ));
    }
    let signing = SigningRequest {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        body: &req.body,
    };
    let normalize = context["normalize"] != false;
    let canonical = canonical_request(&signing, normalize);
    assert_eq!(
        canonical,
        read(case, "header-canonical-request.txt"),
        "canonical request: {name}"
    );
    let scope = Scope {
        date: &amz_date[..8],
        region: context["region"].as_str().unwrap(),
        service: context["service"].as_str().unwrap(),
    };
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    assert_eq!(
        sts,
        read(case, "header-string-to-sign.txt"),
        "string to sign: {name}"
    );
    let sig = signature(&signing_key(secret, &scope), &sts);
    assert_eq!(
        sig,
        read(case, "header-signature.txt").trim(),
        "signature: {name}"
    );
    let (_, signed) = canonical_headers(&req.headers);
    let header = authorization(id, &scope, &signed, &sig);
    let signed_request = read(case, "header-signed-request.txt");
    let expected = signed_request
        .lines()
        .find_map(|l| l.strip_prefix("Authorization:"))
        .expect("the signed request has an Authorization line");
    assert_eq!(header, expected, "Authorization: {name}");
    if normalize {
        assert_eq!(
            authorize(id, secret, scope.region, scope.service, &signing).as_deref(),
            Some(expected),
            "authorize: {name}"
        );
    }
    let parsed = parse_authorization(&header).expect("parses");
    assert_eq!(
        (parsed.access_key, parsed.scope, parsed.signature),
        (id, scope, sig.as_str()),
        "parsed: {name}"
    );
    for (published_name, published) in PUBLISHED {
        if name == *published_name {
            assert_eq!(sig, *published, "published signature: {name}");
        }
    }
    name
}

#[test]
fn every_header_signing_case_every_stage() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let names: Vec<String> = cases.iter().map(|c| check_case(c)).collect();
    // The whole suite as kept: a case lost from the fixtures fails here.
    assert_eq!(names.len(), 38, "{names:?}");
    for (published, _) in PUBLISHED {
        assert!(names.iter().any(|n| n == published), "{published}");
    }
    for family in [
        "get-header-value-trim",
        "get-vanilla-query-order-encoded",
        "post-sts-header-before",
    ] {
        assert!(names.iter().any(|n| n == family), "{family}");
    }
}

#[test]
fn the_signature_covers_what_the_server_must_check() {
    let headers = |date: &str, host: &str| {
        vec![
            ("Host".to_string(), host.to_string()),
            (DATE_HEADER.to_string(), date.to_string()),
        ]
    };
    let base_headers = headers("20260101T000000Z", "cloudfront.amazonaws.com");
    let base = SigningRequest {
        method: "POST",
        path: "/2020-05-31/distribution/E1/invalidation",
        query: "",
        headers: &base_headers,
        body: b"<InvalidationBatch/>",
    };
    let sign = |r: &SigningRequest<'_>| authorize("AKID", "secret", "us-east-1", "cloudfront", r);
    let good = sign(&base).unwrap();
    let later = headers("20260101T000001Z", "cloudfront.amazonaws.com");
    let elsewhere = headers("20260101T000000Z", "evil.example.com");
    let variants = [
        SigningRequest {
            method: "GET",
            ..base
        },
        SigningRequest {
            path: "/2020-05-31/distribution/E2/invalidation",
            ..base
        },
        SigningRequest {
            query: "Marker=x",
            ..base
        },
        SigningRequest {
            headers: &later,
            ..base
        },
        SigningRequest {
            headers: &elsewhere,
            ..base
        },
        SigningRequest {
            body: b"<InvalidationBatch />",
            ..base
        },
    ];
    for v in &variants {
        assert_ne!(sign(v).unwrap(), good, "{v:?}");
    }
    assert_ne!(
        authorize("AKID", "other", "us-east-1", "cloudfront", &base).unwrap(),
        good
    );
    assert_ne!(
        authorize("AKID", "secret", "eu-west-1", "cloudfront", &base).unwrap(),
        good
    );
}
