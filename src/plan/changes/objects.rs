//! The tree objects the walk reads, from several threads at once.
//!
//! Why gitoxide's object store (`gix-odb`) rather than libgit2's for this one job: libgit2
//! serialises reads from one pack on the pack's locks and a process-wide window lock, so
//! the walk's threads mostly waited on each other. Reading the 4,004 trees of the folders
//! benchmark (`benches/plan.py --shape folders`) took libgit2 52 ms on one thread and
//! 31-49 ms on two; gix-odb 43 ms on one and 22 ms on two (each thread with a handle and a
//! delta-base cache of its own, zlib-rs inflating).
//!
//! libgit2 still opens the repository, resolves revisions and fetches; it is also the
//! fallback for any tree gix-odb cannot read (an object it does not find, an error), so
//! what the walk can read and the errors it reports are libgit2's, as before.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use git2::{ErrorClass, ErrorCode, ObjectType, Odb, Oid, Repository};

use super::walk::WalkError;

/// How many delta bases each thread keeps inflated: trees in a pack are deltas of one
/// another in chains, and the same bases recur from one tree to the next.
const DELTA_BASES: usize = 64;

/// The bytes each thread's delta bases may hold, libgit2's bound for its own cache (gix's
/// default, 96 MiB a thread, is a lot for four threads walking huge directories).
const DELTA_BASE_BYTES: usize = 16 << 20;

/// The object store, shared by the walk's threads. gix-odb's side is opened when a walk
/// first goes parallel: a walk that stays on one thread (a deploy of a few files) reads
/// through libgit2, whose pack index is open already; opening gix-odb's too cost the
/// one-change plan of `benches/plan.py` 0.9 M instructions (a third more).
pub(super) struct Store {
    objects: PathBuf,
    /// `None` once gix-odb could not open it: every read then goes to libgit2.
    gix: OnceLock<Option<Arc<gix_odb::Store>>>,
}

impl Store {
    /// The store of `repo`'s objects directory (for a worktree, the main repository's).
    pub(super) fn of(repo: &Repository) -> Store {
        Store {
            objects: repo.commondir().join("objects"),
            gix: OnceLock::new(),
        }
    }

    /// A reader for one thread, falling back to libgit2 through `odb`; `shared`: it reads
    /// through gix-odb from the start (a helper thread), else only after [`Trees::share`].
    pub(super) fn reader<'o>(&'o self, odb: Fallback<'o>, shared: bool) -> Trees<'o> {
        Trees {
            store: self,
            gix: if shared { self.handle() } else { None },
            odb,
            spare: Vec::new(),
        }
    }

    /// A gix-odb handle with a delta-base cache of its own, for one thread.
    fn handle(&self) -> Option<gix_odb::HandleArc> {
        let store = self.gix.get_or_init(|| {
            gix_odb::Store::at_opts(
                self.objects.clone(),
                gix_hash::Kind::Sha1,
                &mut std::iter::empty(),
                gix_odb::store::init::Options::default(),
            )
            .ok()
            .map(Arc::new)
        });
        let mut handle = store.as_ref()?.to_cache_arc();
        handle.set_pack_cache(|| {
            Box::new(gix_pack::cache::lru::StaticLinkedList::<DELTA_BASES>::new(
                DELTA_BASE_BYTES,
            ))
        });
        Some(handle)
    }
}

/// Where a thread's reads fall back to libgit2.
pub(super) enum Fallback<'o> {
    /// The caller's object database.
    Odb(&'o Odb<'o>),
    /// The repository at this path, opened on the first fallback.
    Open {
        git_dir: &'o Path,
        repo: Option<Repository>,
    },
}

/// A raw tree object: its entries' bytes, and its id for error messages.
pub(super) struct Tree {
    pub(super) data: Vec<u8>,
    pub(super) id: Oid,
}

/// One thread's tree reader.
pub(super) struct Trees<'o> {
    store: &'o Store,
    gix: Option<gix_odb::HandleArc>,
    odb: Fallback<'o>,
    /// Buffers of trees done with, reused: a walk holds two trees a level and reads
    /// thousands.
    spare: Vec<Vec<u8>>,
}

impl Trees<'_> {
    /// Reads through gix-odb from now on: the walk has gone parallel.
    pub(super) fn share(&mut self) {
        if self.gix.is_none() {
            self.gix = self.store.handle();
        }
    }

    /// The tree `raw`; an error when it is missing or not a tree.
    pub(super) fn read(&mut self, raw: &[u8; 20]) -> Result<Tree, WalkError> {
        let id = Oid::from_bytes(raw)?;
        let mut data = self.spare.pop().unwrap_or_default();
        if let Some(gix) = &self.gix {
            use gix_object::Find;
            let found = gix.try_find(gix_hash::oid::from_bytes_unchecked(raw), &mut data);
            if let Ok(Some(object)) = found {
                if object.kind != gix_object::Kind::Tree {
                    return Err(not_a_tree(id, &object.kind.to_string()));
                }
                // The object's bytes lie somewhere in the buffer (or, empty, anywhere): keep
                // just them. Anything else is read again through libgit2.
                let (at, len) = (object.data.as_ptr() as usize, object.data.len());
                let start = (at as isize).wrapping_sub(data.as_ptr() as isize);
                if let Ok(start) = usize::try_from(start)
                    && start.checked_add(len).is_some_and(|end| end <= data.len())
                {
                    data.copy_within(start..start + len, 0);
                    data.truncate(len);
                    return Ok(Tree { data, id });
                }
                if len == 0 {
                    data.clear();
                    return Ok(Tree { data, id });
                }
            }
        }
        data.clear();
        let kind = self.fallback(id, &mut data)?;
        if kind != ObjectType::Tree {
            return Err(not_a_tree(id, &kind.to_string()));
        }
        Ok(Tree { data, id })
    }

    /// Takes back the buffer of a tree done with.
    pub(super) fn recycle(&mut self, tree: Option<Tree>) {
        if let Some(tree) = tree {
            self.spare.push(tree.data);
        }
    }

    /// Reads `id` through libgit2 into `data`: its kind.
    fn fallback(&mut self, id: Oid, data: &mut Vec<u8>) -> Result<ObjectType, WalkError> {
        let opened;
        let odb = match &mut self.odb {
            Fallback::Odb(odb) => *odb,
            Fallback::Open { git_dir, repo } => {
                let repo = match repo {
                    Some(repo) => repo,
                    None => repo.insert(Repository::open(*git_dir)?),
                };
                opened = repo.odb()?;
                &opened
            }
        };
        let object = odb.read(id)?;
        data.extend_from_slice(object.data());
        Ok(object.kind())
    }
}

fn not_a_tree(id: Oid, kind: &str) -> WalkError {
    WalkError::Git(git2::Error::new(
        ErrorCode::InvalidSpec,
        ErrorClass::Object,
        format!("the object {id} is a {kind}, not a tree"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with a tree of `n` files and a subtree; its tree ids, and a blob's.
    fn repo(n: usize) -> (tempfile::TempDir, Vec<Oid>, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = repo.blob(b"hello").unwrap();
        let mut sub = repo.treebuilder(None).unwrap();
        sub.insert("a.txt", blob, 0o100644).unwrap();
        let sub = sub.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        for i in 0..n {
            let content = format!("file {i}");
            let id = repo.blob(content.as_bytes()).unwrap();
            root.insert(format!("f{i}.html"), id, 0o100644).unwrap();
        }
        root.insert("sub", sub, 0o040000).unwrap();
        let root = root.write().unwrap();
        // A commit, so that `git repack` packs them.
        let signature = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(root).unwrap();
        repo.commit(Some("HEAD"), &signature, &signature, "t", &tree, &[])
            .unwrap();
        (dir, vec![root, sub], blob)
    }

    /// Each read, through gix-odb (`shared`) or libgit2 only: the bytes, or the error.
    fn read_all(dir: &Path, ids: &[Oid], shared: bool) -> Vec<Result<Vec<u8>, String>> {
        let repo = Repository::open(dir).unwrap();
        let (odb, store) = (repo.odb().unwrap(), Store::of(&repo));
        let mut trees = store.reader(Fallback::Odb(&odb), shared);
        assert_eq!(trees.gix.is_some(), shared);
        ids.iter()
            .map(|id| {
                let raw: [u8; 20] = id.as_bytes().try_into().unwrap();
                let tree = trees.read(&raw).map_err(|e| match e {
                    WalkError::Git(e) => e.message().to_string(),
                    WalkError::NonUtf8Path { lossy, .. } => lossy,
                })?;
                let bytes = tree.data.clone();
                trees.recycle(Some(tree));
                Ok(bytes)
            })
            .collect()
    }

    #[test]
    fn gix_odb_reads_what_libgit2_reads_loose_and_packed() {
        let (dir, trees, blob) = repo(200);
        let missing = Oid::from_str("0123456789012345678901234567890123456789").unwrap();
        // Stored nowhere: libgit2 knows it anyway.
        let empty_tree = Oid::hash_object(ObjectType::Tree, b"").unwrap();
        let ids = [trees.clone(), vec![blob, missing, empty_tree]].concat();
        let loose = read_all(dir.path(), &ids, false);
        assert!(
            loose[..2]
                .iter()
                .all(|r| r.as_ref().is_ok_and(|b| !b.is_empty()))
        );
        assert!(
            loose[2]
                .as_ref()
                .unwrap_err()
                .contains("is a blob, not a tree")
        );
        assert!(loose[3].is_err());
        assert_eq!(loose[4], Ok(Vec::new()));
        assert_eq!(read_all(dir.path(), &ids, true), loose);

        // Packed, with the trees as deltas where git finds them.
        let packed = std::process::Command::new("git")
            .args([
                "-C",
                &dir.path().to_string_lossy(),
                "repack",
                "-a",
                "-d",
                "-q",
            ])
            .status()
            .unwrap();
        assert!(packed.success());
        let loose_left = std::fs::read_dir(dir.path().join(".git/objects"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().len() == 2)
            .count();
        assert_eq!(loose_left, 0, "every object is in the pack now");
        assert_eq!(read_all(dir.path(), &ids, true), loose);
        assert_eq!(read_all(dir.path(), &ids, false), loose);
    }

    /// gix-odb finds the objects of a linked worktree (in the main repository) and of a
    /// `--shared` clone (in its alternate) itself: the fallback here cannot open anything.
    #[test]
    fn gix_odb_reads_worktrees_and_alternates_itself() {
        let (dir, trees, _) = repo(20);
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        let (worktree, shared) = (dir.path().join("wt"), dir.path().join("shared"));
        git(&[
            "worktree",
            "add",
            "-q",
            "--detach",
            &worktree.to_string_lossy(),
        ]);
        git(&["clone", "-q", "--shared", ".", &shared.to_string_lossy()]);
        assert!(shared.join(".git/objects/info/alternates").exists());
        let expected = Repository::open(dir.path())
            .unwrap()
            .odb()
            .unwrap()
            .read(trees[0])
            .unwrap()
            .data()
            .to_vec();
        let nowhere = dir.path().join("no-such-repository");
        for path in [&worktree, &shared] {
            let repo = Repository::open(path).unwrap();
            let store = Store::of(&repo);
            let mut trees_here = store.reader(
                Fallback::Open {
                    git_dir: &nowhere,
                    repo: None,
                },
                true,
            );
            let raw: [u8; 20] = trees[0].as_bytes().try_into().unwrap();
            let tree = trees_here.read(&raw).unwrap();
            assert_eq!(tree.data, expected, "{}", path.display());
        }
    }

    #[test]
    fn a_store_gix_odb_cannot_open_falls_back_to_libgit2() {
        let (dir, trees, _) = repo(3);
        let repo = Repository::open(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let store = Store {
            objects: dir.path().join("no-such-directory"),
            gix: OnceLock::new(),
        };
        let mut reader = store.reader(Fallback::Odb(&odb), true);
        assert!(reader.gix.is_none());
        let raw: [u8; 20] = trees[0].as_bytes().try_into().unwrap();
        let tree = reader.read(&raw).unwrap();
        assert_eq!(
            tree.data,
            repo.odb().unwrap().read(trees[0]).unwrap().data()
        );
        // A helper thread's fallback opens the repository itself.
        let git_dir = repo.path().to_owned();
        let mut helper = store.reader(
            Fallback::Open {
                git_dir: &git_dir,
                repo: None,
            },
            true,
        );
        assert_eq!(helper.read(&raw).unwrap().data, tree.data);
    }
}
