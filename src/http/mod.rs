//! Shared HTTP behaviour: one exchange read to the end, within bounds, and the one retry
//! policy every provider call goes through.
//!
//! Every answer is hostile input: a redirect is never followed (it would carry the signed
//! request, its token headers or its signed body, to another host), and a body is read only
//! up to [`MAX_BODY`], so an endless or enormous answer cannot take the memory.
pub mod auth_header;
pub mod bounds;
pub mod error;
pub mod retry;

use std::time::Duration;

use self::error::{ErrorClass, ProviderError};

/// The largest answer read from a provider API. The largest real answers (a status page of
/// 1,000 URLs) are well under 1 MiB.
pub const MAX_BODY: usize = 16 << 20;

/// The HTTP client every provider uses: bounded connect and request times, so a hung
/// endpoint becomes a retryable transport error instead of a hung job, and no redirects.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("cdn-refresh/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// `Host` as a signature must see it: the port only when the URL names a non-default one,
/// exactly as the HTTP client will send it.
pub fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// A whole HTTP answer. What its status and body mean is the provider's to say.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    /// A header's value as text, when it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request and reads the whole answer. Transport failures (no answer, or one cut
/// short), redirects and oversized answers are errors here.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| ProviderError::transport(&e))?;
    let status = response.status().as_u16();
    let endpoint = {
        let url = response.url();
        format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        )
    };
    if (300..400).contains(&status) {
        let to = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| format!(" to {}", crate::echo::cap(l, crate::echo::VALUE)))
            .unwrap_or_default();
        return Err(ProviderError::new(
            ErrorClass::Endpoint,
            format!("HTTP{status}"),
            format!(
                "{endpoint} answered {status}, a redirect{to}; API calls never follow redirects, which would carry the signed request to another host"
            ),
        )
        .with_hint("point --endpoint (the endpoint input) at the provider's API itself"));
    }
    let too_large = |size: String| {
        ProviderError::new(
            ErrorClass::Endpoint,
            "AnswerTooLarge",
            format!(
                "{endpoint} sent an answer of {size}, over the {} MiB this tool reads from an API",
                MAX_BODY >> 20
            ),
        )
    };
    if let Some(length) = response.content_length().filter(|n| *n > MAX_BODY as u64) {
        return Err(too_large(format!("{length} bytes")));
    }
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ProviderError::transport(&e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large(format!("more than {MAX_BODY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
