//! The answers of the injected faults that look the same whatever the provider: a body that
//! is not JSON, one that never ends, one too large to hold, a redirect. They let a client be
//! tested against a hostile or broken server: it must time out a body that trickles, cap the
//! size of what it reads, and never follow a redirect away from its endpoint (with its
//! signed headers). The provider-specific faults (`throttle`, `error`, `endless-pages`) are
//! the providers' own; `drop` and `lose-answer` close the connection (see `server`).
//!
//! Bodies are streamed from one static buffer, so a `huge` answer costs no memory and a
//! `trickle` costs one timer: both run in the connection's own task and stop at the first
//! write that fails, i.e. once the client has gone away or the emulator has shut down.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// What `trickle` sends first, so the answer looks like the start of a JSON document.
const TRICKLE_START: &[u8] = b"{\"RequestId\":\"";
/// What `trickle` sends after that, every [`TRICKLE_EVERY`].
const TRICKLE_BYTES: &[u8] = b"    ";
const TRICKLE_EVERY: Duration = Duration::from_millis(200);

/// The bytes `huge` bodies are cut from: JSON whitespace.
static FILL: [u8; 64 << 10] = [b' '; 64 << 10];

/// HTTP 200 with an HTML error page, as a misconfigured proxy answers.
pub(crate) fn garbage() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html")],
        "<html><body><h1>502 Bad Gateway</h1>upstream sent garbage</body></html>",
    )
        .into_response()
}

/// HTTP 200, headers at once, then a few bytes every 200 ms, forever.
pub(crate) fn trickle() -> Response {
    let chunks = futures::stream::unfold(true, |first| async move {
        let chunk = if first {
            TRICKLE_START
        } else {
            tokio::time::sleep(TRICKLE_EVERY).await;
            TRICKLE_BYTES
        };
        Some((Ok::<_, Infallible>(Bytes::from_static(chunk)), false))
    });
    json_ok(Body::from_stream(chunks))
}

/// HTTP 200 with a body of `len` bytes, with `Content-Length` or chunked.
pub(crate) fn huge(len: u64, content_length: bool) -> Response {
    let chunks = futures::stream::unfold(len, |left| async move {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left).map_or(FILL.len(), |l| l.min(FILL.len()));
        Some((
            Ok::<_, Infallible>(Bytes::from_static(&FILL[..n])),
            left - n as u64,
        ))
    });
    let mut resp = json_ok(Body::from_stream(chunks));
    if content_length {
        // A streamed body has no length of its own; hyper sends this one and holds the body
        // to it.
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// HTTP 307 to the same path and query on `127.0.0.1:port`.
pub(crate) fn redirect(port: u16, uri: &Uri) -> Response {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("http://127.0.0.1:{port}{target}");
    let mut resp = (
        StatusCode::TEMPORARY_REDIRECT,
        format!("moved to {location}\n"),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

fn json_ok(body: Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
