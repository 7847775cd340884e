//! CloudFront wire format (API 2020-05-31): REST-XML requests signed with SigV4 (service
//! `cloudfront`, region `us-east-1`, the API is global), XML answers, errors as
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::sign;
use crate::providers::{ErrorClass, ProviderError};

pub const DEFAULT_ENDPOINT: &str = "https://cloudfront.amazonaws.com";
pub const VERSION: &str = "2020-05-31";
pub const REGION: &str = "us-east-1";
pub const SERVICE: &str = "cloudfront";
/// The namespace of every request and answer document.
pub const XMLNS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

/// Paths one invalidation may carry (and one answer may list): the in-progress limit.
pub const MAX_PATHS: usize = 3_000;

/// ListDistributions.
pub fn distributions_path() -> String {
    format!("/{VERSION}/distribution")
}

/// `/2020-05-31/distribution/{id}/invalidation`.
pub fn invalidations_path(distribution: &str) -> String {
    format!("/{VERSION}/distribution/{distribution}/invalidation")
}

/// `/2020-05-31/distribution/{id}/invalidation/{invalidation}`.
pub fn invalidation_path(distribution: &str, invalidation: &str) -> String {
    // Ids are opaque: encode them so an odd one cannot change the path.
    let id = percent_encoding::utf8_percent_encode(invalidation, percent_encoding::NON_ALPHANUMERIC);
    format!("{}/{id}", invalidations_path(distribution))
}

/// An AWS access key (permanent, or temporary with its session token).
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// What came back, before it is read as a particular answer.
pub struct RawResponse {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: String,
}

/// One API call before signing.
pub struct Call<'a> {
    pub method: reqwest::Method,
    /// Below the endpoint's own path.
    pub path: &'a str,
    /// Decoded pairs.
    pub query: &'a [(&'a str, &'a str)],
    /// An XML body, for posts.
    pub body: Option<String>,
}

/// The signed request: every header sent (but those the HTTP client adds) is signed.
pub fn build_request(
    http: &reqwest::Client,
    endpoint: &url::Url,
    creds: &Credentials,
    now: chrono::DateTime<chrono::Utc>,
    call: Call<'_>,
) -> reqwest::RequestBuilder {
    let Call {
        method,
        path,
        query,
        body,
    } = call;
    let mut url = endpoint.clone();
    url.set_path(&format!("{}{path}", endpoint.path().trim_end_matches('/')));
    // Encoded as the signature's canonical query encodes, so both read the same.
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", sign::uri_encode(k), sign::uri_encode(v)))
        .collect();
    url.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());
    let mut headers = vec![
        ("Host".to_string(), crate::http::host_header(&url)),
        (
            sign::DATE_HEADER.to_string(),
            now.format(sign::DATE_FORMAT).to_string(),
        ),
    ];
    if body.is_some() {
        headers.push(("Content-Type".into(), "application/xml".into()));
    }
    if let Some(token) = &creds.session_token {
        headers.push((
            sign::TOKEN_HEADER.to_string(),
            token.expose_secret().to_string(),
        ));
    }
    let body = body.unwrap_or_default();
    let authorization = sign::authorize(
        &creds.access_key_id,
        creds.secret_access_key.expose_secret(),
        REGION,
        SERVICE,
        &sign::SigningRequest {
            method: method.as_str(),
            path: url.path(),
            query: url.query().unwrap_or(""),
            headers: &headers,
            body: body.as_bytes(),
        },
    )
    .expect("host and date are always set");
    let mut request = http.request(method, url);
    for (name, value) in &headers {
        // reqwest sets Host from the URL, the same value that was signed.
        if name != "Host" {
            request = request.header(name, value);
        }
    }
    request.header("Authorization", authorization).body(body)
}

pub async fn send(request: reqwest::RequestBuilder) -> Result<RawResponse, ProviderError> {
    let answer = crate::http::exchange(request).await?;
    Ok(RawResponse {
        status: answer.status,
        request_id: answer
            .header("x-amzn-requestid")
            .or_else(|| answer.header("x-amz-request-id"))
            .map(|s| crate::echo::cap(s, crate::echo::VALUE).into_owned()),
        body: answer.body,
    })
}

/// Escapes text for an XML element (quick-xml's, which the emulator shares).
pub use quick_xml::escape::escape;

/// The body of CreateInvalidation.
pub fn invalidation_batch(paths: &[String], caller_reference: &str) -> String {
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="{XMLNS}"><Paths><Quantity>{}</Quantity><Items>"#,
        paths.len()
    );
    for p in paths {
        out.push_str("<Path>");
        out.push_str(&escape(p));
        out.push_str("</Path>");
    }
    out.push_str("</Items></Paths><CallerReference>");
    out.push_str(&escape(caller_reference));
    out.push_str("</CallerReference></InvalidationBatch>");
    out
}

/// `<Invalidation>`: the answer of CreateInvalidation and GetInvalidation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Invalidation {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub invalidation_batch: Option<BatchXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchXml {
    pub paths: PathsXml,
    #[serde(default)]
    pub caller_reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PathsXml {
    #[serde(default)]
    pub quantity: u64,
    #[serde(default)]
    pub items: Option<ItemsXml>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ItemsXml {
    #[serde(default, rename = "Path")]
    pub paths: Vec<String>,
}

impl Invalidation {
    /// The paths the answer lists, at most [`MAX_PATHS`] (an answer is hostile input).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.invalidation_batch
            .iter()
            .flat_map(|b| b.paths.items.iter())
            .flat_map(|i| i.paths.iter())
            .take(MAX_PATHS)
            .map(String::as_str)
    }
}

/// `<InvalidationList>`: a page of ListInvalidations (newest first).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvalidationList {
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_marker: Option<String>,
    #[serde(default)]
    pub items: Option<SummaryItems>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SummaryItems {
    #[serde(default, rename = "InvalidationSummary")]
    pub summaries: Vec<InvalidationSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvalidationSummary {
    pub id: String,
    pub status: String,
}

/// `<DistributionList>`: a page of ListDistributions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionList {
    #[serde(default)]
    pub is_truncated: bool,
    #[serde(default)]
    pub next_marker: Option<String>,
    #[serde(default)]
    pub items: Option<DistributionItems>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DistributionItems {
    #[serde(default, rename = "DistributionSummary")]
    pub summaries: Vec<DistributionSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionSummary {
    pub id: String,
    #[serde(default)]
    pub aliases: Option<AliasesXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasesXml {
    #[serde(default)]
    pub items: Option<CnameItems>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CnameItems {
    #[serde(default, rename = "CNAME")]
    pub cnames: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorResponse {
    error: ErrorXml,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorXml {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a 2xx answer as `T`, or the error the service returned.
pub fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    raw: RawResponse,
) -> Result<T, ProviderError> {
    if (200..300).contains(&raw.status) {
        return quick_xml::de::from_str(&raw.body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadResponse,
                "BadResponse",
                format!("{what}: the answer could not be read ({e})"),
            )
        });
    }
    let body = quick_xml::de::from_str::<ErrorResponse>(&raw.body).ok();
    let mut err = match &body {
        Some(b) => classify(
            raw.status,
            b.error.code.as_deref(),
            b.error
                .message
                .as_deref()
                .map_or_else(|| format!("HTTP status {}", raw.status), redact_token),
        ),
        None => classify(
            raw.status,
            None,
            format!(
                "{what}: HTTP status {} without an XML error body",
                raw.status
            ),
        ),
    };
    err.request_id = body
        .and_then(|b| b.request_id)
        .or(raw.request_id)
        .map(|s| crate::echo::cap(&s, crate::echo::VALUE).into_owned());
    Err(err)
}

/// `message` without the value of a session token: AWS's SignatureDoesNotMatch message
/// carries the canonical request, whose `x-amz-security-token:` line holds the token. Done
/// before the message is cut to length, so no part of a token is left either.
pub fn redact_token(message: &str) -> String {
    const LINE: &str = "x-amz-security-token:";
    message
        .split('\n')
        .map(|line| match line.find(LINE) {
            Some(i) => format!("{}{LINE}<redacted>", &line[..i]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The class of a CloudFront error (protocols.md §6), and how to fix the final ones.
pub fn classify(status: u16, code: Option<&str>, message: String) -> ProviderError {
    use ErrorClass::*;
    let credentials_hint = "the signature was refused: check that AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the inputs access-key-id and access-key-secret) belong together, that temporary credentials come with their AWS_SESSION_TOKEN (aws-actions/configure-aws-credentials sets all three), and that the clock is right";
    let (class, hint): (ErrorClass, Option<&str>) = match code {
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => (Throttled, None),
        // The in-progress limits: earlier invalidations must complete first.
        Some("TooManyInvalidationsInProgress") => (Busy, None),
        Some(
            "SignatureDoesNotMatch"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "InvalidSignatureException"
            | "UnrecognizedClientException"
            | "RequestExpired",
        ) => (Credentials, Some(credentials_hint)),
        Some("AccessDenied" | "AccessDeniedException") => (
            Permission,
            Some(
                "the credentials may not invalidate: allow cloudfront:CreateInvalidation and cloudfront:GetInvalidation on the distribution (arn:aws:cloudfront::ACCOUNT:distribution/ID) in the role's policy",
            ),
        ),
        Some("NoSuchDistribution") => (
            Domain,
            Some(
                "no distribution with this id in the account: check --distribution-id (the distribution-id input) against the CloudFront console, and that the credentials are the account's",
            ),
        ),
        Some("NoSuchInvalidation") => (InvalidRequest, None),
        _ if status == 401 || status == 403 => (Credentials, Some(credentials_hint)),
        _ if status == 429 => (Throttled, None),
        _ if status >= 500 => (Unavailable, None),
        _ => (InvalidRequest, None),
    };
    let code = code.map_or_else(|| format!("HTTP{status}"), str::to_string);
    let mut err = ProviderError::new(class, code, message);
    err.hint = hint.map(str::to_string);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            request_id: Some("req-1".into()),
            body: body.into(),
        }
    }

    #[test]
    fn reads_invalidations_and_errors() {
        let ok: Invalidation = parse(
            "create",
            raw(
                201,
                r#"<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I1</Id><Status>InProgress</Status><CreateTime>2026-01-01T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>2</Quantity><Items><Path>/a&amp;b</Path><Path>/c/*</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch></Invalidation>"#,
            ),
        )
        .unwrap();
        assert_eq!((ok.id.as_str(), ok.status.as_str()), ("I1", "InProgress"));
        assert_eq!(ok.paths().collect::<Vec<_>>(), ["/a&b", "/c/*"]);
        let err = parse::<Invalidation>(
            "create",
            raw(
                403,
                "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error><RequestId>x-1</RequestId></ErrorResponse>",
            ),
        )
        .unwrap_err();
        assert_eq!(err.class, ErrorClass::Credentials);
        assert_eq!(err.request_id.as_deref(), Some("x-1"));
        assert!(err.hint.unwrap().contains("AWS_SECRET_ACCESS_KEY"));
        let busy = parse::<Invalidation>(
            "create",
            raw(
                400,
                "<ErrorResponse><Error><Code>TooManyInvalidationsInProgress</Code></Error></ErrorResponse>",
            ),
        );
        assert_eq!(busy.unwrap_err().class, ErrorClass::Busy);
        let garbage = parse::<Invalidation>("get", raw(200, "{\"json\":1}"));
        assert_eq!(garbage.unwrap_err().class, ErrorClass::BadResponse);
        let down = parse::<Invalidation>("get", raw(503, ""));
        assert_eq!(down.unwrap_err().class, ErrorClass::Unavailable);
        let missing = parse::<Invalidation>(
            "create",
            raw(
                404,
                "<ErrorResponse><Error><Code>NoSuchDistribution</Code><Message>m</Message></Error></ErrorResponse>",
            ),
        );
        assert_eq!(missing.unwrap_err().class, ErrorClass::Domain);
    }

    #[test]
    fn session_tokens_never_reach_a_message() {
        let body = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>should have been\n'POST\nhost:cloudfront.amazonaws.com\nx-amz-security-token:FQoGZXIvYXdzEXAMPLE\n'</Message></Error></ErrorResponse>";
        let err = parse::<Invalidation>("create", raw(403, body)).unwrap_err();
        assert!(!err.message.contains("FQoGZXIvYXdzEXAMPLE"), "{}", err.message);
        assert!(err.message.contains("x-amz-security-token:<redacted>"));
        assert!(err.message.contains("host:cloudfront.amazonaws.com"));
    }

    #[test]
    fn batch_body_is_the_documented_shape() {
        let body = invalidation_batch(&["/a<b".into(), "/d/*".into()], "ref-1");
        assert!(body.contains(
            "<Paths><Quantity>2</Quantity><Items><Path>/a&lt;b</Path><Path>/d/*</Path></Items></Paths><CallerReference>ref-1</CallerReference>"
        ));
        assert!(body.contains(XMLNS));
        assert_eq!(
            invalidation_path("E1", "I/2"),
            "/2020-05-31/distribution/E1/invalidation/I%2F2"
        );
    }
}
