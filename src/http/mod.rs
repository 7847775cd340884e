//! Shared HTTP behaviour: one exchange read to the end, and the one retry policy every
//! provider call goes through.
pub mod retry;

use std::time::Duration;

use crate::providers::ProviderError;

/// The HTTP client every provider uses: bounded connect and request times, so a hung
/// endpoint becomes a retryable transport error instead of a hung job.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("cdn-refresh/", env!("CARGO_PKG_VERSION")))
        .build()
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

/// Sends a request and reads the whole answer. Only transport failures (no answer, or one
/// cut short) are errors here.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::transport(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .map_err(|e| ProviderError::transport(&e))?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}
