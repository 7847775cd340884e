//! What a run will do: the URLs per operation, before any limit or network is involved.
//!
//! A plan is pure data. Batches, quota needs and the `plan` command's output are all
//! derived from it, so a dry run shows exactly what a real run would send.
//!
//! Two sources make plans: URL lists ([`Plan::from_urls`]) and git changes mapped through
//! the rules ([`Plan::from_changes`]); [`Plan::merge`] combines them without duplicates.
//! Directory collapse is decided here from the changes alone (more than N changed paths with
//! a refreshed URL directly in one directory URL); whether the day's directory quota covers
//! it needs the network, so the run decides it with the quota it reads
//! ([`crate::send::run`]), calling [`Plan::uncollapse`] when it does not. The plan carries its
//! collapses through the run; the report copies them at the end.
//!
//! Beside the plan: [`changes`] (the git diff and the base of a deploy), [`rules`] (changed
//! paths → URLs) and [`batching`] (a plan's URLs → requests within the provider's limits).

pub mod batching;
pub mod cap;
pub mod changes;
pub mod rules;

use std::collections::BTreeMap;

// foldhash, not std's SipHash: in a profile of the 20,000-change benchmark SipHash was a fifth
// of planning, and these keys are the repository's own paths, nothing to defend against.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use serde::{Deserialize, Serialize};

use self::batching::BatchRef;
use crate::plan::changes::{Change, ChangeKind};
use crate::plan::rules::{Mapped, RuleSet};
use crate::providers::{Batch, BatchKind, Limits, ObjectType, QuotaKind};

/// Which operations a run performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskMode {
    Refresh,
    Prefetch,
    /// Refresh, then prefetch each URL once its refresh task has completed.
    Both,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// URLs to refresh, by how they are matched.
    pub refresh: BTreeMap<ObjectType, Vec<String>>,
    /// URLs to prefetch.
    pub prefetch: Vec<String>,
    /// Prefetch a URL only after its refresh completed (`--task both`).
    pub prefetch_after_refresh: bool,
    /// The directories refreshed in place of the changed files under them (git mode's
    /// `--collapse-threshold`), each with what became of it: undone when the quota cannot
    /// cover it, or when the provider refused the directory. This is their one home; the
    /// report copies them when the run is over.
    pub collapses: Vec<Collapse>,
    /// When the provider refuses a collapsed directory, refresh its files instead
    /// (`--on-dir-refresh-denied files`).
    pub fallback_to_files: bool,
}

/// Written as `plan --format json` has always shown it: the collapses as
/// `directory_fallback`, directory URL → the file URLs it stands for.
impl Serialize for Plan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fallback = self.directory_fallback();
        let mut out = s.serialize_struct("Plan", 4)?;
        out.serialize_field("refresh", &self.refresh)?;
        out.serialize_field("prefetch", &self.prefetch)?;
        out.serialize_field("prefetch_after_refresh", &self.prefetch_after_refresh)?;
        if fallback.is_empty() {
            out.skip_field("directory_fallback")?;
        } else {
            out.serialize_field("directory_fallback", &fallback)?;
        }
        out.end()
    }
}

impl Plan {
    /// Collapsed directory URL → the file URLs it stands for, refreshed instead if the
    /// provider refuses the directory: the collapses still applied, when the plan falls
    /// back to files.
    pub fn directory_fallback(&self) -> BTreeMap<&str, &[String]> {
        if !self.fallback_to_files {
            return BTreeMap::new();
        }
        self.collapses
            .iter()
            .filter(|c| c.not_applied.is_none())
            .map(|c| (c.directory.as_str(), c.urls.as_slice()))
            .collect()
    }

    /// The plan for a URL list. `object_type` applies to refresh; prefetch takes files only
    /// (the caller has checked that).
    pub fn from_urls(urls: Vec<String>, task: TaskMode, object_type: ObjectType) -> Plan {
        let mut plan = Plan::default();
        if urls.is_empty() {
            return plan;
        }
        match task {
            TaskMode::Refresh => {
                plan.refresh.insert(object_type, urls);
            }
            TaskMode::Prefetch => plan.prefetch = urls,
            TaskMode::Both => {
                plan.prefetch = urls.clone();
                plan.refresh.insert(object_type, urls);
                plan.prefetch_after_refresh = true;
            }
        }
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.refresh.values().all(Vec::is_empty) && self.prefetch.is_empty()
    }

    /// Refresh batches, filled to the provider's limits.
    pub fn refresh_batches(&self, limits: &Limits, batch_size: Option<usize>) -> Vec<Batch> {
        let refs = self.refresh_batch_refs(limits, batch_size);
        refs.iter().map(BatchRef::to_batch).collect()
    }

    /// [`Plan::refresh_batches`], borrowing the plan's URLs.
    pub fn refresh_batch_refs(
        &self,
        limits: &Limits,
        batch_size: Option<usize>,
    ) -> Vec<BatchRef<'_>> {
        self.refresh
            .iter()
            .flat_map(|(t, urls)| {
                batching::batch_refs_within_rates(BatchKind::refresh(*t), urls, limits, batch_size)
            })
            .collect()
    }

    /// Prefetch batches for `urls`.
    pub fn prefetch_batches(
        urls: &[String],
        limits: &Limits,
        batch_size: Option<usize>,
    ) -> Vec<Batch> {
        batching::batches(BatchKind::PREFETCH, urls, limits, batch_size)
    }

    /// [`Plan::prefetch_batches`], borrowing `urls`.
    pub fn prefetch_batch_refs<'a>(
        urls: &'a [String],
        limits: &Limits,
        batch_size: Option<usize>,
    ) -> Vec<BatchRef<'a>> {
        batching::batch_refs(BatchKind::PREFETCH, urls, limits, batch_size)
    }

    /// How much of each daily quota the plan uses.
    pub fn quota_needs(&self) -> BTreeMap<QuotaKind, u64> {
        let mut needs = BTreeMap::new();
        for (t, urls) in &self.refresh {
            if !urls.is_empty() {
                *needs
                    .entry(BatchKind::refresh(*t).quota_kind())
                    .or_default() += urls.len() as u64;
            }
        }
        if !self.prefetch.is_empty() {
            *needs.entry(QuotaKind::Prefetch).or_default() += self.prefetch.len() as u64;
        }
        needs
    }
}

/// A mapped URL longer than the provider accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// The repository path it was mapped from (or `root` for a rule root).
    pub path: String,
    pub url: String,
    pub max: usize,
}

/// One directory refreshed in place of the changed files under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collapse {
    pub directory: String,
    /// The changed repository paths under the directory.
    pub files: Vec<String>,
    /// The file URLs the directory refresh replaces.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Set when the collapse was undone (the files are refreshed instead), with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
}

/// The git part of a run: the changes mapped through the rules, then collapsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitPlan {
    /// The plan, with its collapses.
    pub plan: Plan,
    /// Distinct changed paths no rule matched.
    pub unmapped: usize,
    /// Distinct changed paths an exclude rule matched.
    pub excluded: usize,
    /// The first [`MAX_LISTED_PATHS`] of each, so a user sees what was left out.
    pub unmapped_paths: Vec<String>,
    pub excluded_paths: Vec<String>,
}

/// How many unmapped or excluded paths a plan lists (it counts them all).
pub const MAX_LISTED_PATHS: usize = 100;

/// The directory URL a file URL sits in: everything up to its last `/` (before any query).
fn parent_dir(url: &str) -> &str {
    let path_end = url.find('?').unwrap_or(url.len());
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[..path_end].rfind('/') {
        Some(i) if i >= after_scheme => &url[..=i],
        _ => url,
    }
}

/// The shortest directory URL that `url` starts with, among those `is_dir` accepts. Directory
/// URLs end with `/`, so only the prefixes of `url` that end at one of its `/` can be one: a
/// lookup per `/` instead of a comparison with every directory.
fn under(url: &str, is_dir: impl Fn(&str) -> bool) -> Option<&str> {
    url.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'/')
        .map(|(i, _)| &url[..=i])
        .find(|prefix| is_dir(prefix))
}

fn check_len(path: &str, url: &str, limits: &Limits) -> Result<(), TooLong> {
    if url.len() > limits.max_url_len {
        return Err(TooLong {
            path: path.to_string(),
            url: url.to_string(),
            max: limits.max_url_len,
        });
    }
    Ok(())
}

impl Plan {
    /// The plan for a git diff: deleted and modified paths are refreshed; added and modified
    /// ones prefetched (when `task` prefetches); a rename refreshes the old path's URLs and
    /// prefetches the new one's; a type change counts as a modification. Each path goes
    /// through `rules`; a whole-site match refreshes every root as a directory.
    ///
    /// With `collapse_threshold` `Some(n)` and a provider that refreshes directories, when
    /// more than `n` changed paths have a refreshed URL directly in one directory URL, that
    /// directory is refreshed instead of the files in it (and below it). File refreshes that a
    /// refreshed directory covers are dropped. Prefetch always takes files.
    pub fn from_changes(
        changes: &[Change],
        rules: &RuleSet,
        task: TaskMode,
        limits: &Limits,
        collapse_threshold: Option<usize>,
    ) -> Result<GitPlan, TooLong> {
        let refresh_wanted = task != TaskMode::Prefetch;
        let prefetch_wanted = task != TaskMode::Refresh;

        // Each distinct path is mapped once; `uses` keeps (distinct path, refreshing) in
        // change order. Everything below refers to a URL by its index in `urls`, and the
        // plan takes the strings over at the end: with tens of thousands of changes, copying
        // and hashing every URL several times cost more than the diff itself.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(changes.len());
        let mut paths: Vec<&str> = Vec::with_capacity(changes.len());
        let mut uses: Vec<(usize, bool)> = Vec::with_capacity(changes.len() * 2);
        for change in changes {
            let (refresh, prefetch_path): (Option<&str>, Option<&str>) = match change.kind {
                ChangeKind::Added => (None, Some(&change.path)),
                ChangeKind::Modified | ChangeKind::TypeChanged => {
                    (Some(&change.path), Some(&change.path))
                }
                ChangeKind::Deleted => (Some(&change.path), None),
                ChangeKind::Renamed => (
                    Some(change.old_path.as_deref().unwrap_or(&change.path)),
                    Some(&change.path),
                ),
            };
            let mut last: Option<(&str, usize)> = None;
            for (path, refreshing) in [(refresh, true), (prefetch_path, false)] {
                let Some(path) = path else { continue };
                let i = match last {
                    // The same string (a modified path is refreshed and prefetched): no
                    // second lookup.
                    Some((previous, i)) if std::ptr::eq(previous, path) => i,
                    _ => *index.entry(path).or_insert_with(|| {
                        paths.push(path);
                        paths.len() - 1
                    }),
                };
                last = Some((path, i));
                uses.push((i, refreshing));
            }
        }
        let (mut urls, mappings) = rules.map_all(&paths);
        let unmapped = mappings
            .iter()
            .filter(|(m, _)| *m == Mapped::Unmatched)
            .count();
        let excluded = mappings
            .iter()
            .filter(|(m, _)| *m == Mapped::Excluded)
            .count();
        let listed = |kind: Mapped| -> Vec<String> {
            paths
                .iter()
                .zip(&mappings)
                .filter(|(_, (m, _))| *m == kind)
                .take(MAX_LISTED_PATHS)
                .map(|(p, _)| (*p).to_string())
                .collect()
        };
        let (unmapped_paths, excluded_paths) =
            (listed(Mapped::Unmatched), listed(Mapped::Excluded));

        // Two paths can map to one URL: each URL's index is that of its first copy, so that
        // the lists below are deduplicated with a flag per URL, not a hash set each.
        let mut first_copy: HashMap<&str, usize> = HashMap::with_capacity(urls.len());
        let url_index: Vec<usize> = (0..urls.len())
            .map(|k| *first_copy.entry(&urls[k]).or_insert(k))
            .collect();

        // (url index, path) of each refreshed URL, in first-seen order.
        let roots = rules.roots();
        let mut refresh_files: Vec<(usize, &str)> = Vec::with_capacity(uses.len());
        let mut dirs: Vec<&str> = Vec::new();
        let mut dirs_seen: HashSet<&str> = HashSet::new();
        let mut prefetch: Vec<usize> = Vec::new();
        let mut prefetched = vec![false; urls.len()];
        for &(i, refreshing) in &uses {
            let path = paths[i];
            let (mapped, range) = &mappings[i];
            match mapped {
                Mapped::Files => {
                    for k in range.clone() {
                        check_len(path, &urls[k], limits)?;
                        let k = url_index[k];
                        if refreshing && refresh_wanted {
                            refresh_files.push((k, path));
                        } else if !refreshing && prefetch_wanted && !prefetched[k] {
                            prefetched[k] = true;
                            prefetch.push(k);
                        }
                    }
                }
                Mapped::WholeSite => {
                    if refresh_wanted {
                        for root in &roots {
                            check_len(path, root, limits)?;
                            if dirs_seen.insert(root) {
                                dirs.push(root);
                            }
                        }
                    }
                }
                Mapped::Excluded | Mapped::Unmatched => {}
            }
        }

        let mut collapses = Vec::new();
        let directories = limits.refresh_object_types.contains(&ObjectType::Directory);
        if let (Some(threshold), true) = (collapse_threshold, directories) {
            // Changed paths per directory URL, in order of first appearance.
            let mut by_dir: Vec<(&str, Vec<&str>)> = Vec::new();
            let mut dir_index: HashMap<&str, usize> = HashMap::new();
            let mut pairs: HashSet<(usize, &str)> = HashSet::new();
            for &(k, path) in &refresh_files {
                let dir = parent_dir(&urls[k]);
                let i = *dir_index.entry(dir).or_insert_with(|| {
                    by_dir.push((dir, Vec::new()));
                    by_dir.len() - 1
                });
                if pairs.insert((i, path)) {
                    by_dir[i].1.push(path);
                }
            }
            // Outer directories first, so a directory inside a collapsed one is not listed
            // twice. So no collapsed directory is inside another, and a URL belongs to at
            // most one collapse.
            by_dir.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
            let mut collapsed: HashMap<&str, usize> = HashMap::new();
            let mut chosen: Vec<(&str, Vec<&str>)> = Vec::new();
            for (dir, files) in by_dir {
                if files.len() > threshold && under(dir, |d| dirs_seen.contains(d)).is_none() {
                    dirs_seen.insert(dir);
                    dirs.push(dir);
                    collapsed.insert(dir, chosen.len());
                    chosen.push((dir, files));
                }
            }
            let mut covered: Vec<Vec<&str>> = vec![Vec::new(); chosen.len()];
            let mut counted = vec![false; urls.len()];
            for &(k, _) in &refresh_files {
                if let Some(dir) = under(&urls[k], |d| collapsed.contains_key(d))
                    && !counted[k]
                {
                    counted[k] = true;
                    covered[collapsed[dir]].push(&urls[k]);
                }
            }
            collapses = chosen
                .into_iter()
                .zip(covered)
                .map(|((dir, files), urls)| Collapse {
                    directory: dir.to_string(),
                    files: files.into_iter().map(str::to_string).collect(),
                    urls: urls.into_iter().map(str::to_string).collect(),
                    not_applied: None,
                })
                .collect();
        }

        let mut files: Vec<usize> = Vec::with_capacity(refresh_files.len());
        let mut listed = vec![false; urls.len()];
        for &(k, _) in &refresh_files {
            // No lookup per `/` when no directory is refreshed, the usual case.
            let covered =
                !dirs_seen.is_empty() && under(&urls[k], |d| dirs_seen.contains(d)).is_some();
            if !covered && !listed[k] {
                listed[k] = true;
                files.push(k);
            }
        }
        let dirs: Vec<String> = dirs.into_iter().map(str::to_string).collect();

        // The plan's lists take the mapped strings over; a URL in both (refreshed and
        // prefetched) is copied for the first and moved into the second.
        let mut takers = vec![0u8; urls.len()];
        for &k in files.iter().chain(&prefetch) {
            takers[k] += 1;
        }
        let mut take = |k: usize| {
            takers[k] -= 1;
            if takers[k] == 0 {
                std::mem::take(&mut urls[k])
            } else {
                urls[k].clone()
            }
        };
        let mut plan = Plan::default();
        let files: Vec<String> = files.into_iter().map(&mut take).collect();
        if !files.is_empty() {
            plan.refresh.insert(ObjectType::File, files);
        }
        if !dirs.is_empty() {
            plan.refresh.insert(ObjectType::Directory, dirs);
        }
        plan.prefetch = prefetch.into_iter().map(&mut take).collect();
        plan.prefetch_after_refresh = task == TaskMode::Both;
        plan.collapses = collapses;
        Ok(GitPlan {
            plan,
            unmapped,
            excluded,
            unmapped_paths,
            excluded_paths,
        })
    }

    /// Undoes the collapses still applied: their directories leave the plan and the file
    /// URLs they replaced come back; each collapse records `reason`.
    pub fn uncollapse(&mut self, reason: &str) {
        let mut restored = Plan::default();
        let mut collapses = std::mem::take(&mut self.collapses);
        for c in collapses.iter_mut().filter(|c| c.not_applied.is_none()) {
            if let Some(dirs) = self.refresh.get_mut(&ObjectType::Directory) {
                dirs.retain(|d| *d != c.directory);
            }
            restored
                .refresh
                .entry(ObjectType::File)
                .or_default()
                .extend(c.urls.iter().cloned());
            c.not_applied = Some(reason.to_string());
        }
        self.collapses = collapses;
        if self
            .refresh
            .get(&ObjectType::Directory)
            .is_some_and(Vec::is_empty)
        {
            self.refresh.remove(&ObjectType::Directory);
        }
        self.merge(restored);
    }

    /// Adds `other`'s URLs that this plan does not hold yet.
    pub fn merge(&mut self, other: Plan) {
        for (t, urls) in other.refresh {
            append_unique(self.refresh.entry(t).or_default(), urls);
        }
        append_unique(&mut self.prefetch, other.prefetch);
        self.prefetch_after_refresh |= other.prefetch_after_refresh;
        self.collapses.extend(other.collapses);
        self.fallback_to_files |= other.fallback_to_files;
    }
}

/// Moves the URLs of `other` that `list` does not hold yet (nor `other` earlier) to the end
/// of `list`, without copying any.
fn append_unique(list: &mut Vec<String>, other: Vec<String>) {
    let keep: Vec<bool> = {
        let mut seen: HashSet<&str> = HashSet::with_capacity(list.len() + other.len());
        seen.extend(list.iter().map(String::as_str));
        other.iter().map(|u| seen.insert(u.as_str())).collect()
    };
    list.reserve(other.len());
    list.extend(
        other
            .into_iter()
            .zip(keep)
            .filter_map(|(u, k)| k.then_some(u)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_refreshes_and_prefetches_the_same_urls() {
        let urls = vec!["https://a.com/1".to_string(), "https://a.com/2".to_string()];
        let plan = Plan::from_urls(urls.clone(), TaskMode::Both, ObjectType::File);
        assert_eq!(plan.refresh[&ObjectType::File], urls);
        assert_eq!(plan.prefetch, urls);
        assert!(plan.prefetch_after_refresh);
        let needs = plan.quota_needs();
        assert_eq!(needs[&QuotaKind::RefreshUrl], 2);
        assert_eq!(needs[&QuotaKind::Prefetch], 2);
    }

    #[test]
    fn directories_draw_on_the_directory_quota() {
        let plan = Plan::from_urls(
            vec!["https://a.com/d/".into()],
            TaskMode::Refresh,
            ObjectType::Directory,
        );
        assert_eq!(plan.quota_needs()[&QuotaKind::RefreshDirectory], 1);
        assert!(plan.prefetch.is_empty());
    }

    #[test]
    fn parent_dir_is_the_url_up_to_its_last_slash() {
        assert_eq!(parent_dir("https://a.com/b/c.html"), "https://a.com/b/");
        assert_eq!(parent_dir("https://a.com/b/"), "https://a.com/b/");
        assert_eq!(parent_dir("https://a.com/c.html?x=/y"), "https://a.com/");
        assert_eq!(parent_dir("https://a.com"), "https://a.com");
    }

    #[test]
    fn a_collapse_covers_the_directories_inside_it() {
        let rules =
            RuleSet::parse("public/** => https://x.com/{path}", &Default::default()).unwrap();
        let paths = [
            "public/a/1.html",
            "public/a/b/1.html",
            "public/a/2.html",
            "public/a/b/2.html",
            "public/a/3.html",
            "public/a/b/3.html",
            "public/c.html",
        ];
        let changes: Vec<Change> = paths
            .iter()
            .map(|p| Change {
                kind: ChangeKind::Modified,
                path: p.to_string(),
                old_path: None,
            })
            .collect();
        let limits = crate::providers::aliyun::LIMITS;
        let git =
            Plan::from_changes(&changes, &rules, TaskMode::Refresh, &limits, Some(2)).unwrap();
        let url = |p: &str| format!("https://x.com/{}", p.trim_start_matches("public/"));
        // a/ and a/b/ both hold three changed files; a/b/ is inside a/, so only a/ is listed,
        // with its own three files and every URL it replaces.
        assert_eq!(git.plan.collapses.len(), 1);
        assert_eq!(git.plan.collapses[0].directory, "https://x.com/a/");
        assert_eq!(
            git.plan.collapses[0].files,
            ["public/a/1.html", "public/a/2.html", "public/a/3.html"]
        );
        assert_eq!(
            git.plan.collapses[0].urls,
            paths[..6].iter().map(|p| url(p)).collect::<Vec<_>>()
        );
        assert_eq!(
            git.plan.refresh[&ObjectType::Directory],
            ["https://x.com/a/"]
        );
        assert_eq!(git.plan.refresh[&ObjectType::File], [url("public/c.html")]);

        // Above the threshold nothing collapses, and merging a plan into itself adds nothing.
        let mut plan = Plan::from_changes(&changes, &rules, TaskMode::Both, &limits, Some(3))
            .unwrap()
            .plan;
        assert!(!plan.refresh.contains_key(&ObjectType::Directory));
        let copy = plan.clone();
        plan.merge(copy.clone());
        assert_eq!(plan, copy);
    }

    #[test]
    fn a_url_that_several_paths_map_to_is_listed_once() {
        let rules = RuleSet::parse(
            "a/** => https://x.com/{path}\nb/** => https://x.com/{path}, https://y.com/{path}",
            &Default::default(),
        )
        .unwrap();
        let change = |kind, path: &str, old_path: Option<&str>| Change {
            kind,
            path: path.to_string(),
            old_path: old_path.map(str::to_string),
        };
        let changes = [
            change(ChangeKind::Modified, "a/1.html", None),
            change(ChangeKind::Deleted, "b/1.html", None),
            change(ChangeKind::Renamed, "b/2.html", Some("a/2.html")),
            change(ChangeKind::Added, "a/2.html", None),
            change(ChangeKind::Modified, "a/1.html", None),
        ];
        let limits = crate::providers::aliyun::LIMITS;
        let git = Plan::from_changes(&changes, &rules, TaskMode::Both, &limits, None).unwrap();
        let urls = |list: &[&str]| list.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(
            git.plan.refresh[&ObjectType::File],
            urls(&[
                "https://x.com/1.html",
                "https://y.com/1.html",
                "https://x.com/2.html"
            ])
        );
        assert_eq!(
            git.plan.prefetch,
            urls(&[
                "https://x.com/1.html",
                "https://x.com/2.html",
                "https://y.com/2.html"
            ])
        );
        assert_eq!((git.unmapped, git.excluded), (0, 0));
    }

    #[test]
    fn uncollapse_restores_the_files() {
        let mut plan = Plan::from_urls(
            vec!["https://a.com/x.html".into()],
            TaskMode::Refresh,
            ObjectType::File,
        );
        plan.refresh
            .insert(ObjectType::Directory, vec!["https://a.com/d/".into()]);
        plan.collapses = vec![Collapse {
            directory: "https://a.com/d/".into(),
            files: vec!["d/1".into(), "d/2".into()],
            urls: vec!["https://a.com/d/1".into(), "https://a.com/d/2".into()],
            not_applied: None,
        }];
        plan.fallback_to_files = true;
        assert_eq!(plan.directory_fallback().len(), 1);
        plan.uncollapse("no quota");
        assert!(!plan.refresh.contains_key(&ObjectType::Directory));
        assert_eq!(plan.refresh[&ObjectType::File].len(), 3);
        assert_eq!(plan.collapses[0].not_applied.as_deref(), Some("no quota"));
        assert!(
            plan.directory_fallback().is_empty(),
            "an undone collapse has none"
        );
    }
}
