//! `--max-paths N`: at most N refreshed paths in a run, where each path costs (CloudFront
//! bills per path, a wildcard as one). The least valuable paths, those that share a
//! directory with many others, are collapsed into their directory, one directory at a
//! time, with the plan's own collapse records ([`super::Collapse`]), so the report lists
//! every collapse as it lists git mode's.
//!
//! Each step picks, among the directories above the file URLs, one whose collapse brings
//! the plan within N while covering the fewest URLs (the least invalidated that is not
//! asked for); when none can alone, the one that saves the most paths. Directories count
//! against the provider's wildcard budget (its directories per request).

use std::collections::{BTreeMap, HashSet};

use super::{Collapse, Plan};
use crate::providers::{Limits, ObjectType};

/// Every directory URL above `url` (`https://a.com/x/y/z.js` → `https://a.com/`,
/// `https://a.com/x/`, `https://a.com/x/y/`), the query ignored.
fn ancestors(url: &str) -> impl Iterator<Item = &str> {
    let path_end = url.find('?').unwrap_or(url.len());
    let start = url.find("://").map_or(0, |i| i + 3);
    let first = url[start..path_end].find('/').map(|i| start + i);
    url[..path_end]
        .char_indices()
        .filter(move |(i, c)| *c == '/' && first.is_some_and(|f| *i >= f))
        .map(move |(i, _)| &url[..=i])
        .filter(move |d| d.len() < path_end || !url.ends_with('/'))
}

/// Collapses file URLs of `plan` into directories until it refreshes at most `max` paths.
/// `Err` says why it cannot.
pub fn cap_paths(plan: &mut Plan, max: usize, limits: &Limits) -> Result<(), String> {
    let count = |plan: &Plan| plan.refresh.values().map(Vec::len).sum::<usize>();
    if count(plan) <= max {
        return Ok(());
    }
    if !limits.refresh_object_types.contains(&ObjectType::Directory) {
        return Err(format!(
            "the plan refreshes {} paths and the provider cannot refresh directories to make them fewer",
            count(plan)
        ));
    }
    let budget = limits
        .in_progress
        .map_or(limits.refresh_dirs_per_request as u64, |l| l.wildcards) as usize;
    loop {
        let total = count(plan);
        if total <= max {
            return Ok(());
        }
        let dirs: HashSet<String> = plan
            .refresh
            .get(&ObjectType::Directory)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if dirs.len() >= budget {
            return Err(format!(
                "{total} paths remain after collapsing into {} directories, the most the provider takes at once",
                dirs.len()
            ));
        }
        let files: Vec<&String> = plan
            .refresh
            .get(&ObjectType::File)
            .into_iter()
            .flatten()
            .collect();
        let mut under: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &files {
            for d in ancestors(f) {
                *under.entry(d).or_default() += 1;
            }
        }
        let needed = total - max;
        // (saved, covered, depth): what collapsing each directory gives.
        let best = under
            .iter()
            .filter(|(d, n)| **n >= 2 && !dirs.contains(**d))
            .map(|(d, n)| (*d, n - 1, *n))
            .min_by(|a, b| {
                let (a_enough, b_enough) = (a.1 >= needed, b.1 >= needed);
                b_enough
                    .cmp(&a_enough)
                    .then_with(|| {
                        if a_enough {
                            a.2.cmp(&b.2)
                        } else {
                            b.1.cmp(&a.1)
                        }
                    })
                    .then(b.0.len().cmp(&a.0.len()))
            });
        let Some((dir, _, _)) = best else {
            return Err(format!(
                "{total} paths remain and no two of them share a directory"
            ));
        };
        let dir = dir.to_string();
        let covered: Vec<String> = files
            .iter()
            .filter(|f| f.starts_with(&dir) && **f != &dir)
            .map(|f| f.to_string())
            .collect();
        if let Some(list) = plan.refresh.get_mut(&ObjectType::File) {
            list.retain(|f| !(f.starts_with(&dir) && *f != dir));
            if list.is_empty() {
                plan.refresh.remove(&ObjectType::File);
            }
        }
        // A directory already refreshed inside this one is covered by it.
        let dir_list = plan.refresh.entry(ObjectType::Directory).or_default();
        dir_list.retain(|d| !(d.starts_with(&dir) && *d != dir));
        dir_list.push(dir.clone());
        plan.collapses.push(Collapse {
            directory: dir,
            files: covered.clone(),
            urls: covered,
            not_applied: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TaskMode;

    fn plan(urls: &[&str]) -> Plan {
        Plan::from_urls(
            urls.iter().map(|u| u.to_string()).collect(),
            TaskMode::Refresh,
            ObjectType::File,
        )
    }

    #[test]
    fn ancestors_are_the_directories_above() {
        let a: Vec<&str> = ancestors("https://a.com/x/y/z.js?v=1/2").collect();
        assert_eq!(
            a,
            ["https://a.com/", "https://a.com/x/", "https://a.com/x/y/"]
        );
        let d: Vec<&str> = ancestors("https://a.com/x/").collect();
        assert_eq!(d, ["https://a.com/"]);
    }

    #[test]
    fn the_smallest_directory_that_is_enough_is_collapsed() {
        let limits = &crate::providers::cloudfront::LIMITS;
        let mut p = plan(&[
            "https://a.com/img/1.png",
            "https://a.com/img/2.png",
            "https://a.com/img/3.png",
            "https://a.com/js/app.js",
            "https://a.com/index.html",
        ]);
        cap_paths(&mut p, 3, limits).unwrap();
        assert_eq!(p.refresh[&ObjectType::Directory], ["https://a.com/img/"]);
        assert_eq!(p.refresh[&ObjectType::File].len(), 2);
        assert_eq!(p.collapses.len(), 1);
        assert_eq!(p.collapses[0].urls.len(), 3);
        // Within the cap already: nothing changes.
        let before = p.clone();
        cap_paths(&mut p, 3, limits).unwrap();
        assert_eq!(p, before);
        // Down to one path: the site's root.
        cap_paths(&mut p, 1, limits).unwrap();
        assert_eq!(p.refresh[&ObjectType::Directory], ["https://a.com/"]);
        assert!(!p.refresh.contains_key(&ObjectType::File));
    }

    #[test]
    fn impossible_caps_are_errors() {
        let limits = &crate::providers::cloudfront::LIMITS;
        let mut p = plan(&["https://a.com/x.js", "https://b.com/y.js"]);
        assert!(cap_paths(&mut p, 1, limits).is_err());
        let mut q = plan(&["https://a.com/x.js", "https://a.com/y.js"]);
        assert!(cap_paths(&mut q, 1, &crate::providers::qiniu::LIMITS).is_ok());
        let mut r = plan(&["https://a.com/x.js", "https://a.com/y.js"]);
        let no_dirs = Limits {
            refresh_object_types: &[ObjectType::File],
            ..crate::providers::cloudfront::LIMITS
        };
        assert!(cap_paths(&mut r, 1, &no_dirs).is_err());
    }
}
