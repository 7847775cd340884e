//! The emulated CDN edge (`--origin DIR`): the account's `--domains` served from a local
//! folder, with a cache that behaves like a CDN's, never kinder.
//!
//! Routing: with `--origin`, a request whose Host (the URI's authority first, as HTTP/2
//! sends it, else the `Host` header; port and a trailing dot ignored, any case) is one of
//! the `--domains` is a visitor's, whatever its path; any other Host (the emulator's own
//! address, as API clients send it) reaches the APIs and `/_emulator/stats` as before. That
//! is why, with `--origin`, a domain may not be `localhost` or an IP address.
//!
//! URL → file: `http://HOST/PATH` is `DIR/HOST/PATH` when the folder `DIR/HOST` exists, else
//! `DIR/PATH` (one site for every domain). The path is percent-decoded, then split at `/`;
//! empty and `.` segments are skipped, a `..` segment or a NUL answers 400. A path ending
//! with `/` serves that folder's `index.html`; a folder without the `/` is a 404 (no
//! redirect). The file found must resolve (symlinks included) inside `DIR`, else 404. The
//! query is part of the cache key but not of the file.
//!
//! Cache: the key is host, decoded path and query (the scheme is not part of it: a refresh
//! of `https://…` evicts `http://…` too). The first request of a key reads the origin
//! (`X-Cache: MISS`) and keeps the bytes; later ones get them (`X-Cache: HIT`, `Age`, the
//! same `ETag`), even after the origin file changed or was deleted, until a refresh task
//! covering the key completes, at the moment the API says Complete (plus `--edge-lag`). A
//! task that ends Failed evicts nothing. A prefetch task fills a key not cached when it
//! completes, from the origin as it is then; it never replaces cached bytes. A 404 is never
//! cached. What a task covers is each provider's to say ([`Scope`]); the edge only records
//! the completions it is told about ([`Edge::record`]) and applies them in time order, when
//! a request comes or when the clock task started with the emulator wakes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::args::EmulatorArgs;
use crate::providers::Operation;

/// Entries the cache holds at most, whatever their size.
const MAX_ENTRIES: usize = 65_536;

/// What the edge counted, in `GET /_emulator/stats` as `edge` (absent while all zero).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EdgeStats {
    /// Visitor requests answered from the cache.
    pub hits: u64,
    /// Visitor requests that read the origin (200 or 404).
    pub misses: u64,
    /// Cache entries evicted by completed refresh tasks.
    pub evictions: u64,
    /// Cache entries filled by completed prefetch tasks.
    pub prefetch_fills: u64,
    /// Entries dropped to stay within `--edge-cache-bytes`.
    pub dropped_for_space: u64,
    /// Visitor requests refused: a hostile path (400), a method other than GET or HEAD
    /// (405), a file over `--edge-max-file-bytes` (502).
    pub refused: u64,
    /// The visitor requests as they arrived (the first [`MAX_LOGGED`]), to check how
    /// clients ask: the query, cache-busting headers, the User-Agent and the time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<EdgeRequest>,
}

/// Visitor requests kept in [`EdgeStats::requests`].
pub const MAX_LOGGED: usize = 1000;

/// One visitor request, as the edge received it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EdgeRequest {
    pub method: String,
    pub host: String,
    /// The path and query as sent.
    pub target: String,
    /// `Cache-Control` and `Pragma`, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pragma: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Milliseconds since the emulator started.
    pub at_ms: u64,
}

impl EdgeRequest {
    /// The request of `method` for `host`, at `at_ms`.
    pub(crate) fn of(
        method: &Method,
        host: &str,
        uri: &Uri,
        headers: &HeaderMap,
        at_ms: u64,
    ) -> Self {
        let header = |name: header::HeaderName| {
            headers.get(name).map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(200)
                    .collect()
            })
        };
        EdgeRequest {
            method: method.to_string(),
            host: host.to_string(),
            target: uri
                .path_and_query()
                .map(|p| p.as_str().chars().take(500).collect())
                .unwrap_or_default(),
            cache_control: header(header::CACHE_CONTROL),
            pragma: header(header::PRAGMA),
            user_agent: header(header::USER_AGENT),
            at_ms,
        }
    }
}

impl EdgeStats {
    pub(crate) fn is_zero(&self) -> bool {
        *self == EdgeStats::default()
    }
}

/// What a URL is for the cache: host (lower case, no port), percent-decoded path, query.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    host: String,
    path: String,
    query: Option<String>,
}

/// Which cached URLs a task covers, as its provider says.
pub(crate) enum Scope {
    /// This URL, query included.
    Url(Key),
    /// Every URL of `host` whose path starts with `prefix` (a directory, ending with `/`).
    Below { host: String, prefix: String },
    /// Every URL of `host` with this path, whatever its query (Alibaba Cloud IgnoreParams).
    AnyQuery { host: String, path: String },
    /// Every URL of `host` whose decoded path, with `?query` when there is one, the
    /// provider's matcher accepts (Alibaba Cloud Regex).
    Matching {
        host: String,
        matches: Box<dyn Fn(&str) -> bool + Send>,
    },
}

/// `[scheme://]host[:port][/path][?query][#fragment]` → host, raw path (`/` when empty),
/// query. `None` without a host.
fn split_url(url: &str) -> Option<(String, &str, Option<&str>)> {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = host_of(authority)?;
    let tail = &tail[..tail.find('#').unwrap_or(tail.len())];
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Some((host, if path.is_empty() { "/" } else { path }, query))
}

/// `host[:port]` → the host, lower case, without a trailing dot; `None` when empty.
pub(crate) fn host_of(authority: &str) -> Option<String> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn decode(path: &str) -> String {
    percent_decode_str(path).decode_utf8_lossy().into_owned()
}

fn query(q: Option<&str>) -> Option<String> {
    q.filter(|q| !q.is_empty()).map(str::to_string)
}

impl Key {
    fn of(host: String, raw_path: &str, raw_query: Option<&str>) -> Key {
        Key {
            host,
            path: decode(raw_path),
            query: query(raw_query),
        }
    }

    fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

impl Scope {
    /// One URL, with or without its scheme.
    pub fn url(url: &str) -> Option<Scope> {
        let (host, path, q) = split_url(url)?;
        Some(Scope::Url(Key::of(host, path, q)))
    }

    /// Everything below a directory URL (`http://host/dir/`; a trailing `*` is dropped).
    pub fn directory(url: &str) -> Option<Scope> {
        let (host, path, _) = split_url(url.trim_end_matches('*'))?;
        let mut prefix = decode(path);
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(Scope::Below { host, prefix })
    }

    /// A URL whatever its query.
    pub fn any_query(url: &str) -> Option<Scope> {
        let (host, path, _) = split_url(url)?;
        Some(Scope::AnyQuery {
            host,
            path: decode(path),
        })
    }

    /// The URLs of `host` that `matches` accepts (given the decoded path and `?query`).
    pub fn matching(host: &str, matches: impl Fn(&str) -> bool + Send + 'static) -> Scope {
        Scope::Matching {
            host: host.to_ascii_lowercase(),
            matches: Box::new(matches),
        }
    }

    fn covers(&self, key: &Key) -> bool {
        match self {
            Scope::Url(k) => k == key,
            Scope::Below { host, prefix } => *host == key.host && key.path.starts_with(prefix),
            Scope::AnyQuery { host, path } => *host == key.host && *path == key.path,
            Scope::Matching { host, matches } => {
                *host == key.host && matches(&key.path_and_query())
            }
        }
    }
}

/// A task's completion, to apply when it is due.
struct Event {
    due: Instant,
    operation: Operation,
    scope: Scope,
}

struct Entry {
    body: Bytes,
    etag: String,
    content_type: &'static str,
    filled: Instant,
}

/// The edge's cache and the completions still to apply.
pub(crate) struct Edge {
    /// `--origin`, canonical.
    root: PathBuf,
    max_file: u64,
    max_bytes: u64,
    lag: Duration,
    task_duration: Duration,
    rewrite: Option<String>,
    cache: HashMap<Key, Entry>,
    bytes: u64,
    /// Not yet applied, in no order.
    events: Vec<Event>,
    /// Wakes the clock task when an event is recorded.
    pub wake: Arc<Notify>,
}

/// What a visitor gets.
pub(crate) enum Answer {
    Hit {
        body: Bytes,
        etag: String,
        content_type: &'static str,
        age: u64,
    },
    Miss {
        body: Bytes,
        etag: String,
        content_type: &'static str,
    },
    NotFound,
    TooLarge,
}

impl Edge {
    /// The edge of `--origin`, `None` without it.
    pub fn new(args: &EmulatorArgs) -> Option<Edge> {
        let origin = args.origin.as_ref()?;
        // Checked at start (`validate`); a folder that vanished since serves nothing.
        let root = origin.canonicalize().unwrap_or_else(|_| origin.clone());
        Some(Edge {
            root,
            max_file: args.edge_max_file_bytes,
            max_bytes: args.edge_cache_bytes,
            lag: args.edge_lag,
            task_duration: args.task_duration,
            rewrite: args.edge_rewrite.clone(),
            cache: HashMap::new(),
            bytes: 0,
            events: Vec::new(),
            wake: Arc::new(Notify::new()),
        })
    }

    /// A task made at `started` covering `scopes` completes `--task-duration` later (plus
    /// `--edge-lag`): a refresh then evicts what they cover, a prefetch fills it. The
    /// provider leaves out what ends Failed.
    pub fn record(
        &mut self,
        operation: Operation,
        started: Instant,
        scopes: impl IntoIterator<Item = Scope>,
    ) {
        let due = started + self.task_duration + self.lag;
        self.events.extend(scopes.into_iter().map(|scope| Event {
            due,
            operation,
            scope,
        }));
        self.wake.notify_one();
    }

    /// When the next completion is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.events.iter().map(|e| e.due).min()
    }

    /// Applies every completion due by `now`, oldest first.
    pub fn advance(&mut self, now: Instant, stats: &mut EdgeStats) {
        if !self.events.iter().any(|e| e.due <= now) {
            return;
        }
        let (mut due, rest): (Vec<Event>, Vec<Event>) = std::mem::take(&mut self.events)
            .into_iter()
            .partition(|e| e.due <= now);
        self.events = rest;
        // Stable: a refresh and a prefetch due at once apply in the order they were made.
        due.sort_by_key(|e| e.due);
        for event in due {
            match event.operation {
                Operation::Refresh => {
                    let before = self.cache.len();
                    let mut freed = 0;
                    self.cache.retain(|key, entry| {
                        let keep = entry.filled >= event.due || !event.scope.covers(key);
                        if !keep {
                            freed += entry.body.len() as u64;
                        }
                        keep
                    });
                    self.bytes -= freed;
                    stats.evictions += (before - self.cache.len()) as u64;
                }
                Operation::Prefetch => {
                    let Scope::Url(key) = event.scope else {
                        continue;
                    };
                    if self.cache.contains_key(&key) {
                        continue;
                    }
                    if let Ok(Some((body, content_type))) = self.read(&key) {
                        stats.prefetch_fills += 1;
                        self.insert(key, body, content_type, event.due, stats);
                    }
                }
            }
        }
    }

    /// Serves a visitor's GET of `key` at `now` (completions due already applied).
    pub fn get(&mut self, key: Key, now: Instant, stats: &mut EdgeStats) -> Answer {
        self.advance(now, stats);
        if let Some(entry) = self.cache.get(&key) {
            stats.hits += 1;
            return Answer::Hit {
                body: entry.body.clone(),
                etag: entry.etag.clone(),
                content_type: entry.content_type,
                age: now.saturating_duration_since(entry.filled).as_secs(),
            };
        }
        stats.misses += 1;
        match self.read(&key) {
            Ok(Some((body, content_type))) => {
                let etag = self.insert(key, body.clone(), content_type, now, stats);
                Answer::Miss {
                    body,
                    etag,
                    content_type,
                }
            }
            Ok(None) => Answer::NotFound,
            Err(TooLarge) => {
                stats.refused += 1;
                Answer::TooLarge
            }
        }
    }

    fn insert(
        &mut self,
        key: Key,
        body: Bytes,
        content_type: &'static str,
        filled: Instant,
        stats: &mut EdgeStats,
    ) -> String {
        let etag = etag(&body);
        let size = body.len() as u64;
        while !self.cache.is_empty()
            && (self.bytes + size > self.max_bytes || self.cache.len() >= MAX_ENTRIES)
        {
            let oldest = self
                .cache
                .iter()
                .min_by_key(|(_, e)| e.filled)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some(e) = self.cache.remove(&oldest) {
                self.bytes -= e.body.len() as u64;
                stats.dropped_for_space += 1;
            }
        }
        if size <= self.max_bytes {
            self.bytes += size;
            self.cache.insert(
                key,
                Entry {
                    body,
                    etag: etag.clone(),
                    content_type,
                    filled,
                },
            );
        }
        etag
    }

    /// The origin's bytes for `key` (rewritten for HTML when `--edge-rewrite` says so), or
    /// `None` for a 404.
    fn read(&self, key: &Key) -> Result<Option<(Bytes, &'static str)>, TooLarge> {
        let Some(file) = self.file(key) else {
            return Ok(None);
        };
        let Ok(meta) = std::fs::metadata(&file) else {
            return Ok(None);
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > self.max_file {
            return Err(TooLarge);
        }
        let Ok(mut bytes) = std::fs::read(&file) else {
            return Ok(None);
        };
        if bytes.len() as u64 > self.max_file {
            return Err(TooLarge);
        }
        let content_type = content_type(&file);
        if let Some(text) = self
            .rewrite
            .as_deref()
            .filter(|_| content_type.starts_with("text/html"))
        {
            bytes = rewrite(bytes, text);
        }
        Ok(Some((Bytes::from(bytes), content_type)))
    }

    /// The file a key names, resolved and inside the root; `None` otherwise.
    fn file(&self, key: &Key) -> Option<PathBuf> {
        let segments = segments(&key.path).ok()?;
        let site = self.root.join(&key.host);
        let mut file = if site.is_dir() {
            site
        } else {
            self.root.clone()
        };
        for segment in &segments {
            file.push(segment);
        }
        if key.path.ends_with('/') {
            file.push("index.html");
        }
        let real = file.canonicalize().ok()?;
        real.starts_with(&self.root).then_some(real)
    }
}

struct TooLarge;

/// The segments of a decoded path; `Err` for a hostile one (`..`, NUL, backslash).
fn segments(path: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err("a `..` segment".into()),
            s if s.contains(['\0', '\\']) => {
                return Err("a NUL or a backslash".into());
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

/// `"` + the first 32 hex digits of the SHA-256 of the bytes + `"` (not an MD5: a client
/// compares bodies, or only ETags it saw before).
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn rewrite(mut body: Vec<u8>, text: &str) -> Vec<u8> {
    let lower = body.to_ascii_lowercase();
    let at = lower
        .windows(7)
        .rposition(|w| w == b"</body>")
        .unwrap_or(body.len());
    body.splice(at..at, text.bytes());
    body
}

fn content_type(file: &Path) -> &'static str {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// The host a request is for: the URI's authority (HTTP/2, absolute-form), else `Host`.
pub(crate) fn request_host(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    if let Some(authority) = uri.authority() {
        return host_of(authority.as_str());
    }
    host_of(headers.get(header::HOST)?.to_str().ok()?)
}

/// The cache key of a visitor's request, or why the path is refused.
pub(crate) fn request_key(host: String, uri: &Uri) -> Result<Key, String> {
    let key = Key::of(host, uri.path(), uri.query());
    segments(&key.path)?;
    Ok(key)
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert("x-cache", HeaderValue::from_static("MISS"));
    response
}

/// The HTTP answer of a visitor's request; `head` sends the headers only.
pub(crate) fn respond(answer: Answer, head: bool) -> Response {
    let (body, etag, content_type, status) = match answer {
        Answer::NotFound => {
            return plain(StatusCode::NOT_FOUND, "not found at the origin\n".into());
        }
        Answer::TooLarge => {
            return plain(
                StatusCode::BAD_GATEWAY,
                "origin file larger than --edge-max-file-bytes\n".into(),
            );
        }
        Answer::Hit {
            body,
            etag,
            content_type,
            age,
        } => (body, etag, content_type, Some(age)),
        Answer::Miss {
            body,
            etag,
            content_type,
        } => (body, etag, content_type, None),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let cache = if status.is_some() { "HIT" } else { "MISS" };
    headers.insert("x-cache", HeaderValue::from_static(cache));
    if let Some(age) = status {
        headers.insert(header::AGE, HeaderValue::from(age));
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from(body)
    };
    (StatusCode::OK, headers, body).into_response()
}

/// The answer to a refused request: 400 for a hostile path, 405 for a method.
pub(crate) fn refuse(method: &Method, why: Option<String>) -> Response {
    match why {
        Some(why) => plain(StatusCode::BAD_REQUEST, format!("refused path: {why}\n")),
        None => {
            let mut response = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("the edge serves GET and HEAD, not {method}\n"),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_keys() {
        let Some(Scope::Url(k)) = Scope::url("HTTPS://Example.com:443/a%20b.html?v=1#x") else {
            panic!()
        };
        assert_eq!(
            (k.host.as_str(), k.path.as_str()),
            ("example.com", "/a b.html")
        );
        assert_eq!(k.query.as_deref(), Some("v=1"));
        let Some(Scope::Url(k)) = Scope::url("example.com") else {
            panic!()
        };
        assert_eq!((k.path.as_str(), k.query), ("/", None));
        assert!(Scope::url("http:///x").is_none());
    }

    #[test]
    fn scopes_cover_what_they_say() {
        let key = |p: &str, q: Option<&str>| Key::of("a.com".into(), p, q);
        let dir = Scope::directory("http://a.com/d/*").unwrap();
        assert!(dir.covers(&key("/d/x/y", Some("q"))));
        assert!(!dir.covers(&key("/dx", None)));
        let any = Scope::any_query("a.com/x?z").unwrap();
        assert!(any.covers(&key("/x", Some("v=2"))) && any.covers(&key("/x", None)));
        let one = Scope::url("http://a.com/x").unwrap();
        assert!(one.covers(&key("/x", None)) && !one.covers(&key("/x", Some("v"))));
        let m = Scope::matching("A.com", |p| p.ends_with(".js"));
        assert!(m.covers(&key("/x.js", None)) && !m.covers(&key("/x.css", None)));
    }

    #[test]
    fn hostile_segments_are_refused() {
        assert!(segments("/a/../b").is_err());
        assert!(segments("/a/b\0").is_err());
        assert!(segments("/a\\..\\b").is_err());
        assert_eq!(segments("//a/./b/").unwrap(), ["a", "b"]);
    }

    #[test]
    fn rewrite_goes_before_the_last_body_end() {
        let out = rewrite(b"<html><BODY>x</Body></html>".to_vec(), "<b/>");
        assert_eq!(out, b"<html><BODY>x<b/></Body></html>");
        assert_eq!(rewrite(b"x".to_vec(), "!"), b"x!");
    }
}
