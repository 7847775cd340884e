//! What each URL should serve: the expectations of a verification, from the git diff (the
//! head commit's tree holds the deployed bytes of files a rule publishes as they are), from
//! the built site's folder (`--verify-root`), or only from the status a URL should answer.
//!
//! A rule publishes a file "as it is" when the URL names the file: its last segment is the
//! file's name (`public/app.js` → `…/app.js`), the folder of an index file (`…/blog/`,
//! `…/blog`), or the stem of an HTML page under pretty URLs (`…/about`). A rule that maps a
//! source to another name (`content/post.md` → `…/post/`) publishes what a build made of it,
//! whose bytes the repository does not hold: such a URL is checked by status, or compared
//! with `--verify-root`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::plan::changes::{Change, ChangeKind};
use crate::plan::rules::{Mapping, RuleSet};
use crate::providers::ObjectType;

use super::{Expect, MAX_BODY, VerifyMode};

/// What the deploy did to a URL, as far as git mode knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployed {
    /// A file is served there: its bytes when known, else why not.
    File(Result<Expect, String>),
    /// The file was deleted (or renamed away).
    Deleted,
}

/// Git mode's source of deployed bytes.
pub struct GitSource<'a> {
    pub repo: &'a Path,
    /// The head commit (a SHA).
    pub head: &'a str,
    pub changes: &'a [Change],
    pub rules: &'a RuleSet,
}

/// Every URL the changes map to, with what was deployed there. A URL that both a deleted
/// and a deployed path map to is deployed.
pub fn from_git(git: &GitSource<'_>) -> HashMap<String, Deployed> {
    let repo = git2::Repository::open(git.repo).ok();
    let tree = repo.as_ref().and_then(|r| {
        r.revparse_single(git.head)
            .ok()
            .and_then(|o| o.peel_to_tree().ok())
    });
    let mut out: HashMap<String, Deployed> = HashMap::new();
    let deleted = |path: &str, out: &mut HashMap<String, Deployed>| {
        if let Mapping::Files(urls) = git.rules.map(path) {
            for url in urls {
                out.entry(url).or_insert(Deployed::Deleted);
            }
        }
    };
    for change in git.changes {
        match change.kind {
            ChangeKind::Deleted => deleted(&change.path, &mut out),
            ChangeKind::Renamed => {
                if let Some(old) = &change.old_path {
                    deleted(old, &mut out);
                }
            }
            _ => {}
        }
    }
    for change in git.changes {
        if change.kind == ChangeKind::Deleted {
            continue;
        }
        let Mapping::Files(urls) = git.rules.map(&change.path) else {
            continue;
        };
        let bytes = match (&repo, &tree) {
            (Some(repo), Some(tree)) => blob(repo, tree, &change.path),
            _ => Err("the head commit cannot be read".to_string()),
        };
        for url in urls {
            let deployed = match &bytes {
                Ok(expect) if names_file(&url, &change.path) => Ok(expect.clone()),
                Ok(_) => Err(format!(
                    "the rule publishes {} under another name (built output?); give --verify-root to compare",
                    change.path
                )),
                Err(e) => Err(e.clone()),
            };
            out.insert(url, Deployed::File(deployed));
        }
    }
    out
}

/// The expectation of the file at `path` in `tree`.
fn blob(repo: &git2::Repository, tree: &git2::Tree<'_>, path: &str) -> Result<Expect, String> {
    let entry = tree
        .get_path(Path::new(path))
        .map_err(|_| format!("{path} is not in the head commit"))?;
    if entry.filemode() == 0o120000 {
        return Err(format!("{path} is a symlink"));
    }
    let blob = entry
        .to_object(repo)
        .and_then(|o| o.peel_to_blob())
        .map_err(|_| format!("{path} is not a file in the head commit"))?;
    let content = blob.content();
    if content.len() as u64 > MAX_BODY {
        return Err(format!("{path} is larger than 16 MiB"));
    }
    if content.starts_with(b"version https://git-lfs.github.com/spec/") {
        return Err(format!("{path} is a Git LFS pointer"));
    }
    Ok(Expect::bytes(content))
}

/// The last segment of `url`'s path, percent-decoded (empty for a folder URL).
fn last_segment(url: &str) -> Option<(String, String)> {
    let parsed = url::Url::parse(url).ok()?;
    let path = parsed.path().to_string();
    let last = path.rsplit('/').next().unwrap_or_default();
    Some((
        path.clone(),
        percent_decode_str(last).decode_utf8_lossy().into_owned(),
    ))
}

/// Whether `url` names the file at `path`: its name, its folder (an index file), or its stem
/// (an HTML page under pretty URLs).
pub fn names_file(url: &str, path: &str) -> bool {
    let Some((url_path, last)) = last_segment(url) else {
        return false;
    };
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or_default();
    let folder = parts.next().unwrap_or_default();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, e),
        _ => (name, ""),
    };
    let index = stem == "index" && matches!(ext, "html" | "htm");
    if last == name {
        return true;
    }
    if index && (url_path.ends_with('/') || (!folder.is_empty() && last == folder)) {
        return true;
    }
    matches!(ext, "html" | "htm") && last == stem
}

/// The bytes in the built site's folder for `url`'s path: the file, or the folder's
/// `index.html` for a folder URL (or a bare URL naming a folder).
pub fn from_root(root: &Path, url: &str) -> Result<Expect, String> {
    let parsed = url::Url::parse(url).map_err(|_| "not a URL".to_string())?;
    let decoded = percent_decode_str(parsed.path()).decode_utf8_lossy();
    let rel: PathBuf = decoded
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == ".." || s == "." {
                Err("a path with `..`".to_string())
            } else {
                Ok(s)
            }
        })
        .collect::<Result<_, _>>()?;
    let mut path = root.join(&rel);
    if decoded.ends_with('/') || path.is_dir() {
        path = path.join("index.html");
    }
    let meta = std::fs::metadata(&path)
        .map_err(|_| format!("{} is not in --verify-root", rel.display()))?;
    if meta.len() > MAX_BODY {
        return Err(format!("{} is larger than 16 MiB", rel.display()));
    }
    std::fs::read(&path)
        .map(|b| Expect::bytes(&b))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// What `url` (refreshed as `object_type`) should serve under `mode`: from the git map when
/// the changes mapped to it, else from the built site's folder, else its status.
pub fn expectation(
    url: &str,
    object_type: ObjectType,
    mode: VerifyMode,
    git: Option<&HashMap<String, Deployed>>,
    root: Option<&Path>,
) -> Expect {
    match object_type {
        ObjectType::Directory => return Expect::Unknown("a directory URL".into()),
        ObjectType::Regex => return Expect::Unknown("a regex".into()),
        _ => {}
    }
    let deployed = git.and_then(|g| g.get(url));
    if let Some(Deployed::Deleted) = deployed {
        return Expect::Gone;
    }
    let bytes = match (root, deployed) {
        (Some(root), _) => match from_root(root, url) {
            Ok(e) => Ok(e),
            // The folder does not hold it, and the repository does.
            Err(e) => match deployed {
                Some(Deployed::File(Ok(b))) => Ok(b.clone()),
                _ => Err(e),
            },
        },
        (None, Some(Deployed::File(b))) => b.clone(),
        (None, _) => Err("no deployed bytes known (give --verify-root)".to_string()),
    };
    match (mode, bytes) {
        (VerifyMode::Off, _) => Expect::Unknown("--verify off".into()),
        (VerifyMode::Status, _) => Expect::Present,
        (VerifyMode::Content | VerifyMode::Auto, Ok(b)) => b,
        (VerifyMode::Auto, Err(_)) => Expect::Present,
        (VerifyMode::Content, Err(why)) => Expect::Unknown(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_file_its_folder_or_its_pretty_stem() {
        assert!(names_file("https://x.com/app.js", "public/app.js"));
        assert!(names_file("https://x.com/a%20b.js", "public/a b.js"));
        assert!(names_file("https://x.com/blog/", "public/blog/index.html"));
        assert!(names_file("https://x.com/blog", "public/blog/index.html"));
        assert!(names_file(
            "https://x.com/blog/index.html",
            "public/blog/index.html"
        ));
        assert!(names_file("https://x.com/about", "public/about.html"));
        assert!(!names_file("https://x.com/post/", "content/post.md"));
        assert!(!names_file("https://x.com/app.min.js", "src/app.js"));
    }

    #[test]
    fn expectations_by_mode() {
        let mut git = HashMap::new();
        git.insert(
            "https://x.com/a.js".to_string(),
            Deployed::File(Ok(Expect::bytes(b"a"))),
        );
        git.insert("https://x.com/old.js".to_string(), Deployed::Deleted);
        git.insert(
            "https://x.com/post/".to_string(),
            Deployed::File(Err("built".into())),
        );
        let e = |url, mode| expectation(url, ObjectType::File, mode, Some(&git), None);
        assert_eq!(
            e("https://x.com/a.js", VerifyMode::Auto),
            Expect::bytes(b"a")
        );
        assert_eq!(e("https://x.com/a.js", VerifyMode::Status), Expect::Present);
        assert_eq!(e("https://x.com/old.js", VerifyMode::Content), Expect::Gone);
        assert_eq!(e("https://x.com/post/", VerifyMode::Auto), Expect::Present);
        assert_eq!(
            e("https://x.com/post/", VerifyMode::Content),
            Expect::Unknown("built".into())
        );
        assert!(matches!(
            expectation(
                "https://x.com/d/",
                ObjectType::Directory,
                VerifyMode::Status,
                None,
                None
            ),
            Expect::Unknown(_)
        ));
        // A URL list: status only, unless the folder holds it.
        assert_eq!(e("https://y.com/z", VerifyMode::Status), Expect::Present);
    }

    #[test]
    fn the_built_folder_gives_files_and_index_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blog")).unwrap();
        std::fs::write(dir.path().join("blog/index.html"), "home").unwrap();
        std::fs::write(dir.path().join("a b.css"), "css").unwrap();
        let root = dir.path();
        assert_eq!(
            from_root(root, "https://x.com/blog/").unwrap(),
            Expect::bytes(b"home")
        );
        assert_eq!(
            from_root(root, "https://x.com/blog").unwrap(),
            Expect::bytes(b"home")
        );
        assert_eq!(
            from_root(root, "https://x.com/a%20b.css").unwrap(),
            Expect::bytes(b"css")
        );
        assert!(from_root(root, "https://x.com/none.js").is_err());
        assert!(from_root(root, "https://x.com/a%2F..%2F..%2Fb").is_err());
    }
}
