//! Tree-to-tree diff: walk the base and head trees side by side, in git's tree order,
//! and descend only into subtrees whose ids differ.
//!
//! Why not libgit2's `git_diff_tree_to_tree`: it visits every entry of both trees even
//! when a whole subtree is unchanged. Measured with `benches/changes.py` (100,000 files):
//! a one-file change took libgit2 67 ms, `git diff` 4 ms and this walk 3 ms; the
//! 20,000-change diff took libgit2 99 ms, `git diff --no-renames` 86 ms and this walk
//! 77 ms (17 MiB peak RSS). The walk skips equal subtrees as git does, allocates a path
//! only for an entry that changed, and never reads a blob. `tests/changes.rs` checks it
//! against libgit2's diff on generated trees.
//!
//! Trees are read as raw objects from the object database and parsed here, not through
//! `Repository::find_tree`: under callgrind on the benchmark, libgit2's tree parsing was
//! 15% of the walk's instructions (half of it a general `strtol` for every entry's mode),
//! this parser is 5%, and names need no `strlen` through the FFI. What is left is
//! finding and inflating the objects, about 80% of the walk, which is why a large diff is
//! walked by two threads (or more): see [`Walk::trees`]. On two otherwise idle cores the
//! 20,000-change diff then took 45-49 ms where one thread with `find_tree` took 75-80 ms
//! (`changes_bench`, diff alone); the one-file change stayed at 0.7 ms. Once the walk is
//! parallel its threads read through gix-odb, which they share without locks (see
//! [`super::objects`]).
//!
//! Renames are exact: a deleted and an added entry with the same blob id (both files or
//! both symlinks) are one rename, found by a hash join after the walk, so the cost is
//! linear and no blob is read. libgit2's `find_similar` compares every addition with up to
//! `rename_limit` (1,000) deletions taken in path order: quadratic, and past 1,000
//! deletions whether a rename is found depends on where its path sorts. On the benchmark,
//! with similarity scoring, it took 2.1 s (41 MiB) and found none of the 4,000 renames.
//! Similarity would also pair a renamed-and-edited file; for a CDN that changes nothing,
//! since a deletion plus an addition purges the same two paths as a rename.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

// foldhash, not std's SipHash: the keys are blob ids, nothing to defend against, and SipHash
// cost 2 M instructions on the folders benchmark's 5,000 deletions.
use foldhash::{HashMap, HashMapExt};
use git2::{ErrorClass, ErrorCode, Oid, Repository};

use super::objects::{Fallback, Store, Tree, Trees};
use super::{Change, ChangeKind};

const MODE_TYPE: u32 = 0o170000;
const MODE_TREE: u32 = 0o040000;
const MODE_LINK: u32 = 0o120000;
const MODE_GITLINK: u32 = 0o160000;

/// A SHA-1 object id as stored in a tree. libgit2 as built here reads SHA-1 repositories
/// only.
type RawId = [u8; 20];

/// The id of the empty blob (`git hash-object /dev/null`).
const EMPTY_BLOB: RawId = [
    0xe6, 0x9d, 0xe2, 0x9b, 0xb2, 0xd1, 0xd6, 0x43, 0x4b, 0x8b, 0x29, 0xae, 0x77, 0x5a, 0xd8, 0xc2,
    0xe4, 0x8c, 0x53, 0x91,
];

/// Once a walk has run this long, it starts helper threads for what is left, and its
/// threads read through gix-odb (see [`super::objects::Store`]). On the 100,000-file
/// benchmark repository, threads from the start made a 2 ms diff (10 files) slower and
/// gained from 3-4 ms (30 files) on; the one-file change takes 0.3 ms and never starts one.
const PARALLEL_AFTER: Duration = Duration::from_millis(1);

/// How many changed subtrees the walk splits a diff into, at least, before sharing them
/// out: enough that the last one to finish keeps the other threads idle only briefly. The
/// split reads a level of trees at a time on one thread: with 16, the benchmark split into
/// 6,900 units and spent 2.7 ms doing it; with 8 it stops at 12 units after 0.03 ms.
const SPLIT_INTO: usize = 8;

/// How many of the split's last subtrees are split once more (see [`Reader::split_tail`]).
/// With none, the benchmark's 12 units left one thread walking alone for the last tenth of
/// the diff (its last unit); splitting every unit a level further instead makes thousands
/// of units, read on one thread before the others start.
const TAIL_SPLITS: usize = 2;

/// A guess, not a measurement (the benchmark machine has two cores).
const MAX_THREADS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tree,
    /// A regular or executable file.
    File,
    Link,
    /// A submodule's commit.
    Gitlink,
}

fn kind(mode: u32) -> Kind {
    match mode & MODE_TYPE {
        MODE_TREE => Kind::Tree,
        MODE_LINK => Kind::Link,
        MODE_GITLINK => Kind::Gitlink,
        _ => Kind::File,
    }
}

/// One entry of a raw tree object, borrowed from it.
#[derive(Clone, Copy)]
struct Entry<'a> {
    mode: u32,
    name: &'a [u8],
    id: &'a RawId,
}

/// Git's tree order: names compared bytewise, a tree's name as if it ended with `/`
/// (git's `base_name_compare`). A file and a tree of the same name are two entries.
fn tree_order(a: &Entry<'_>, b: &Entry<'_>) -> Ordering {
    let (an, bn) = (a.name, b.name);
    let len = an.len().min(bn.len());
    an[..len].cmp(&bn[..len]).then_with(|| {
        let end = |name: &[u8], e: &Entry<'_>| match name.get(len) {
            Some(&c) => c,
            None if kind(e.mode) == Kind::Tree => b'/',
            None => 0,
        };
        end(an, a).cmp(&end(bn, b))
    })
}

/// The entries of a raw tree object (`<octal mode> <name>\0<20-byte id>`, repeated), in
/// the order stored, as libgit2 would list them.
struct Entries<'a> {
    rest: &'a [u8],
    /// For the error about a malformed tree.
    tree: Oid,
}

impl<'a> Entries<'a> {
    /// The next entry, checked as libgit2 checks it when it parses a tree.
    fn next(&mut self) -> Result<Option<Entry<'a>>, WalkError> {
        let rest = self.rest;
        if rest.is_empty() {
            return Ok(None);
        }
        // Nearly every entry is a plain file or a directory: skip the digit loop for them
        // (it was a third of the parsing time).
        let (mode, name_start) = if rest.starts_with(b"100644 ") {
            (0o100644, 7)
        } else if rest.starts_with(b"40000 ") {
            (0o040000, 6)
        } else {
            self.mode()?
        };
        let name_len = match rest.get(name_start..).and_then(find_nul) {
            None => return Err(self.malformed("object is corrupted")),
            Some(0) => return Err(self.malformed("can't parse filename")),
            Some(len) => len,
        };
        let id_start = name_start + name_len + 1;
        let Some(id) = rest.get(id_start..id_start + 20) else {
            return Err(self.malformed("can't parse OID"));
        };
        self.rest = &rest[id_start + 20..];
        Ok(Some(Entry {
            mode,
            name: &rest[name_start..id_start - 1],
            id: id.try_into().expect("20 bytes"),
        }))
    }

    /// Any other mode (octal, at most 0o177777) and where the name after it starts.
    fn mode(&self) -> Result<(u32, usize), WalkError> {
        let digits = self.rest.iter().take_while(|c| matches!(c, b'0'..=b'7'));
        let (mode, count) = digits.fold((0u32, 0), |(mode, n), &c| {
            (mode.saturating_mul(8) | u32::from(c - b'0'), n + 1)
        });
        if count == 0 || mode > u32::from(u16::MAX) {
            return Err(self.malformed("can't parse filemode"));
        }
        if self.rest.get(count) != Some(&b' ') {
            return Err(self.malformed("missing space after filemode"));
        }
        Ok((mode, count + 1))
    }

    fn malformed(&self, what: &str) -> WalkError {
        WalkError::Git(git2::Error::new(
            ErrorCode::GenericError,
            ErrorClass::Tree,
            format!("failed to parse tree {}: {what}", self.tree),
        ))
    }
}

/// Where the first NUL byte is, eight bytes at a time: a name's end, found for every entry
/// of every tree read, and a byte-by-byte search was a third of the parsing time.
fn find_nul(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // The classic "has a zero byte" test: the lowest flagged byte is the first zero
        // (a false positive can only follow a true zero, never precede it).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(at + zeros.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = bytes[at..].iter().position(|&c| c == 0)?;
    Some(at + tail)
}

/// Calls `f` for each name whose entries differ between two raw trees (`None` on the side
/// it is missing from), in tree order. Equal entries, whole subtrees included, are
/// skipped here: comparing their ids is the walk's whole trick.
fn differing<'a>(
    old: Entries<'a>,
    new: Entries<'a>,
    mut f: impl FnMut(Option<Entry<'a>>, Option<Entry<'a>>) -> Result<(), WalkError>,
) -> Result<(), WalkError> {
    let (mut old, mut new) = (old, new);
    let (mut o, mut n) = (old.next()?, new.next()?);
    loop {
        match (o, n) {
            (None, None) => return Ok(()),
            (Some(oe), Some(ne)) => match tree_order(&oe, &ne) {
                Ordering::Less => {
                    f(Some(oe), None)?;
                    o = old.next()?;
                }
                Ordering::Greater => {
                    f(None, Some(ne))?;
                    n = new.next()?;
                }
                Ordering::Equal => {
                    if oe.id != ne.id || oe.mode != ne.mode {
                        f(Some(oe), Some(ne))?;
                    }
                    (o, n) = (old.next()?, new.next()?);
                }
            },
            (Some(_), None) => {
                f(o, None)?;
                o = old.next()?;
            }
            (None, Some(_)) => {
                f(None, n)?;
                n = new.next()?;
            }
        }
    }
}

#[derive(Debug)]
pub(super) enum WalkError {
    Git(git2::Error),
    NonUtf8Path { lossy: String, commit: Oid },
}

impl From<git2::Error> for WalkError {
    fn from(e: git2::Error) -> Self {
        WalkError::Git(e)
    }
}

/// What a walk found.
pub(super) struct Found {
    /// In git's tree order (depth first), renames at their new path.
    pub changes: Vec<Change>,
    pub skipped_submodules: Vec<String>,
}

/// One side of a changed name: its mode and object id.
#[derive(Clone, Copy)]
struct Side {
    mode: u32,
    id: RawId,
}

impl Side {
    fn of(e: Entry<'_>) -> Self {
        Side {
            mode: e.mode,
            id: *e.id,
        }
    }

    fn is_tree(self) -> bool {
        kind(self.mode) == Kind::Tree
    }
}

/// A piece of the diff that one thread walks whole: a changed name, with its path (a
/// subtree's `/`-terminated, empty for the root).
struct Unit {
    path: Vec<u8>,
    old: Option<Side>,
    new: Option<Side>,
}

impl Unit {
    fn is_tree(&self) -> bool {
        self.old.is_some_and(Side::is_tree) || self.new.is_some_and(Side::is_tree)
    }
}

/// Exact-rename candidate: blob id and whether it is a symlink.
type RenameKey = (RawId, bool);

/// What one unit of the diff found. Indices are into its own `changes`.
#[derive(Default)]
struct Part {
    changes: Vec<Change>,
    skipped_submodules: Vec<String>,
    deleted: Vec<(usize, RenameKey)>,
    added: Vec<(usize, RenameKey)>,
}

/// What every thread's walker needs to know.
#[derive(Clone, Copy)]
struct Settings {
    /// Commits, for the message about a path that is not UTF-8.
    base: Oid,
    head: Oid,
    find_renames: bool,
}

pub(super) struct Walk<'r> {
    repo: &'r Repository,
    settings: Settings,
    /// See [`PARALLEL_AFTER`]; tests set zero to exercise the threads on small trees.
    parallel_after: Duration,
    /// How many threads may walk; `None`: as many as there are cores, up to
    /// [`MAX_THREADS`], asked only when helpers are due (reading the CPU quota takes a dozen
    /// system calls, which a one-file diff need not pay).
    threads: Option<usize>,
    found: Part,
}

impl<'r> Walk<'r> {
    pub(super) fn new(repo: &'r Repository, base: Oid, head: Oid, find_renames: bool) -> Self {
        Walk {
            repo,
            settings: Settings {
                base,
                head,
                find_renames,
            },
            parallel_after: PARALLEL_AFTER,
            threads: None,
            found: Part::default(),
        }
    }

    /// Diffs two trees (`None` = empty); call once per walk, then [`Walk::finish`].
    ///
    /// The walk first splits the diff, breadth first from the root, into at least
    /// [`SPLIT_INTO`] changed subtrees (or until nothing is left to split: a small change
    /// is walked entirely here). The units, each a changed name, are then walked in tree
    /// order by this thread; once the walk has taken [`PARALLEL_AFTER`], helper threads
    /// join in, each taking the next unit no thread has taken. Every unit's findings are
    /// kept apart and joined in tree order at the end, so the result (order, renames,
    /// submodules, and which error comes first) is exactly one thread's.
    pub(super) fn trees(&mut self, base: Option<Oid>, head: Option<Oid>) -> Result<(), WalkError> {
        let started = Instant::now();
        let side = |id: Option<Oid>| -> Option<Side> {
            id.map(|id| Side {
                mode: MODE_TREE,
                id: id.as_bytes().try_into().expect("a SHA-1 id"),
            })
        };
        let root = Unit {
            path: Vec::new(),
            old: side(base),
            new: side(head),
        };
        let odb = self.repo.odb()?;
        let store = Store::of(self.repo);
        let units =
            Reader::new(store.reader(Fallback::Odb(&odb), false), self.settings).split(root);

        let next = AtomicUsize::new(0);
        let git_dir = self.repo.path().to_owned();
        let (threads, settings) = (self.threads, self.settings);
        let mut results = std::thread::scope(|scope| {
            let mut helpers = Vec::new();
            let mut start_helpers = || {
                let threads = threads.unwrap_or_else(|| {
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    cores.min(MAX_THREADS)
                });
                let left = units
                    .len()
                    .saturating_sub(next.load(AtomicOrdering::Relaxed));
                for _ in 1..threads.min(left + 1) {
                    let (units, next, git_dir, store) = (&units, &next, &git_dir, &store);
                    helpers.push(scope.spawn(move || {
                        let trees = store.reader(
                            Fallback::Open {
                                git_dir,
                                repo: None,
                            },
                            true,
                        );
                        Reader::new(trees, settings).units(units, next)
                    }));
                }
            };
            let mut reader = Reader::new(store.reader(Fallback::Odb(&odb), false), settings);
            if threads != Some(1)
                && let Some(due) = started.checked_add(self.parallel_after)
            {
                reader.helpers = Some((due, &mut start_helpers));
            }
            let mut mine = reader.units(&units, &next);
            for helper in helpers {
                match helper.join() {
                    Ok(theirs) => mine.extend(theirs),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            mine
        });
        results.sort_unstable_by_key(|(i, _)| *i);
        // One allocation for all the changes, not one per doubling of a list that tens of
        // thousands of them pass through.
        let total: usize = results
            .iter()
            .map(|(_, result)| result.as_ref().map_or(0, |part| part.changes.len()))
            .sum();
        self.found.changes.reserve(total);
        for (_, result) in results {
            self.append(result?);
        }
        Ok(())
    }

    fn append(&mut self, part: Part) {
        let offset = self.found.changes.len();
        let shift = |(i, key): (usize, RenameKey)| (i + offset, key);
        self.found
            .deleted
            .extend(part.deleted.into_iter().map(shift));
        self.found.added.extend(part.added.into_iter().map(shift));
        self.found.changes.extend(part.changes);
        self.found
            .skipped_submodules
            .extend(part.skipped_submodules);
    }

    /// The changes, with exact renames paired.
    pub(super) fn finish(self) -> Found {
        let Part {
            mut changes,
            skipped_submodules,
            deleted,
            added,
        } = self.found;
        pair_renames(&mut changes, deleted, added);
        Found {
            changes,
            skipped_submodules,
        }
    }
}

/// One thread's walker, with a reader of trees of its own.
struct Reader<'o, 'h> {
    trees: Trees<'o>,
    settings: Settings,
    /// The path being walked: a directory's `/`-terminated, empty at the root.
    path: Vec<u8>,
    part: Part,
    /// When to start helper threads, and how; taken when called. Checked before each
    /// tree is read, not only between units: a unit can be a tenth of the diff.
    helpers: Option<(Instant, &'h mut dyn FnMut())>,
}

impl<'o> Reader<'o, '_> {
    fn new(trees: Trees<'o>, settings: Settings) -> Self {
        Reader {
            trees,
            settings,
            path: Vec::new(),
            part: Part::default(),
            helpers: None,
        }
    }

    /// Walks units, each the next one no thread has taken, until none is left or one
    /// fails: everything before a failed unit is then walked or being walked, and
    /// nothing after it counts.
    fn units(
        &mut self,
        units: &[Unit],
        next: &AtomicUsize,
    ) -> Vec<(usize, Result<Part, WalkError>)> {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, AtomicOrdering::Relaxed);
            let Some(unit) = units.get(i) else { break };
            let result = self.unit(unit);
            let failed = result.is_err();
            done.push((i, result));
            if failed {
                break;
            }
        }
        done
    }

    /// Splits `root` into the units that threads share out, in tree order: see
    /// [`Reader::breadth_first`] and [`Reader::split_tail`].
    fn split(&mut self, root: Unit) -> Vec<Unit> {
        let mut units = self.breadth_first(root);
        self.split_tail(&mut units);
        units
    }

    /// Splits `root` breadth first until there are [`SPLIT_INTO`] subtrees to share out
    /// or none: the units, in tree order.
    fn breadth_first(&mut self, root: Unit) -> Vec<Unit> {
        let mut units = vec![root];
        loop {
            let trees = units.iter().filter(|u| u.is_tree()).count();
            if trees == 0 || trees >= SPLIT_INTO {
                return units;
            }
            let mut finer = Vec::with_capacity(units.len());
            let mut failed = false;
            for unit in units {
                if !unit.is_tree() || failed {
                    finer.push(unit);
                    continue;
                }
                let before = finer.len();
                if self.children(&unit, &mut finer).is_err() {
                    // Left whole, walking it reports the error in its place in tree
                    // order (an error before it still comes first).
                    finer.truncate(before);
                    finer.push(unit);
                    failed = true;
                }
            }
            units = finer;
            if failed {
                return units;
            }
        }
    }

    /// Replaces the last [`TAIL_SPLITS`] subtrees of `units` by their changed names, in
    /// place (tree order is kept). Threads take units in order, so the ones taken last are
    /// then small and the threads finish together. A subtree that cannot be read is left
    /// whole: walking it reports the error in its place.
    fn split_tail(&mut self, units: &mut Vec<Unit>) {
        let mut end = units.len();
        for _ in 0..TAIL_SPLITS {
            let Some(i) = units[..end].iter().rposition(Unit::is_tree) else {
                return;
            };
            let mut children = Vec::new();
            if self.children(&units[i], &mut children).is_err() {
                return;
            }
            units.splice(i..=i, children);
            end = i;
        }
    }

    /// The changed names of a tree unit, as units.
    fn children(&mut self, unit: &Unit, out: &mut Vec<Unit>) -> Result<(), WalkError> {
        let old = self.read(unit.old)?;
        let new = self.read(unit.new)?;
        let result = differing(entries(&old), entries(&new), |o, n| {
            let mut path = Vec::with_capacity(unit.path.len() + 16);
            path.extend_from_slice(&unit.path);
            path.extend_from_slice(o.or(n).map_or(&[][..], |e| e.name));
            let mut unit = Unit {
                path,
                old: o.map(Side::of),
                new: n.map(Side::of),
            };
            if unit.is_tree() {
                unit.path.push(b'/');
            }
            out.push(unit);
            Ok(())
        });
        self.trees.recycle(old);
        self.trees.recycle(new);
        result
    }

    /// Walks one unit, from a fresh [`Part`].
    fn unit(&mut self, unit: &Unit) -> Result<Part, WalkError> {
        self.part = Part::default();
        self.path.clear();
        self.path.extend_from_slice(&unit.path);
        if unit.is_tree() {
            self.trees(unit.old, unit.new)?;
        } else {
            self.leaf(unit.old, unit.new)?;
        }
        Ok(std::mem::take(&mut self.part))
    }

    /// A tree's raw object (`None` stays `None`, as does a side that is not a tree: a
    /// tree on one side only is compared with nothing).
    fn read(&mut self, side: Option<Side>) -> Result<Option<Tree>, WalkError> {
        match side.filter(|s| s.is_tree()) {
            Some(side) => self.trees.read(&side.id).map(Some),
            None => Ok(None),
        }
    }

    /// Diffs the trees of two sides at `self.path` (a `/`-terminated directory).
    fn trees(&mut self, old: Option<Side>, new: Option<Side>) -> Result<(), WalkError> {
        if let Some((due, _)) = self.helpers
            && Instant::now() >= due
            && let Some((_, start)) = self.helpers.take()
        {
            start();
            self.trees.share();
        }
        let old = self.read(old)?;
        let new = self.read(new)?;
        let result = differing(entries(&old), entries(&new), |o, n| self.entry(o, n));
        self.trees.recycle(old);
        self.trees.recycle(new);
        result
    }

    /// One name that differs between base and head (same name, same tree-ness).
    fn entry(&mut self, old: Option<Entry<'_>>, new: Option<Entry<'_>>) -> Result<(), WalkError> {
        let name = old.or(new).map_or(&[][..], |e| e.name);
        let dir_len = self.path.len();
        self.path.extend_from_slice(name);
        let (old, new) = (old.map(Side::of), new.map(Side::of));
        let result = if old.is_some_and(Side::is_tree) || new.is_some_and(Side::is_tree) {
            // Both trees, or a tree on one side only (tree order keeps a file and a
            // tree of the same name apart).
            self.path.push(b'/');
            self.trees(old, new)
        } else {
            self.leaf(old, new)
        };
        self.path.truncate(dir_len);
        result
    }

    /// A file, symlink or submodule at `self.path`.
    fn leaf(&mut self, old: Option<Side>, new: Option<Side>) -> Result<(), WalkError> {
        let old_kind = old.map(|e| kind(e.mode));
        let new_kind = new.map(|e| kind(e.mode));
        // A submodule's files live in another repository: list its path and move on. A
        // file replaced by a submodule (or the other way round) still counts as that file
        // deleted (or added).
        let old_file = old.filter(|_| old_kind != Some(Kind::Gitlink));
        let new_file = new.filter(|_| new_kind != Some(Kind::Gitlink));
        if old_kind == Some(Kind::Gitlink) || new_kind == Some(Kind::Gitlink) {
            let commit = if new_kind == Some(Kind::Gitlink) {
                self.settings.head
            } else {
                self.settings.base
            };
            let path = self.path_string(commit)?;
            self.part.skipped_submodules.push(path);
        }
        let index = self.part.changes.len();
        let kind = match (old_file, new_file) {
            (None, None) => return Ok(()),
            (Some(o), None) => {
                if let Some(key) = self.rename_key(o) {
                    self.part.deleted.push((index, key));
                }
                ChangeKind::Deleted
            }
            (None, Some(n)) => {
                if let Some(key) = self.rename_key(n) {
                    self.part.added.push((index, key));
                }
                ChangeKind::Added
            }
            (Some(_), Some(_)) if old_kind == new_kind => ChangeKind::Modified,
            (Some(_), Some(_)) => ChangeKind::TypeChanged,
        };
        let commit = if new_file.is_some() {
            self.settings.head
        } else {
            self.settings.base
        };
        let path = self.path_string(commit)?;
        self.part.changes.push(Change {
            kind,
            path,
            old_path: None,
        });
        Ok(())
    }

    fn rename_key(&self, side: Side) -> Option<RenameKey> {
        // Empty files are all "the same"; pairing them would invent renames (git skips
        // them too).
        (self.settings.find_renames && side.id != EMPTY_BLOB)
            .then(|| (side.id, kind(side.mode) == Kind::Link))
    }

    fn path_string(&self, commit: Oid) -> Result<String, WalkError> {
        match std::str::from_utf8(&self.path) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(WalkError::NonUtf8Path {
                lossy: String::from_utf8_lossy(&self.path).into_owned(),
                commit,
            }),
        }
    }
}

/// The entries of a tree read by [`Reader::read`] (none for `None`).
fn entries(tree: &Option<Tree>) -> Entries<'_> {
    match tree {
        Some(tree) => Entries {
            rest: &tree.data,
            tree: tree.id,
        },
        None => Entries {
            rest: &[],
            tree: Oid::ZERO_SHA1,
        },
    }
}

/// Turns each addition whose key a deletion shares into a rename, and drops that
/// deletion. Several files with the same content pair in tree order. Indices are into
/// `changes`, each list in tree order.
fn pair_renames(
    changes: &mut Vec<Change>,
    deleted: Vec<(usize, RenameKey)>,
    added: Vec<(usize, RenameKey)>,
) {
    if deleted.is_empty() || added.is_empty() {
        return;
    }
    // Each key's deletions in tree order: the next one to pair in `first`, each chained to
    // the one after it through `next` (a list per key without an allocation per key).
    let mut first: HashMap<RenameKey, Option<usize>> = HashMap::with_capacity(deleted.len());
    let mut next: Vec<Option<usize>> = vec![None; deleted.len()];
    for (i, &(_, key)) in deleted.iter().enumerate().rev() {
        next[i] = first.insert(key, Some(i)).flatten();
    }
    let mut gone = vec![false; changes.len()];
    for (added, key) in added {
        let Some(slot) = first.get_mut(&key) else {
            continue;
        };
        let Some(taken) = *slot else {
            continue;
        };
        *slot = next[taken];
        let deleted = deleted[taken].0;
        let old_path = std::mem::take(&mut changes[deleted].path);
        let change = &mut changes[added];
        change.kind = ChangeKind::Renamed;
        change.old_path = Some(old_path);
        gone[deleted] = true;
    }
    let mut i = 0;
    changes.retain(|_| {
        i += 1;
        !gone[i - 1]
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use git2::build::TreeUpdateBuilder;
    use git2::{FileMode, ObjectType};

    use super::*;

    /// xorshift64: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Path → (mode, content byte); names that stress tree order.
    type Leaves = BTreeMap<Vec<u8>, (FileMode, u8)>;

    fn random_leaves(rng: &mut Rng, n: usize) -> Leaves {
        const NAMES: [&str; 8] = ["a", "a.txt", "a-b", "a0", "b", "index.html", "z", "é"];
        let mut leaves = Leaves::new();
        for _ in 0..n {
            let depth = rng.below(4);
            let mut parts: Vec<String> = (0..depth)
                .map(|_| NAMES[rng.below(NAMES.len())].to_owned())
                .collect();
            // Mostly distinct file names, sometimes one that is also a directory's.
            parts.push(match rng.below(8) {
                0 => NAMES[rng.below(NAMES.len())].to_owned(),
                _ => format!("f{}", rng.below(1000)),
            });
            let path = parts.join("/").into_bytes();
            // A path must not be both a leaf and a directory.
            let clash = leaves.keys().any(|p: &Vec<u8>| {
                let (short, long) = if p.len() < path.len() {
                    (p, &path)
                } else {
                    (&path, p)
                };
                long.starts_with(short) && long.get(short.len()) == Some(&b'/')
            });
            if !clash {
                let mode = [
                    FileMode::Blob,
                    FileMode::Blob,
                    FileMode::Link,
                    FileMode::Commit,
                ][rng.below(4)];
                leaves.insert(path, (mode, rng.below(6) as u8));
            }
        }
        leaves
    }

    fn mutate(rng: &mut Rng, base: &Leaves) -> Leaves {
        let mut head = Leaves::new();
        for (path, &(mode, content)) in base {
            match rng.below(10) {
                0 => {} // deleted
                1 => {
                    head.insert(path.clone(), (mode, content.wrapping_add(1)));
                }
                2 => {
                    // Moved, same content: a rename.
                    let mut moved = b"moved/".to_vec();
                    moved.extend_from_slice(path);
                    head.insert(moved, (mode, content));
                }
                3 => {
                    head.insert(path.clone(), (FileMode::Link, content));
                }
                _ => {
                    head.insert(path.clone(), (mode, content));
                }
            }
        }
        head
    }

    fn commit(repo: &Repository, leaves: &Leaves) -> Oid {
        let empty = repo.treebuilder(None).unwrap().write().unwrap();
        let mut update = TreeUpdateBuilder::new();
        for (path, &(mode, content)) in leaves {
            let id = match mode {
                // Any id will do for a submodule's commit.
                FileMode::Commit => Oid::hash_object(ObjectType::Commit, &[content]).unwrap(),
                _ => repo.blob(&[content]).unwrap(),
            };
            let path = Path::new(std::str::from_utf8(path).unwrap());
            update.upsert(path, id, mode);
        }
        let tree = update
            .create_updated(repo, &repo.find_tree(empty).unwrap())
            .unwrap();
        let sig = git2::Signature::now("Test", "test@example.com").unwrap();
        let tree = repo.find_tree(tree).unwrap();
        repo.commit(None, &sig, &sig, "test", &tree, &[]).unwrap()
    }

    fn tree_of(repo: &Repository, commit: Oid) -> Oid {
        repo.find_commit(commit).unwrap().tree_id()
    }

    /// Walks base..head with `threads` threads (one: the plain walk; more: helpers from
    /// the first unit on, however small the trees).
    fn walk(repo: &Repository, base: Oid, head: Oid, threads: usize) -> Result<Found, String> {
        let mut walk = Walk::new(repo, base, head, true);
        walk.threads = Some(threads);
        walk.parallel_after = if threads == 1 {
            Duration::MAX
        } else {
            Duration::ZERO
        };
        let trees = walk.trees(Some(tree_of(repo, base)), Some(tree_of(repo, head)));
        match trees {
            Ok(()) => Ok(walk.finish()),
            Err(WalkError::Git(e)) => Err(e.to_string()),
            Err(WalkError::NonUtf8Path { lossy, commit }) => Err(format!("{lossy} in {commit}")),
        }
    }

    #[test]
    fn threads_find_exactly_what_one_thread_finds() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut kinds = std::collections::HashSet::new();
        for seed in 1..=5u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let base = random_leaves(&mut rng, 300);
            let head = mutate(&mut rng, &base);
            let (b, h) = (commit(&repo, &base), commit(&repo, &head));
            let one = walk(&repo, b, h, 1).unwrap();
            let root = || Unit {
                path: Vec::new(),
                old: Some(Side {
                    mode: MODE_TREE,
                    id: tree_of(&repo, b).as_bytes().try_into().unwrap(),
                }),
                new: Some(Side {
                    mode: MODE_TREE,
                    id: tree_of(&repo, h).as_bytes().try_into().unwrap(),
                }),
            };
            let (odb, store) = (repo.odb().unwrap(), Store::of(&repo));
            let trees = store.reader(Fallback::Odb(&odb), false);
            let mut reader = Reader::new(trees, Walk::new(&repo, b, h, true).settings);
            let coarse = reader.breadth_first(root());
            let split = reader.split(root());
            assert!(split.len() > 4, "seed {seed}: {} units", split.len());
            // The threads below walk units of both sizes: the last subtrees were split
            // once more.
            assert!(
                split.len() > coarse.len(),
                "seed {seed}: {} units, {} before the tail was split",
                split.len(),
                coarse.len()
            );
            assert!(
                one.changes.len() > 20,
                "seed {seed}: too few changes to split"
            );
            kinds.extend(one.changes.iter().map(|c| c.kind));
            for threads in [2, 3, 4] {
                let many = walk(&repo, b, h, threads).unwrap();
                assert_eq!(many.changes, one.changes, "seed {seed}, {threads} threads");
                assert_eq!(
                    many.skipped_submodules, one.skipped_submodules,
                    "seed {seed}, {threads} threads"
                );
            }
        }
        assert!(kinds.contains(&ChangeKind::Renamed), "{kinds:?}");
        assert!(kinds.contains(&ChangeKind::TypeChanged), "{kinds:?}");
    }

    /// The error is the first one in tree order, as with one thread, though a later unit
    /// (walked by another thread) has one too.
    #[test]
    fn threads_report_the_first_non_utf8_path() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = |c: &[u8]| repo.blob(c).unwrap();
        // Trees by hand: TreeUpdateBuilder takes UTF-8 paths only.
        let dir_with = |names: &[&[u8]], content: &[u8]| {
            let mut tb = repo.treebuilder(None).unwrap();
            for name in names {
                tb.insert(name, blob(content), 0o100644).unwrap();
            }
            tb.write().unwrap()
        };
        let root = |content: &[u8]| {
            let mut tb = repo.treebuilder(None).unwrap();
            for d in 0..40u8 {
                let mut names: Vec<&[u8]> = vec![b"ok.txt"];
                if d == 7 || d == 30 {
                    names.push(b"bad-\xff.txt");
                }
                let name = format!("d{d:02}");
                tb.insert(name, dir_with(&names, content), 0o040000)
                    .unwrap();
            }
            tb.write().unwrap()
        };
        let sig = git2::Signature::now("Test", "test@example.com").unwrap();
        let commit = |tree: Oid| {
            let tree = repo.find_tree(tree).unwrap();
            repo.commit(None, &sig, &sig, "test", &tree, &[]).unwrap()
        };
        let (b, h) = (commit(root(b"one")), commit(root(b"two")));
        let one = walk(&repo, b, h, 1).err().unwrap();
        assert!(one.starts_with("d07/bad-\u{fffd}.txt in "), "{one}");
        for threads in [2, 3, 4] {
            assert_eq!(
                walk(&repo, b, h, threads).err().unwrap(),
                one,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn empty_blob_is_the_empty_blob() {
        let id = Oid::hash_object(ObjectType::Blob, b"").unwrap();
        assert_eq!(id.as_bytes(), EMPTY_BLOB);
    }

    #[test]
    fn malformed_trees_are_errors() {
        let id = Oid::hash_object(ObjectType::Tree, b"").unwrap();
        let cases: [&[u8]; 7] = [
            b"100644 a\0short",
            b"100644 a",
            b"100644 \0aaaaaaaaaaaaaaaaaaaa",
            b"10064x a\0aaaaaaaaaaaaaaaaaaaa",
            b"a\0aaaaaaaaaaaaaaaaaaaa",
            b"200000 a\0aaaaaaaaaaaaaaaaaaaa",
            b"1006440 a\0aaaaaaaaaaaaaaaaaaaa",
        ];
        for data in cases {
            let mut entries = Entries {
                rest: data,
                tree: id,
            };
            assert!(entries.next().is_err(), "{data:?}");
        }
        let mut entries = Entries {
            rest: b"40000 d\0aaaaaaaaaaaaaaaaaaaa100644 f\0bbbbbbbbbbbbbbbbbbbb120000 l\0cccccccccccccccccccc",
            tree: id,
        };
        let first = entries.next().ok().flatten().unwrap();
        assert_eq!(
            (first.mode, first.name, first.id),
            (0o40000, &b"d"[..], b"aaaaaaaaaaaaaaaaaaaa")
        );
        let second = entries.next().ok().flatten().unwrap();
        assert_eq!((second.mode, second.name), (0o100644, &b"f"[..]));
        let third = entries.next().ok().flatten().unwrap();
        assert_eq!((third.mode, third.name), (0o120000, &b"l"[..]));
        assert!(entries.next().ok().unwrap().is_none());
    }
}
