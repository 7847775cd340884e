//! `changes`: tree diffs of scripted histories (built with git2 in temp dirs, never this
//! repository's history), base resolution from CI event fixtures, shallow clones with
//! fetch on demand, and every missing-base case.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cdn_refresh::plan::changes::{
    self, BaseChoice, BaseSource, Change, ChangeKind, Changes, ChangesError, MissingBase, Resolved,
    ZERO_SHA,
};
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, Oid, Repository, Signature, Time};

// ---------------------------------------------------------------------------------------
// Scripted histories

/// One edit of a commit's tree; paths are bytes so tests can use any name git allows.
enum Edit<'a> {
    File(&'a [u8], &'a [u8]),
    Link(&'a [u8], &'a [u8]),
    Gitlink(&'a [u8], Oid),
    Remove(&'a [u8]),
}
use Edit::{File, Gitlink, Link, Remove};

struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
    repo: Repository,
    clock: std::cell::Cell<i64>,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(&path, &opts).unwrap();
        Scratch {
            _dir: dir,
            path,
            repo,
            clock: std::cell::Cell::new(1_700_000_000),
        }
    }

    /// A commit with `parent`'s tree plus `edits`; `refs/heads/main` (HEAD) moves to it.
    fn commit(&self, parent: Option<Oid>, edits: &[Edit]) -> Oid {
        let repo = &self.repo;
        let parent = parent.map(|p| repo.find_commit(p).unwrap());
        let mut tree = match &parent {
            Some(p) => p.tree().unwrap(),
            None => repo
                .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
                .unwrap(),
        };
        // Removals first, so an edit can change what a path is (file, link, submodule,
        // directory), which TreeUpdateBuilder refuses within one pass.
        let mut removals = TreeUpdateBuilder::new();
        let mut upserts = TreeUpdateBuilder::new();
        for edit in edits {
            let (File(p, _) | Link(p, _) | Gitlink(p, _) | Remove(p)) = *edit;
            if tree.get_path(path(p)).is_ok() {
                removals.remove(path(p));
            }
            match *edit {
                File(p, content) => {
                    upserts.upsert(path(p), repo.blob(content).unwrap(), FileMode::Blob);
                }
                Link(p, target) => {
                    upserts.upsert(path(p), repo.blob(target).unwrap(), FileMode::Link);
                }
                Gitlink(p, commit) => {
                    upserts.upsert(path(p), commit, FileMode::Commit);
                }
                Remove(_) => {}
            }
        }
        for update in [&mut removals, &mut upserts] {
            tree = repo
                .find_tree(update.create_updated(repo, &tree).unwrap())
                .unwrap();
        }
        self.clock.set(self.clock.get() + 60);
        let sig =
            Signature::new("Test", "test@example.com", &Time::new(self.clock.get(), 0)).unwrap();
        let parents: Vec<_> = parent.iter().collect();
        let oid = repo
            .commit(None, &sig, &sig, "test", &tree, &parents)
            .unwrap();
        repo.reference("refs/heads/main", oid, true, "test")
            .unwrap();
        oid
    }

    fn diff(&self, base: Oid, head: Oid) -> Changes {
        changes::diff(&self.path, &base.to_string(), &head.to_string()).unwrap()
    }
}

fn path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

fn added(p: &str) -> Change {
    change(ChangeKind::Added, p, None)
}
fn modified(p: &str) -> Change {
    change(ChangeKind::Modified, p, None)
}
fn deleted(p: &str) -> Change {
    change(ChangeKind::Deleted, p, None)
}
fn typechanged(p: &str) -> Change {
    change(ChangeKind::TypeChanged, p, None)
}
fn renamed(from: &str, to: &str) -> Change {
    change(ChangeKind::Renamed, to, Some(from))
}
fn change(kind: ChangeKind, path: &str, old: Option<&str>) -> Change {
    Change {
        kind,
        path: path.to_owned(),
        old_path: old.map(str::to_owned),
    }
}

/// An environment made of `pairs`, as `main` would pass it.
fn env_of(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn lookup(env: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> + '_ {
    |name| env.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(name)
}

/// The GitLab variables of a fixture file, as an environment.
fn gitlab_env(name: &str) -> HashMap<String, String> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A GitHub event fixture with some fields replaced (by JSON pointer), written to `dir`.
fn github_event(dir: &Path, name: &str, set: &[(&str, &str)]) -> PathBuf {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (pointer, value) in set {
        *json.pointer_mut(pointer).unwrap() = serde_json::Value::String(value.to_string());
    }
    let out = dir.join(name);
    std::fs::write(&out, json.to_string()).unwrap();
    out
}

fn git(args: &[&OsStr]) -> std::process::Output {
    let out = Command::new("git").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `git clone --depth 1` of `src` (its `main`, or `branch`) into a new temp dir.
fn shallow_clone(src: &Path, branch: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("clone");
    let url = format!("file://{}", src.display());
    git(&[
        "clone".as_ref(),
        "--quiet".as_ref(),
        "--depth=1".as_ref(),
        "--branch".as_ref(),
        branch.as_ref(),
        url.as_ref(),
        dst.as_os_str(),
    ]);
    (dir, dst)
}

fn has_commit(repo: &Path, oid: Oid) -> bool {
    Repository::open(repo).unwrap().find_commit(oid).is_ok()
}

fn expect_diff(r: Resolved) -> Changes {
    match r {
        Resolved::Diff(c) => c,
        Resolved::MissingBase(m) => panic!("expected a diff, got a missing base: {}", m.reason),
    }
}

fn expect_missing(r: Resolved) -> changes::Missing {
    match r {
        Resolved::MissingBase(m) => m,
        Resolved::Diff(c) => panic!("expected a missing base, got a diff: {c:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Tree diffs

#[test]
fn add_modify_delete() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[
            File(b"index.html", b"<h1>hi</h1>"),
            File(b"css/site.css", b"body{}"),
            File(b"old.html", b"old"),
        ],
    );
    let c2 = s.commit(
        Some(c1),
        &[
            File(b"index.html", b"<h1>hello</h1>"),
            File(b"js/app.js", b"main()"),
            Remove(b"old.html"),
        ],
    );
    let d = s.diff(c1, c2);
    assert_eq!(d.base, c1.to_string());
    assert_eq!(d.head, c2.to_string());
    assert_eq!(d.base_source, BaseSource::Explicit);
    assert_eq!(
        d.changes,
        vec![
            modified("index.html"),
            added("js/app.js"),
            deleted("old.html")
        ]
    );
    assert!(d.skipped_submodules.is_empty());
}

const ABOUT: &str = "<h1>About us</h1>\n<p>We build static sites.</p>\n<p>Since 2015.</p>\n\
    <p>Contact: hello@example.com</p>\n<ul><li>one</li><li>two</li><li>three</li></ul>\n";
const ABOUT_EDITED: &str = "<h1>About us</h1>\n<p>We build static sites.</p>\n<p>Since 2016.</p>\n\
    <p>Contact: hello@example.com</p>\n<ul><li>one</li><li>two</li><li>three</li></ul>\n";

#[test]
fn renames_report_old_and_new_path() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[
            File(b"blog/post.html", b"a post that moves"),
            File(b"about.html", ABOUT.as_bytes()),
            File(b"Logo.png", b"\x89PNG"),
        ],
    );
    let c2 = s.commit(
        Some(c1),
        &[
            Remove(b"blog/post.html"),
            File(b"posts/2025/post.html", b"a post that moves"),
            // A case-only rename is a rename: CDN paths are case sensitive.
            Remove(b"Logo.png"),
            File(b"logo.png", b"\x89PNG"),
            // Renamed and edited: exact detection reports a deletion plus an addition,
            // which purges the same two paths.
            Remove(b"about.html"),
            File(b"about/index.html", ABOUT_EDITED.as_bytes()),
        ],
    );
    let mut got = s.diff(c1, c2).changes;
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        got,
        vec![
            deleted("about.html"),
            added("about/index.html"),
            renamed("Logo.png", "logo.png"),
            renamed("blog/post.html", "posts/2025/post.html"),
        ]
    );
}

#[test]
fn exact_renames_pair_identical_content_but_never_empty_files() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[
            File(b"a/.keep", b""),
            File(b"img/one.png", b"same bytes"),
            File(b"img/two.png", b"same bytes"),
            Link(b"latest", b"v1/index.html"),
            File(b"notes.txt", b"v1/index.html"),
        ],
    );
    let c2 = s.commit(
        Some(c1),
        &[
            Remove(b"a/.keep"),
            File(b"b/.keep", b""),
            Remove(b"img/one.png"),
            Remove(b"img/two.png"),
            File(b"media/one.png", b"same bytes"),
            File(b"media/two.png", b"same bytes"),
            // A symlink and a file with the same bytes are not one rename.
            Remove(b"latest"),
            File(b"current", b"v1/index.html"),
        ],
    );
    assert_eq!(
        s.diff(c1, c2).changes,
        vec![
            deleted("a/.keep"),
            added("b/.keep"),
            added("current"),
            deleted("latest"),
            renamed("img/one.png", "media/one.png"),
            renamed("img/two.png", "media/two.png"),
        ]
    );
}

#[test]
fn exact_renames_are_found_however_many_deletions_sort_before_them() {
    // libgit2's find_similar tries only the first 1,000 deletions (in path order) for
    // each addition; ours is a hash join with no such limit.
    let s = Scratch::new();
    let names: Vec<String> = (0..1500).map(|i| format!("a/{i:04}.html")).collect();
    let mut edits: Vec<Edit> = names
        .iter()
        .map(|n| File(n.as_bytes(), n.as_bytes()))
        .collect();
    edits.push(File(b"z/src.html", b"the page that moves"));
    let c1 = s.commit(None, &edits);
    let mut edits: Vec<Edit> = names.iter().map(|n| Remove(n.as_bytes())).collect();
    edits.push(Remove(b"z/src.html"));
    edits.push(File(b"b/moved.html", b"the page that moves"));
    let c2 = s.commit(Some(c1), &edits);
    let d = s.diff(c1, c2);
    assert_eq!(d.changes.len(), 1501);
    assert!(d.changes.contains(&renamed("z/src.html", "b/moved.html")));
}

#[test]
fn symlinks_are_files_and_type_changes_are_reported() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[
            File(b"latest.html", b"v1"),
            Link(b"current", b"releases/1"),
            Link(b"docs", b"docs-v1"),
        ],
    );
    let c2 = s.commit(
        Some(c1),
        &[
            Link(b"latest.html", b"releases/2/index.html"), // file → symlink
            File(b"docs", b"now a file"),                   // symlink → file
            Link(b"current", b"releases/2"),                // link target changed
            Link(b"new-link", b"index.html"),               // new symlink
        ],
    );
    assert_eq!(
        s.diff(c1, c2).changes,
        vec![
            modified("current"),
            typechanged("docs"),
            typechanged("latest.html"),
            added("new-link"),
        ]
    );
}

#[test]
fn submodules_are_skipped_and_listed() {
    let s = Scratch::new();
    let sub1 = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
    let sub2 = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
    let c1 = s.commit(
        None,
        &[
            File(b"index.html", b"hi"),
            Gitlink(b"vendor/theme", sub1),
            Gitlink(b"vendor/old", sub1),
            File(b"widgets", b"a file that becomes a submodule"),
        ],
    );
    let c2 = s.commit(
        Some(c1),
        &[
            Gitlink(b"vendor/theme", sub2), // submodule moved to another commit
            Remove(b"vendor/old"),          // submodule removed
            Gitlink(b"vendor/new", sub1),   // submodule added
            Gitlink(b"widgets", sub2),      // file replaced by a submodule
            File(b"index.html", b"hello"),
        ],
    );
    let d = s.diff(c1, c2);
    assert_eq!(d.changes, vec![modified("index.html"), deleted("widgets")]);
    let mut skipped = d.skipped_submodules.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        ["vendor/new", "vendor/old", "vendor/theme", "widgets"]
    );

    // files_at lists files and symlinks, never gitlinks.
    assert_eq!(
        changes::files_at(&s.path, &c2.to_string()).unwrap(),
        ["index.html"]
    );
}

#[test]
fn a_submodule_replaced_by_a_file_counts_as_the_file_added() {
    let s = Scratch::new();
    let sub = Oid::from_str("3333333333333333333333333333333333333333").unwrap();
    let c1 = s.commit(None, &[Gitlink(b"lib", sub)]);
    let c2 = s.commit(Some(c1), &[File(b"lib", b"now a file")]);
    let d = s.diff(c1, c2);
    assert_eq!(d.changes, vec![added("lib")]);
    assert_eq!(d.skipped_submodules, ["lib"]);
}

#[test]
fn a_directory_replaced_by_a_file_is_its_files_deleted_and_the_file_added() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[File(b"docs/a.html", b"a"), File(b"docs/b.html", b"b")],
    );
    let c2 = s.commit(Some(c1), &[File(b"docs", b"file")]);
    assert_eq!(
        s.diff(c1, c2).changes,
        vec![
            added("docs"),
            deleted("docs/a.html"),
            deleted("docs/b.html")
        ]
    );
}

#[test]
fn force_push_diffs_the_two_trees_whatever_the_ancestry() {
    let s = Scratch::new();
    let root = s.commit(None, &[File(b"a.html", b"a"), File(b"b.html", b"b")]);
    // The old tip, later force-pushed away: it changed a.html and added c.html.
    let old_tip = s.commit(Some(root), &[File(b"a.html", b"a2"), File(b"c.html", b"c")]);
    // The new tip, built on root instead: it changes b.html only.
    let new_tip = s.commit(Some(root), &[File(b"b.html", b"b2")]);
    assert!(!s.repo.graph_descendant_of(new_tip, old_tip).unwrap());

    // What the CDN holds (old tip) against what is deployed now (new tip).
    assert_eq!(
        s.diff(old_tip, new_tip).changes,
        vec![modified("a.html"), modified("b.html"), deleted("c.html")]
    );
}

#[test]
fn a_change_reverted_later_is_no_change() {
    let s = Scratch::new();
    let c1 = s.commit(None, &[File(b"a.html", b"a")]);
    let c2 = s.commit(Some(c1), &[File(b"a.html", b"a2"), File(b"tmp.html", b"t")]);
    let c3 = s.commit(Some(c2), &[File(b"a.html", b"a"), Remove(b"tmp.html")]);
    assert_eq!(s.diff(c1, c3).changes, vec![]);
    assert_eq!(s.diff(c1, c1).changes, vec![]);
}

#[test]
fn paths_come_back_exactly_as_stored() {
    let names: &[&str] = &[
        "a b/c d.html",
        "café/naïve.html",
        "日本語/ページ.html",
        "emoji-🚀.html",
        "hash#frag.html",
        "q?x=1.html",
        "pct%20already.html",
        "100%.html",
        "quote\"double.html",
        "quote'single.html",
        "back\\slash.html",
        "new\nline.html",
        "tab\there.html",
        "-leading-dash.html",
        " leading space.html",
    ];
    let s = Scratch::new();
    let c1 = s.commit(None, &[File(b"keep.html", b"k")]);
    let edits: Vec<Edit> = names.iter().map(|n| File(n.as_bytes(), b"x")).collect();
    let c2 = s.commit(Some(c1), &edits);
    let mut got: Vec<String> = s.diff(c1, c2).changes.into_iter().map(|c| c.path).collect();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // Renames keep both raw paths too.
    let c3 = s.commit(
        Some(c2),
        &[
            Remove("new\nline.html".as_bytes()),
            File("ünï cødé #?%.html".as_bytes(), b"x"),
        ],
    );
    let d = s.diff(c2, c3);
    assert!(
        d.changes.contains(&added("ünï cødé #?%.html"))
            || d.changes
                .contains(&renamed("new\nline.html", "ünï cødé #?%.html")),
        "{d:?}"
    );
}

#[test]
fn a_non_utf8_path_is_an_error_that_names_it() {
    let s = Scratch::new();
    let c1 = s.commit(None, &[File(b"ok.html", b"ok")]);
    let c2 = s.commit(Some(c1), &[File(b"caf\xe9.html", b"latin-1 name")]);
    let err = changes::diff(&s.path, &c1.to_string(), &c2.to_string()).unwrap_err();
    assert!(matches!(err, ChangesError::NonUtf8Path { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("caf\u{FFFD}.html"), "{msg}");
    assert!(msg.contains(&c2.to_string()), "{msg}");
    assert!(msg.contains("fix: rename it"), "{msg}");
    assert!(changes::files_at(&s.path, &c2.to_string()).is_err());
}

#[test]
fn revisions_can_be_refs_and_bad_ones_say_how_to_fix() {
    let s = Scratch::new();
    let c1 = s.commit(None, &[File(b"a.html", b"a")]);
    let c2 = s.commit(Some(c1), &[File(b"a.html", b"b")]);
    s.repo
        .tag_lightweight(
            "deployed/prod",
            &s.repo.find_object(c1, None).unwrap(),
            false,
        )
        .unwrap();
    let d = changes::diff(&s.path, "deployed/prod", "HEAD").unwrap();
    assert_eq!((d.base, d.head), (c1.to_string(), c2.to_string()));
    let d = changes::diff(&s.path, "HEAD~1", "main").unwrap();
    assert_eq!(d.changes, vec![modified("a.html")]);

    let err = changes::diff(&s.path, "no-such-tag", "HEAD").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("--base `no-such-tag` is not a commit"),
        "{msg}"
    );
    assert!(msg.contains("fix: "), "{msg}");

    let err = changes::diff(&s.path, "--upload-pack=evil", "HEAD").unwrap_err();
    assert!(err.to_string().contains("looks like an option"), "{err}");

    let err = changes::diff(&s.path.join("nope"), "HEAD", "HEAD").unwrap_err();
    assert!(matches!(err, ChangesError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("fix: point --repo"), "{err}");
}

#[test]
fn files_at_lists_every_file_at_head() {
    let s = Scratch::new();
    let c1 = s.commit(
        None,
        &[
            File(b"index.html", b"i"),
            File(b"a b/c#d.html", b"x"),
            Link(b"latest", b"index.html"),
        ],
    );
    let c2 = s.commit(Some(c1), &[Remove(b"index.html"), File(b"z.html", b"z")]);
    assert_eq!(
        changes::files_at(&s.path, &c1.to_string()).unwrap(),
        ["a b/c#d.html", "index.html", "latest"]
    );
    assert_eq!(
        changes::files_at(&s.path, "HEAD").unwrap(),
        ["a b/c#d.html", "latest", "z.html"]
    );
    let _ = c2;
}

/// Our tree walk against libgit2's own `git_diff_tree_to_tree` on generated trees whose
/// names stress git's tree order (`a` as file and as directory, `a.txt`, `a-b`, `a0`),
/// with files, symlinks and submodules changing into one another and directories becoming
/// files and back. Renames are compared as the deletion plus addition libgit2 reports.
#[test]
fn tree_walk_agrees_with_libgit2_diff() {
    let mut seen = std::collections::BTreeSet::new();
    let s = Scratch::new();
    for seed in 1..=60u64 {
        let mut rng = Rng(seed);
        let base = random_tree(&mut rng, 120);
        let head = mutate(&mut rng, &base);
        let b = s.commit(None, &leaf_edits(&base));
        let h = s.commit(None, &leaf_edits(&head));
        let ours = s.diff(b, h);

        let mut got: Vec<(String, String)> = Vec::new();
        for c in &ours.changes {
            match (c.kind, &c.old_path) {
                (ChangeKind::Renamed, Some(old)) => {
                    got.push(("deleted".into(), old.clone()));
                    got.push(("added".into(), c.path.clone()));
                }
                _ => got.push((format!("{:?}", c.kind).to_lowercase(), c.path.clone())),
            }
        }
        let mut got_skipped = ours.skipped_submodules.clone();

        let (want, mut want_skipped) = libgit2_diff(&s.repo, b, h);
        got.sort();
        got_skipped.sort();
        want_skipped.sort();
        assert_eq!(got, want, "seed {seed}");
        assert_eq!(got_skipped, want_skipped, "seed {seed}");
        seen.extend(ours.changes.iter().map(|c| format!("{:?}", c.kind)));
        if !ours.skipped_submodules.is_empty() {
            seen.insert("submodule".into());
        }
    }
    // The generator must exercise every case.
    let all = [
        "Added",
        "Deleted",
        "Modified",
        "Renamed",
        "TypeChanged",
        "submodule",
    ];
    assert_eq!(seen, all.iter().map(|s| s.to_string()).collect());
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Leaf {
    File(u8),
    Link(u8),
    Sub(u8),
}

type Leaves = std::collections::BTreeMap<String, Leaf>;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const NAMES: &[&str] = &["a", "a.txt", "a-b", "a0", "b", "é", "sp ace", "z"];

fn random_leaf(rng: &mut Rng) -> Leaf {
    let v = rng.below(4) as u8;
    match rng.below(10) {
        0 => Leaf::Sub(v),
        1 | 2 => Leaf::Link(v),
        _ => Leaf::File(v),
    }
}

fn random_path(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(3);
    (0..depth)
        .map(|_| NAMES[rng.below(NAMES.len())])
        .collect::<Vec<_>>()
        .join("/")
}

/// Inserts `path` unless a leaf is its ancestor or it is an ancestor of a leaf.
fn insert(tree: &mut Leaves, path: String, leaf: Leaf) {
    let clash = tree
        .keys()
        .any(|k| k.starts_with(&format!("{path}/")) || path.starts_with(&format!("{k}/")));
    if !clash {
        tree.insert(path, leaf);
    }
}

fn random_tree(rng: &mut Rng, n: usize) -> Leaves {
    let mut tree = Leaves::new();
    for _ in 0..n {
        let (p, l) = (random_path(rng), random_leaf(rng));
        insert(&mut tree, p, l);
    }
    tree
}

fn mutate(rng: &mut Rng, base: &Leaves) -> Leaves {
    let mut tree = base.clone();
    for _ in 0..25 {
        let keys: Vec<String> = tree.keys().cloned().collect();
        let pick = keys[rng.below(keys.len())].clone();
        match rng.below(6) {
            0 => {
                tree.remove(&pick);
            }
            1 | 2 => {
                let leaf = random_leaf(rng);
                tree.insert(pick, leaf);
            }
            3 => {
                let (p, l) = (random_path(rng), random_leaf(rng));
                insert(&mut tree, p, l);
            }
            4 => {
                // Its directory becomes a file.
                if let Some((dir, _)) = pick.rsplit_once('/') {
                    tree.retain(|k, _| !k.starts_with(&format!("{dir}/")));
                    tree.insert(dir.to_owned(), Leaf::File(9));
                }
            }
            _ => {
                // The file becomes a directory.
                let leaf = tree.remove(&pick).unwrap();
                tree.insert(format!("{pick}/{}", NAMES[rng.below(NAMES.len())]), leaf);
            }
        }
    }
    tree
}

fn leaf_edits(tree: &Leaves) -> Vec<Edit<'_>> {
    const CONTENT: [&[u8]; 10] = [
        b"c0", b"c1", b"c2", b"c3", b"c4", b"c5", b"c6", b"c7", b"c8", b"c9",
    ];
    tree.iter()
        .map(|(p, l)| match *l {
            Leaf::File(v) => File(p.as_bytes(), CONTENT[v as usize]),
            Leaf::Link(v) => Link(p.as_bytes(), CONTENT[v as usize]),
            Leaf::Sub(v) => Gitlink(
                p.as_bytes(),
                Oid::from_str(&(v + 1).to_string().repeat(40)).unwrap(),
            ),
        })
        .collect()
}

/// libgit2's diff of two commits, in our terms: (kind, path) pairs and skipped submodules.
fn libgit2_diff(repo: &Repository, base: Oid, head: Oid) -> (Vec<(String, String)>, Vec<String>) {
    let tree = |c: Oid| repo.find_commit(c).unwrap().tree().unwrap();
    let mut opts = git2::DiffOptions::new();
    opts.include_typechange(true);
    let diff = repo
        .diff_tree_to_tree(Some(&tree(base)), Some(&tree(head)), Some(&mut opts))
        .unwrap();
    let (mut changes, mut skipped) = (Vec::new(), Vec::new());
    for d in diff.deltas() {
        let old = d.old_file().path().map(|p| p.to_str().unwrap().to_owned());
        let new = d.new_file().path().map(|p| p.to_str().unwrap().to_owned());
        let old_sub = d.old_file().mode() == FileMode::Commit;
        let new_sub = d.new_file().mode() == FileMode::Commit;
        let status = d.status();
        if old_sub || new_sub {
            skipped.push(if new_sub { new.clone() } else { old.clone() }.unwrap());
            if status == git2::Delta::Typechange {
                if new_sub {
                    changes.push(("deleted".into(), old.unwrap()));
                } else {
                    changes.push(("added".into(), new.unwrap()));
                }
            }
            continue;
        }
        let kind = match status {
            git2::Delta::Added => ("added", new),
            git2::Delta::Deleted => ("deleted", old),
            git2::Delta::Modified => ("modified", new),
            git2::Delta::Typechange => ("typechanged", new),
            other => panic!("unexpected {other:?}"),
        };
        changes.push((kind.0.to_owned(), kind.1.unwrap()));
    }
    changes.sort();
    (changes, skipped)
}

// ---------------------------------------------------------------------------------------
// Base resolution (no repository needed)

#[test]
fn explicit_base_wins_over_ci_variables() {
    let env = gitlab_env("gitlab-push.json");
    let choice = changes::resolve_base(Some("v1.2.0"), &lookup(&env)).unwrap();
    assert_eq!(choice.base.as_deref(), Some("v1.2.0"));
    assert_eq!(choice.source, BaseSource::Explicit);
    assert_eq!(choice.head, None);
}

#[test]
fn github_push_event_gives_before_and_after() {
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        (
            "GITHUB_EVENT_PATH",
            fixture("github-push.json").to_str().unwrap(),
        ),
    ]);
    for explicit in [None, Some("auto"), Some("AUTO"), Some("")] {
        let choice = changes::resolve_base(explicit, &lookup(&env)).unwrap();
        assert_eq!(
            choice,
            BaseChoice {
                base: Some("3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a".into()),
                head: Some("9c1d4e2b7a5f3e8d6c0b1a2f4e6d8c0a1b3c5d7e".into()),
                source: BaseSource::GithubPush,
                why: format!(
                    "GitHub push event `before` in {}",
                    fixture("github-push.json").display()
                ),
            }
        );
    }
}

#[test]
fn github_forced_push_still_uses_before() {
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        (
            "GITHUB_EVENT_PATH",
            fixture("github-push-forced.json").to_str().unwrap(),
        ),
    ]);
    let choice = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap();
    assert_eq!(
        choice.base.as_deref(),
        Some("7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d")
    );
}

#[test]
fn github_pull_request_events_give_base_and_head_sha() {
    for event in ["pull_request", "pull_request_target"] {
        let env = env_of(&[
            ("GITHUB_EVENT_NAME", event),
            (
                "GITHUB_EVENT_PATH",
                fixture("github-pull-request.json").to_str().unwrap(),
            ),
        ]);
        let choice = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap();
        assert_eq!(
            choice.base.as_deref(),
            Some("3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a")
        );
        assert_eq!(
            choice.head.as_deref(),
            Some("b4a3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5")
        );
        assert_eq!(choice.source, BaseSource::GithubPullRequest);
    }
}

#[test]
fn gitlab_merge_request_then_before_sha() {
    let mr =
        changes::resolve_base(None, &lookup(&gitlab_env("gitlab-merge-request.json"))).unwrap();
    assert_eq!(
        mr.base.as_deref(),
        Some("3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a")
    );
    assert_eq!(mr.source, BaseSource::GitlabMergeRequest);

    let push = changes::resolve_base(None, &lookup(&gitlab_env("gitlab-push.json"))).unwrap();
    assert_eq!(
        push.base.as_deref(),
        Some("3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a")
    );
    assert_eq!(push.source, BaseSource::GitlabBefore);
    assert_eq!(push.head, None);
}

#[test]
fn base_sources_serialize_as_kebab_case() {
    let names: Vec<String> = [
        BaseSource::Explicit,
        BaseSource::GithubPush,
        BaseSource::GithubPullRequest,
        BaseSource::GitlabMergeRequest,
        BaseSource::GitlabBefore,
        BaseSource::Undetected,
    ]
    .iter()
    .map(|s| serde_json::to_string(s).unwrap())
    .collect();
    assert_eq!(
        names,
        [
            "\"explicit\"",
            "\"github-push\"",
            "\"github-pull-request\"",
            "\"gitlab-merge-request\"",
            "\"gitlab-before\"",
            "\"undetected\""
        ]
    );
    assert_eq!(
        serde_json::to_value(renamed("a", "b")).unwrap(),
        serde_json::json!({"kind": "renamed", "path": "b", "old_path": "a"})
    );
    assert_eq!(
        serde_json::to_value(typechanged("a")).unwrap(),
        serde_json::json!({"kind": "type-changed", "path": "a"})
    );
}

#[test]
fn missing_base_policy_parses() {
    assert_eq!("fail".parse::<MissingBase>(), Ok(MissingBase::Fail));
    assert_eq!(" All ".parse::<MissingBase>(), Ok(MissingBase::All));
    assert_eq!("skip".parse::<MissingBase>(), Ok(MissingBase::Skip));
    assert_eq!(MissingBase::default(), MissingBase::Fail);
    let err = "ignore".parse::<MissingBase>().unwrap_err();
    assert!(err.contains("fail, all or skip"), "{err}");
}

// Missing bases found without a repository: each has a reason and the fix.

fn assert_missing(choice: &BaseChoice, source: BaseSource, says: &str) {
    assert_eq!(choice.base, None, "{choice:?}");
    assert_eq!(choice.source, source);
    assert!(choice.why.contains(says), "{}", choice.why);
    assert!(choice.why.contains("--on-missing-base"), "{}", choice.why);
    assert!(choice.why.contains("fix: pass --base"), "{}", choice.why);
}

#[test]
fn missing_base_explicit_zero_sha() {
    let choice = changes::resolve_base(Some(ZERO_SHA), &no_env).unwrap();
    assert_missing(&choice, BaseSource::Explicit, "zero SHA");
}

#[test]
fn missing_base_new_branch_push_keeps_after_as_head() {
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        (
            "GITHUB_EVENT_PATH",
            fixture("github-push-new-branch.json").to_str().unwrap(),
        ),
    ]);
    let choice = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap();
    assert_missing(&choice, BaseSource::GithubPush, "new branch or tag");
    assert_eq!(
        choice.head.as_deref(),
        Some("9c1d4e2b7a5f3e8d6c0b1a2f4e6d8c0a1b3c5d7e")
    );
}

#[test]
fn missing_base_deleted_branch_push() {
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        (
            "GITHUB_EVENT_PATH",
            fixture("github-push-deleted-branch.json").to_str().unwrap(),
        ),
    ]);
    let choice = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap();
    assert_missing(
        &choice,
        BaseSource::GithubPush,
        "deleted refs/heads/feature/old-page",
    );
    assert_eq!(choice.head, None);
}

#[test]
fn missing_base_event_without_previous_commit() {
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        (
            "GITHUB_EVENT_PATH",
            fixture("github-workflow-dispatch.json").to_str().unwrap(),
        ),
    ]);
    let choice = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap();
    assert_missing(
        &choice,
        BaseSource::Undetected,
        "`workflow_dispatch` carries no previous",
    );
}

#[test]
fn missing_base_outside_ci() {
    let choice = changes::resolve_base(Some("auto"), &no_env).unwrap();
    assert_missing(&choice, BaseSource::Undetected, "found no CI event");
    // Empty values count as unset, as GitHub sends unset inputs.
    let env = env_of(&[("GITHUB_EVENT_NAME", ""), ("CI_COMMIT_BEFORE_SHA", " ")]);
    let choice = changes::resolve_base(None, &lookup(&env)).unwrap();
    assert_missing(&choice, BaseSource::Undetected, "found no CI event");
}

#[test]
fn missing_base_gitlab_first_pipeline() {
    let choice =
        changes::resolve_base(None, &lookup(&gitlab_env("gitlab-first-pipeline.json"))).unwrap();
    assert_missing(
        &choice,
        BaseSource::GitlabBefore,
        "first pipeline of a branch",
    );
}

#[test]
fn missing_base_gitlab_without_shas() {
    let choice = changes::resolve_base(None, &lookup(&gitlab_env("gitlab-no-shas.json"))).unwrap();
    assert_missing(
        &choice,
        BaseSource::GitlabBefore,
        "neither CI_MERGE_REQUEST_DIFF_BASE_SHA",
    );
}

// Input that is wrong is an error, not a missing base.

#[test]
fn bad_event_input_is_an_error_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("event.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let cases: Vec<(HashMap<String, String>, &str)> = vec![
        (
            env_of(&[
                ("GITHUB_EVENT_NAME", "push"),
                (
                    "GITHUB_EVENT_PATH",
                    fixture("github-push-bad-before.json").to_str().unwrap(),
                ),
            ]),
            "`before` = `HEAD~1; rm -rf /`, which is not a commit SHA",
        ),
        (
            env_of(&[("GITHUB_EVENT_NAME", "push")]),
            "GITHUB_EVENT_PATH: not set",
        ),
        (
            env_of(&[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_EVENT_PATH", garbage.to_str().unwrap()),
            ]),
            "the event file is not JSON",
        ),
        (
            env_of(&[
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_EVENT_PATH", "/nonexistent/event.json"),
            ]),
            "cannot read the event file",
        ),
        (
            env_of(&[
                ("GITHUB_EVENT_NAME", "pull_request"),
                (
                    "GITHUB_EVENT_PATH",
                    fixture("github-push.json").to_str().unwrap(),
                ),
            ]),
            "has no `pull_request.base.sha`",
        ),
        (
            env_of(&[("GITLAB_CI", "true"), ("CI_COMMIT_BEFORE_SHA", "main")]),
            "CI_COMMIT_BEFORE_SHA: `main` is not a commit SHA",
        ),
    ];
    for (env, says) in cases {
        let err = changes::resolve_base(Some("auto"), &lookup(&env)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(says), "{msg}\n  expected: {says}");
        assert!(msg.contains("fix: "), "{msg}");
    }
    let err = changes::resolve_base(Some("-oops"), &no_env).unwrap_err();
    assert!(err.to_string().contains("looks like an option"), "{err}");
}

// ---------------------------------------------------------------------------------------
// changes(): resolution, fetch on demand, diff

/// main: c1 → c2 → c3; branch feature: c2 → f1.
struct History {
    s: Scratch,
    c1: Oid,
    c2: Oid,
    c3: Oid,
    f1: Oid,
}

fn history() -> History {
    let s = Scratch::new();
    let c1 = s.commit(None, &[File(b"index.html", b"v1"), File(b"a.html", b"a")]);
    let c2 = s.commit(
        Some(c1),
        &[File(b"index.html", b"v2"), File(b"new page.html", b"n")],
    );
    let f1 = s.commit(Some(c2), &[File(b"feature.html", b"f")]);
    s.repo
        .reference("refs/heads/feature", f1, true, "test")
        .unwrap();
    let c3 = s.commit(Some(c2), &[Remove(b"a.html")]);
    History { s, c1, c2, c3, f1 }
}

#[test]
fn github_push_event_end_to_end_uses_after_as_head() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let event = github_event(
        dir.path(),
        "github-push.json",
        &[
            ("/before", &h.c1.to_string()),
            ("/after", &h.c2.to_string()),
        ],
    );
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ]);
    // HEAD is c3, but the event says the push ended at c2.
    let d = expect_diff(changes::changes(&h.s.path, Some("auto"), None, &lookup(&env)).unwrap());
    assert_eq!(
        (d.base.clone(), d.head.clone()),
        (h.c1.to_string(), h.c2.to_string())
    );
    assert_eq!(d.base_source, BaseSource::GithubPush);
    assert_eq!(
        d.changes,
        vec![modified("index.html"), added("new page.html")]
    );

    // --head wins over the event.
    let d = expect_diff(
        changes::changes(&h.s.path, Some("auto"), Some("HEAD"), &lookup(&env)).unwrap(),
    );
    assert_eq!(d.head, h.c3.to_string());
}

#[test]
fn gitlab_merge_request_end_to_end() {
    let h = history();
    let mut env = gitlab_env("gitlab-merge-request.json");
    env.insert("CI_MERGE_REQUEST_DIFF_BASE_SHA".into(), h.c2.to_string());
    let d = expect_diff(changes::changes(&h.s.path, None, None, &lookup(&env)).unwrap());
    assert_eq!(d.base_source, BaseSource::GitlabMergeRequest);
    assert_eq!(d.head, h.c3.to_string());
    assert_eq!(d.changes, vec![deleted("a.html")]);
}

#[test]
fn explicit_base_ref_end_to_end() {
    let h = history();
    let d = expect_diff(changes::changes(&h.s.path, Some("main~2"), None, &no_env).unwrap());
    assert_eq!(d.base, h.c1.to_string());
    assert_eq!(d.base_source, BaseSource::Explicit);
    assert_eq!(
        d.changes,
        vec![
            deleted("a.html"),
            modified("index.html"),
            added("new page.html")
        ]
    );
}

#[test]
fn missing_base_from_ci_still_resolves_head_for_files_at() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let event = github_event(
        dir.path(),
        "github-push-new-branch.json",
        &[("/after", &h.f1.to_string())],
    );
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ]);
    let m = expect_missing(changes::changes(&h.s.path, Some("auto"), None, &lookup(&env)).unwrap());
    assert_eq!(m.source, BaseSource::GithubPush);
    assert_eq!(m.head, h.f1.to_string());
    assert!(m.reason.contains("new branch or tag"), "{}", m.reason);
    assert_eq!(m.to_string(), m.reason);
    // What --on-missing-base all maps when it lists files:
    assert_eq!(
        changes::files_at(&h.s.path, &m.head).unwrap(),
        ["a.html", "feature.html", "index.html", "new page.html"]
    );
}

#[test]
fn missing_base_ref_not_here_is_not_fetched() {
    let h = history();
    let m =
        expect_missing(changes::changes(&h.s.path, Some("deployed/prod"), None, &no_env).unwrap());
    assert_eq!(m.source, BaseSource::Explicit);
    assert_eq!(m.head, h.c3.to_string());
    assert!(
        m.reason.contains("only full SHAs are fetched"),
        "{}",
        m.reason
    );
    assert!(
        m.reason.contains("git fetch origin deployed/prod"),
        "{}",
        m.reason
    );
}

#[test]
fn shallow_clone_fetches_the_missing_base_once_and_diffs() {
    let h = history();
    let (_dir, clone) = shallow_clone(&h.s.path, "main");
    assert!(Repository::open(&clone).unwrap().is_shallow());
    assert!(
        !has_commit(&clone, h.c1),
        "the shallow clone should lack c1"
    );

    let d = expect_diff(changes::changes(&clone, Some(&h.c1.to_string()), None, &no_env).unwrap());
    assert_eq!(
        (d.base.clone(), d.head.clone()),
        (h.c1.to_string(), h.c3.to_string())
    );
    assert_eq!(
        d.changes,
        vec![
            deleted("a.html"),
            modified("index.html"),
            added("new page.html")
        ]
    );
    assert!(has_commit(&clone, h.c1));
}

#[test]
fn shallow_clone_fetches_pull_request_base_and_head_together() {
    let h = history();
    // The job checked out main's tip; the pull request is feature (f1) onto c1.
    let (_dir, clone) = shallow_clone(&h.s.path, "main");
    assert!(!has_commit(&clone, h.c1) && !has_commit(&clone, h.f1));
    let dir = tempfile::tempdir().unwrap();
    let event = github_event(
        dir.path(),
        "github-pull-request.json",
        &[
            ("/pull_request/base/sha", &h.c1.to_string()),
            ("/pull_request/head/sha", &h.f1.to_string()),
        ],
    );
    let env = env_of(&[
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ]);
    let d = expect_diff(changes::changes(&clone, Some("auto"), None, &lookup(&env)).unwrap());
    assert_eq!(d.base_source, BaseSource::GithubPullRequest);
    assert_eq!(
        (d.base.clone(), d.head.clone()),
        (h.c1.to_string(), h.f1.to_string())
    );
    assert_eq!(
        d.changes,
        vec![
            added("feature.html"),
            modified("index.html"),
            added("new page.html")
        ]
    );
}

#[test]
fn shallow_clone_with_a_base_the_remote_lacks_is_a_missing_base_with_the_fix() {
    let h = history();
    let (_dir, clone) = shallow_clone(&h.s.path, "main");
    let gone = "0123456789abcdef0123456789abcdef01234567";
    let m = expect_missing(changes::changes(&clone, Some(gone), None, &no_env).unwrap());
    assert_eq!(m.source, BaseSource::Explicit);
    assert_eq!(m.head, h.c3.to_string());
    let r = &m.reason;
    assert!(r.contains(&format!("base commit {gone} (--base)")), "{r}");
    assert!(r.contains("(a shallow clone)"), "{r}");
    assert!(r.contains("fetch --no-tags --depth=1 origin"), "{r}");
    assert!(r.contains("failed: "), "{r}");
    assert!(
        r.contains("not our ref"),
        "git's own words should be kept: {r}"
    );
    assert!(
        r.contains("fetch-depth: 0") && r.contains("GIT_DEPTH: 0"),
        "{r}"
    );
    assert!(r.contains("--on-missing-base"), "{r}");
}

#[test]
fn a_head_that_cannot_be_fetched_is_an_error() {
    let h = history();
    let (_dir, clone) = shallow_clone(&h.s.path, "main");
    let gone = "0123456789abcdef0123456789abcdef01234567";
    let err = changes::changes(&clone, Some(&h.c3.to_string()), Some(gone), &no_env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("head `{gone}` is not a commit")),
        "{msg}"
    );
    assert!(msg.contains("failed: "), "{msg}");
    assert!(msg.contains("fetch-depth: 0"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// A repository owned by another user (CI containers), as root only.

const OWNER_CHILD_ENV: &str = "CDN_REFRESH_TEST_FOREIGN_REPO";

/// Root in a container reading a checkout owned by the runner's uid: libgit2 refuses it
/// (GIT_EOWNER) and so does git ("dubious ownership"), unless told otherwise. The check is
/// process-global, so the assertions run in a child process of this test binary where
/// nothing has switched it off yet.
#[test]
fn a_repository_owned_by_another_user_is_read_and_fetched_into() {
    let h = history();
    let (_dir, clone) = shallow_clone(&h.s.path, "main");
    let chown = Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(&clone)
        .output()
        .unwrap();
    if !chown.status.success() {
        eprintln!(
            "skipped: changing a repository's owner needs root ({})",
            String::from_utf8_lossy(&chown.stderr).trim()
        );
        return;
    }
    // git itself refuses it (with no safe.directory in any config)...
    let plain = Command::new("git")
        .arg("-C")
        .arg(&clone)
        .args(["rev-parse", "HEAD"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).contains("dubious ownership"));

    // ...and the child asserts libgit2 does too, then that `changes` reads it and fetches
    // the missing base into it.
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "foreign_owner_child",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            OWNER_CHILD_ENV,
            format!("{}\n{}\n{}", clone.display(), h.c1, h.c3),
        )
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("SUDO_UID")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && out.contains("1 passed"),
        "child failed:\n{out}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

#[test]
#[ignore = "run by a_repository_owned_by_another_user_is_read_and_fetched_into"]
fn foreign_owner_child() {
    let Ok(spec) = std::env::var(OWNER_CHILD_ENV) else {
        return;
    };
    let mut lines = spec.lines();
    let (clone, c1, c3) = (
        PathBuf::from(lines.next().unwrap()),
        lines.next().unwrap().to_owned(),
        lines.next().unwrap().to_owned(),
    );
    let err = Repository::open(&clone)
        .err()
        .expect("libgit2 should refuse the repository");
    assert_eq!(err.code(), git2::ErrorCode::Owner, "{err}");

    let d = expect_diff(changes::changes(&clone, Some(&c1), None, &no_env).unwrap());
    assert_eq!((d.base, d.head), (c1, c3));
    assert_eq!(
        d.changes,
        vec![
            deleted("a.html"),
            modified("index.html"),
            added("new page.html")
        ]
    );
}
