//! The site store: a small file published with the site that holds the commit of the last
//! successful run (as git-ftp's `.git-ftp.log` or a `REVISION` file), read back from the
//! origin or the edge.
//!
//! Read: one GET, no redirect followed, a few seconds at most, at most [`MAX_BODY`] bytes
//! of body; the answer must be one commit id, anything else is a missing marker with the
//! reason. An edge that still caches an older marker only makes the diff larger, never
//! smaller: the safe side. Write: `cdn-refresh marker write DIR` writes the file from a
//! report whose run ended fully successful, into the folder about to be uploaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Read, parse_commit};

/// The most of the answer read: a commit id and a newline, with room to spare.
pub const MAX_BODY: usize = 1024;

/// Bound on the whole read, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// GETs the marker file at `url`.
pub fn read(url: &url::Url) -> Read {
    let got = get(url.clone());
    tracing::info!(marker = %url, ok = got.is_ok(), "read the marker");
    match got {
        Ok(Answer::Body(body)) => match parse_commit(&body) {
            Ok(sha) => Read::Found(sha),
            Err(why) => Read::Missing(format!("the marker at {url} is not usable: {why}")),
        },
        Ok(Answer::Status(404 | 410)) => Read::Missing(format!(
            "there is no marker at {url} (404): this is the first run with --marker, or the \
             upload after the last successful run did not publish it (`cdn-refresh marker \
             write DIR`)"
        )),
        Ok(Answer::Status(code)) => {
            Read::Missing(format!("the marker at {url} answered HTTP {code}, not 200"))
        }
        Ok(Answer::TooLong) => Read::Missing(format!(
            "the marker at {url} is longer than {MAX_BODY} bytes, so it is not a marker"
        )),
        Err(e) => Read::Missing(format!("cannot read the marker at {url}: {e}")),
    }
}

enum Answer {
    Body(String),
    Status(u16),
    TooLong,
}

/// One bounded GET, on a thread of its own with its own runtime: settings are read both
/// inside the run's runtime and without one (`plan`), and a runtime cannot block on
/// another.
fn get(url: url::Url) -> Result<Answer, String> {
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        runtime.block_on(async {
            tokio::time::timeout(TIMEOUT, fetch(url))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs())))
        })
    });
    thread
        .join()
        .unwrap_or_else(|_| Err("the HTTP client stopped".into()))
}

async fn fetch(url: url::Url) -> Result<Answer, String> {
    let client = crate::http::client().map_err(|e| format!("cannot make the HTTP client: {e}"))?;
    let mut response = client
        .get(url)
        // A visitor's request would do, but a cached marker is only ever older: ask the
        // edge not to serve one from cache where it honours that.
        .header("Cache-Control", "no-cache")
        .send()
        .await
        .map_err(|e| crate::echo::cap(&e.to_string(), crate::echo::VALUE).into_owned())?;
    let status = response.status().as_u16();
    if status != 200 {
        return Ok(Answer::Status(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("the answer was cut short: {e}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Ok(Answer::TooLong);
        }
    }
    Ok(Answer::Body(String::from_utf8_lossy(&body).into_owned()))
}

/// Writes `sha` (a full commit id) into `dir/file`, creating the folders of `file`; returns
/// the path written. `file` is a relative path inside `dir`, never above it.
pub fn write(dir: &Path, file: &str, sha: &str) -> Result<PathBuf, String> {
    check_place(dir, file)?;
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, format!("{sha}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Whether `dir` is a folder and `file` a relative path inside it, never above it.
pub fn check_place(dir: &Path, file: &str) -> Result<(), String> {
    let relative = Path::new(file);
    let inside = !file.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(format!(
            "--file `{}` is not a relative path inside the folder",
            crate::echo::cap(file, crate::echo::VALUE)
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a folder (give the built site's folder, about to be uploaded)",
            dir.display()
        ));
    }
    Ok(())
}
