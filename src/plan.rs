//! What a run will do: the URLs per operation, before any limit or network is involved.
//!
//! A plan is pure data. Batches, quota needs and the `plan` command's output are all
//! derived from it, so a dry run shows exactly what a real run would send.
//!
//! Two sources make plans: URL lists ([`Plan::from_urls`]) and git changes mapped through
//! the rules ([`Plan::from_changes`]); [`Plan::merge`] combines them without duplicates.
//! Directory collapse is decided here from the changes alone (more than N changed paths with
//! a refreshed URL directly in one directory URL); whether the day's directory quota covers
//! it needs the network, so `main` checks that before the run and calls
//! [`Plan::uncollapse`] when it does not.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::changes::{Change, ChangeKind};
use crate::providers::{Batch, BatchKind, Limits, ObjectType, QuotaKind};
use crate::report::Collapse;
use crate::rules::{Mapping, RuleSet};
use crate::schedule;

/// Which operations a run performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskMode {
    Refresh,
    Prefetch,
    /// Refresh, then prefetch each URL once its refresh task has completed.
    Both,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// URLs to refresh, by how they are matched.
    pub refresh: BTreeMap<ObjectType, Vec<String>>,
    /// URLs to prefetch.
    pub prefetch: Vec<String>,
    /// Prefetch a URL only after its refresh completed (`--task both`).
    pub prefetch_after_refresh: bool,
    /// Collapsed directory URL → the file URLs it stands for: refreshed instead when the
    /// provider refuses directory refresh (`--on-dir-refresh-denied files`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub directory_fallback: BTreeMap<String, Vec<String>>,
}

impl Plan {
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
        self.refresh
            .iter()
            .flat_map(|(t, urls)| {
                schedule::batches_within_rates(BatchKind::refresh(*t), urls, limits, batch_size)
            })
            .collect()
    }

    /// Prefetch batches for `urls`.
    pub fn prefetch_batches(
        urls: &[String],
        limits: &Limits,
        batch_size: Option<usize>,
    ) -> Vec<Batch> {
        schedule::batches(BatchKind::PREFETCH, urls, limits, batch_size)
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

/// The git part of a run: the changes mapped through the rules, then collapsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitPlan {
    pub plan: Plan,
    /// Distinct changed paths no rule matched.
    pub unmapped: usize,
    /// Distinct changed paths an exclude rule matched.
    pub excluded: usize,
    pub collapses: Vec<Collapse>,
}

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
    url.match_indices('/')
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

        // Each distinct path is mapped once; `uses` keeps (mapping, path, refreshing) in
        // change order. Everything below borrows from `mappings` and allocates the output
        // strings once, at the end: with tens of thousands of changes, cloning and hashing
        // every URL several times cost more than the diff itself.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(changes.len() * 2);
        let mut mappings: Vec<Mapping> = Vec::with_capacity(changes.len() * 2);
        let mut uses: Vec<(usize, &str, bool)> = Vec::with_capacity(changes.len() * 2);
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
            for (path, refreshing) in [(refresh, true), (prefetch_path, false)] {
                let Some(path) = path else { continue };
                let i = *index.entry(path).or_insert_with(|| {
                    mappings.push(rules.map(path));
                    mappings.len() - 1
                });
                uses.push((i, path, refreshing));
            }
        }
        let unmapped = mappings
            .iter()
            .filter(|m| **m == Mapping::Unmatched)
            .count();
        let excluded = mappings.iter().filter(|m| **m == Mapping::Excluded).count();

        // (url, path) in first-seen order.
        let mut refresh_files: Vec<(&str, &str)> = Vec::new();
        let mut dirs: Vec<&str> = Vec::new();
        let mut dirs_seen: HashSet<&str> = HashSet::new();
        let mut prefetch: Vec<&str> = Vec::new();
        let mut prefetch_seen: HashSet<&str> = HashSet::new();
        for &(i, path, refreshing) in &uses {
            match &mappings[i] {
                Mapping::Files(urls) => {
                    for url in urls {
                        check_len(path, url, limits)?;
                        if refreshing && refresh_wanted {
                            refresh_files.push((url, path));
                        } else if !refreshing && prefetch_wanted && prefetch_seen.insert(url) {
                            prefetch.push(url);
                        }
                    }
                }
                Mapping::WholeSite(roots) => {
                    if refresh_wanted {
                        for root in roots {
                            check_len(path, root, limits)?;
                            if dirs_seen.insert(root) {
                                dirs.push(root);
                            }
                        }
                    }
                }
                Mapping::Excluded | Mapping::Unmatched => {}
            }
        }

        let mut collapses = Vec::new();
        let directories = limits.refresh_object_types.contains(&ObjectType::Directory);
        if let (Some(threshold), true) = (collapse_threshold, directories) {
            // Changed paths per directory URL, in order of first appearance.
            let mut by_dir: Vec<(&str, Vec<&str>)> = Vec::new();
            let mut dir_index: HashMap<&str, usize> = HashMap::new();
            let mut pairs: HashSet<(usize, &str)> = HashSet::new();
            for &(url, path) in &refresh_files {
                let dir = parent_dir(url);
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
            let mut urls: Vec<Vec<&str>> = vec![Vec::new(); chosen.len()];
            let mut seen: HashSet<&str> = HashSet::new();
            for &(url, _) in &refresh_files {
                if let Some(dir) = under(url, |d| collapsed.contains_key(d))
                    && seen.insert(url)
                {
                    urls[collapsed[dir]].push(url);
                }
            }
            collapses = chosen
                .into_iter()
                .zip(urls)
                .map(|((dir, files), urls)| Collapse {
                    directory: dir.to_string(),
                    files: files.into_iter().map(str::to_string).collect(),
                    urls: urls.into_iter().map(str::to_string).collect(),
                    not_applied: None,
                })
                .collect();
        }

        let mut plan = Plan::default();
        let mut files: Vec<String> = Vec::new();
        let mut files_seen: HashSet<&str> = HashSet::new();
        for &(url, _) in &refresh_files {
            if under(url, |d| dirs_seen.contains(d)).is_none() && files_seen.insert(url) {
                files.push(url.to_string());
            }
        }
        if !files.is_empty() {
            plan.refresh.insert(ObjectType::File, files);
        }
        if !dirs.is_empty() {
            plan.refresh.insert(
                ObjectType::Directory,
                dirs.into_iter().map(str::to_string).collect(),
            );
        }
        plan.prefetch = prefetch.into_iter().map(str::to_string).collect();
        plan.prefetch_after_refresh = task == TaskMode::Both;
        Ok(GitPlan {
            plan,
            unmapped,
            excluded,
            collapses,
        })
    }

    /// Undoes `collapses`: their directories leave the plan and the file URLs they replaced
    /// come back; each collapse records `reason`.
    pub fn uncollapse(&mut self, collapses: &mut [Collapse], reason: &str) {
        let mut restored = Plan::default();
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
            self.directory_fallback.remove(&c.directory);
        }
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
        self.directory_fallback.extend(other.directory_fallback);
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
        assert_eq!(git.collapses.len(), 1);
        assert_eq!(git.collapses[0].directory, "https://x.com/a/");
        assert_eq!(
            git.collapses[0].files,
            ["public/a/1.html", "public/a/2.html", "public/a/3.html"]
        );
        assert_eq!(
            git.collapses[0].urls,
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
    fn uncollapse_restores_the_files() {
        let mut plan = Plan::from_urls(
            vec!["https://a.com/x.html".into()],
            TaskMode::Refresh,
            ObjectType::File,
        );
        plan.refresh
            .insert(ObjectType::Directory, vec!["https://a.com/d/".into()]);
        let mut collapses = vec![Collapse {
            directory: "https://a.com/d/".into(),
            files: vec!["d/1".into(), "d/2".into()],
            urls: vec!["https://a.com/d/1".into(), "https://a.com/d/2".into()],
            not_applied: None,
        }];
        plan.uncollapse(&mut collapses, "no quota");
        assert!(!plan.refresh.contains_key(&ObjectType::Directory));
        assert_eq!(plan.refresh[&ObjectType::File].len(), 3);
        assert_eq!(collapses[0].not_applied.as_deref(), Some("no quota"));
    }
}
