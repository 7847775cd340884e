//! Batching: cutting a list of paths into requests the provider accepts.
//!
//! Daily quotas are counted per path, but requests per second are limited too, so the fewer
//! requests a run needs, the sooner it finishes and the less it is throttled. A request is bounded
//! two ways: by the number of paths of its kind ([`Limits::per_request`], or a smaller
//! `--batch-size`, never a larger one) and by the number of distinct host names in it
//! ([`Limits::domains_per_request`], 10 for Alibaba Cloud).
//!
//! [`batches`] takes one kind and its paths, because each kind is a different request type with
//! its own limit and quota; the caller calls it once per kind.
//!
//! # The algorithm
//!
//! Paths are grouped by host (hosts in first-seen order, paths in input order within a host) and
//! the groups are poured into batches one after another. A batch is closed when it holds as many
//! paths as allowed, or when it already has the maximum number of hosts and the next path belongs
//! to a new one. A host may be split across batches: nothing forbids it, and it is what lets every
//! batch but the last be full.
//!
//! When all hosts fit in one request (the common case: one site, a few domains), the host limit
//! never closes a batch, every batch but the last is full, and the count is `ceil(n / size)`,
//! which is the minimum. When there are more hosts than one request allows, a batch can close
//! on the host limit before it is full and the count may exceed the minimum; finding the true
//! minimum then is a bin-packing problem (NP-hard in general), and the waste is bounded by one
//! batch per `domains_per_request` hosts, so we keep the simple greedy.
//!
//! Rate limiting and concurrency come later, over these batches; this part is pure.

use foldhash::{HashMap, HashMapExt};

use crate::input::url_list::host;
use crate::providers::{Batch, BatchKind, Limits};

/// Paths one batch of `kind` may carry: the provider maximum, or the smaller user `batch_size`.
/// Never zero, so that batching always terminates (settings reject `--batch-size 0`, and a kind
/// whose limit is zero is one the provider does not support, which is checked before batching).
pub fn batch_capacity(kind: BatchKind, limits: &Limits, batch_size: Option<usize>) -> usize {
    let max = limits.per_request(kind).max(1);
    batch_size.map_or(max, |size| size.clamp(1, max))
}

/// A batch whose URLs are borrowed from the list it was cut from: what the `plan` command
/// prints, where copying tens of thousands of URLs into batches only to print them cost as
/// much as the batching itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRef<'a> {
    pub kind: BatchKind,
    pub urls: Vec<&'a str>,
}

impl BatchRef<'_> {
    pub fn to_batch(&self) -> Batch {
        Batch {
            kind: self.kind,
            urls: self.urls.iter().map(|u| u.to_string()).collect(),
        }
    }
}

/// Cuts `urls` (normalized, without duplicates) into as few batches of `kind` as the greedy in
/// the module docs finds. Every URL appears in exactly one batch; no batch is empty.
pub fn batches(
    kind: BatchKind,
    urls: &[String],
    limits: &Limits,
    batch_size: Option<usize>,
) -> Vec<Batch> {
    owned(batch_refs(kind, urls, limits, batch_size))
}

/// [`batches`], borrowing the URLs.
pub fn batch_refs<'a>(
    kind: BatchKind,
    urls: &'a [String],
    limits: &Limits,
    batch_size: Option<usize>,
) -> Vec<BatchRef<'a>> {
    cut(kind, group_by_host(urls), limits, batch_size)
}

/// Batches for a run that is also paced by a per-host per-minute cap
/// ([`Limits::minute_cap`]). A host with more URLs than one minute allows gets batches of its
/// own: mixed into a batch with other hosts, its remainder would take part of a minute window
/// of each, and the windows that follow can then no longer be filled, which costs whole
/// extra minutes (measured: 10,000 URLs on 3 hosts took 249 s instead of 186 s). The price is
/// at most one extra request per such host. Smaller hosts are packed together as usual.
pub fn batches_within_rates(
    kind: BatchKind,
    urls: &[String],
    limits: &Limits,
    batch_size: Option<usize>,
) -> Vec<Batch> {
    owned(batch_refs_within_rates(kind, urls, limits, batch_size))
}

/// [`batches_within_rates`], borrowing the URLs.
pub fn batch_refs_within_rates<'a>(
    kind: BatchKind,
    urls: &'a [String],
    limits: &Limits,
    batch_size: Option<usize>,
) -> Vec<BatchRef<'a>> {
    let groups = group_by_host(urls);
    let Some(cap) = limits.minute_cap(kind) else {
        return cut(kind, groups, limits, batch_size);
    };
    let mut out = Vec::new();
    let mut small = Vec::new();
    for group in groups {
        if group.len() > cap as usize {
            out.extend(cut(kind, vec![group], limits, batch_size));
        } else {
            small.push(group);
        }
    }
    out.extend(cut(kind, small, limits, batch_size));
    out
}

fn owned(batches: Vec<BatchRef<'_>>) -> Vec<Batch> {
    batches.iter().map(BatchRef::to_batch).collect()
}

/// The greedy of the module docs over host groups (see [`group_by_host`]).
fn cut<'a>(
    kind: BatchKind,
    groups: Vec<Vec<&'a str>>,
    limits: &Limits,
    batch_size: Option<usize>,
) -> Vec<BatchRef<'a>> {
    let capacity = batch_capacity(kind, limits, batch_size);
    let max_hosts = limits.domains_per_request.max(1);

    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut hosts_in_current = 0;
    let mut close = |current: &mut Vec<&'a str>| {
        out.push(BatchRef {
            kind,
            urls: std::mem::take(current),
        });
    };
    for group in groups {
        if hosts_in_current == max_hosts {
            close(&mut current);
            hosts_in_current = 0;
        }
        hosts_in_current += 1;
        for url in group {
            if current.len() == capacity {
                // The host continues in the next batch.
                close(&mut current);
                hosts_in_current = 1;
            }
            current.push(url);
        }
    }
    if !current.is_empty() {
        close(&mut current);
    }
    out
}

/// URLs grouped by host: hosts in first-seen order, URLs in input order within a host.
fn group_by_host(urls: &[String]) -> Vec<Vec<&str>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<&str>> = Vec::new();
    // The origin of the last URL whose host was looked up, and its group: consecutive URLs
    // nearly always share one, and comparing their start costs far less than parsing each
    // URL and hashing its host.
    let mut last: Option<(&str, usize)> = None;
    for url in urls {
        let i = match last {
            Some((origin, i)) if same_host(url, origin) => i,
            _ => {
                let host = host(url);
                let i = *index.entry(host).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                last = origin_of(url, host).map(|origin| (origin, i));
                i
            }
        };
        groups[i].push(url);
    }
    groups
}

/// `url` up to the end of its `host` (the slice of it that `url_list::host` returned), when a
/// scheme comes before the host.
fn origin_of<'a>(url: &'a str, host: &str) -> Option<&'a str> {
    let start = (host.as_ptr() as usize).checked_sub(url.as_ptr() as usize)?;
    let origin = url.get(..start + host.len())?;
    (origin.get(..start)?.ends_with("://") && origin[start..] == *host).then_some(origin)
}

/// Whether `url` has the host of `origin` (see [`origin_of`]) without parsing it: `url_list::host`
/// reads the authority after the first `://`, up to the first `/`, `?` or `#`, and drops a
/// port. So a URL that starts with the same scheme and host, followed by the end of the
/// authority or a port, has that host.
fn same_host(url: &str, origin: &str) -> bool {
    url.starts_with(origin)
        && matches!(
            url.as_bytes().get(origin.len()),
            None | Some(b'/' | b'?' | b'#' | b':')
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ObjectType;

    fn limits() -> Limits {
        crate::providers::aliyun::LIMITS
    }

    #[test]
    fn hosts_over_the_minute_cap_get_batches_of_their_own() {
        let list = urls(&[
            ("a.com", 3334),
            ("b.com", 3333),
            ("c.com", 3333),
            ("d.com", 5),
            ("e.com", 7),
        ]);
        let kind = BatchKind::refresh(ObjectType::File);
        let out = batches_within_rates(kind, &list, &limits(), None);
        assert_eq!(out.len(), 13, "4 per large host, 1 for the small ones");
        for b in &out {
            let mut hosts: Vec<&str> = b.urls.iter().map(|u| host(u)).collect();
            hosts.dedup();
            assert!(hosts.len() == 1 || hosts == ["d.com", "e.com"], "{hosts:?}");
        }
        assert_eq!(out.iter().map(|b| b.urls.len()).sum::<usize>(), list.len());
        // Without a minute cap (prefetch), the usual minimal packing.
        assert_eq!(
            batches_within_rates(BatchKind::PREFETCH, &list, &limits(), None).len(),
            101
        );
    }

    /// `count` URLs on each of these hosts, host by host.
    fn urls(hosts: &[(&str, usize)]) -> Vec<String> {
        hosts
            .iter()
            .flat_map(|&(h, count)| (0..count).map(move |i| format!("https://{h}/{i}")))
            .collect()
    }

    fn sizes(batches: &[Batch]) -> Vec<usize> {
        batches.iter().map(|b| b.urls.len()).collect()
    }

    const FILE: BatchKind = BatchKind {
        operation: crate::providers::Operation::Refresh,
        object_type: ObjectType::File,
    };

    #[test]
    fn capacity_is_the_provider_maximum_or_the_smaller_user_size() {
        let l = limits();
        assert_eq!(batch_capacity(FILE, &l, None), 1000);
        assert_eq!(batch_capacity(FILE, &l, Some(250)), 250);
        assert_eq!(batch_capacity(FILE, &l, Some(5000)), 1000);
        assert_eq!(batch_capacity(BatchKind::PREFETCH, &l, Some(5000)), 100);
        assert_eq!(
            batch_capacity(BatchKind::refresh(ObjectType::Directory), &l, None),
            100
        );
        assert_eq!(batch_capacity(FILE, &l, Some(0)), 1);
    }

    #[test]
    fn empty_input_gives_no_batches() {
        assert!(batches(FILE, &[], &limits(), None).is_empty());
    }

    #[test]
    fn one_host_fills_every_batch() {
        let b = batches(FILE, &urls(&[("a.com", 2500)]), &limits(), None);
        assert_eq!(sizes(&b), [1000, 1000, 500]);
        assert!(b.iter().all(|b| b.kind == FILE));
    }

    #[test]
    fn hosts_are_split_so_batches_stay_full() {
        // Three hosts of 600: splitting gives ceil(1800 / 1000) = 2 batches, not 3.
        let b = batches(
            FILE,
            &urls(&[("a.com", 600), ("b.com", 600), ("c.com", 600)]),
            &limits(),
            None,
        );
        assert_eq!(sizes(&b), [1000, 800]);
        assert_eq!(b[0].urls[999], "https://b.com/399");
        assert_eq!(b[1].urls[0], "https://b.com/400");
    }

    #[test]
    fn the_host_limit_closes_a_batch() {
        let hosts: Vec<String> = (0..25).map(|i| format!("h{i}.com")).collect();
        let spec: Vec<(&str, usize)> = hosts.iter().map(|h| (h.as_str(), 3)).collect();
        let b = batches(FILE, &urls(&spec), &limits(), None);
        assert_eq!(sizes(&b), [30, 30, 15]);
    }

    #[test]
    fn user_batch_size_and_per_kind_limits() {
        let list = urls(&[("a.com", 250)]);
        assert_eq!(
            sizes(&batches(FILE, &list, &limits(), Some(100))),
            [100, 100, 50]
        );
        assert_eq!(
            sizes(&batches(BatchKind::PREFETCH, &list, &limits(), None)),
            [100, 100, 50]
        );
        let regex = BatchKind::refresh(ObjectType::Regex);
        assert_eq!(batches(regex, &list[..3], &limits(), None).len(), 3);
    }

    #[test]
    fn grouping_by_origin_agrees_with_parsing_every_host() {
        let list: Vec<String> = [
            "https://a.com/1",
            "https://a.com:8443/2",
            "https://a.com",
            "http://a.com/3",
            "https://a.com.evil/4",
            "https://a.com@b.com/5",
            "https://a.com?q=1",
            "https://a.com#f",
            "https://[::1]/6",
            "https://[::1]:80/7",
            "https://[::1]x/8",
            "https://b.com?x=https://a.com/",
            "a.com/9",
            "a.com/10",
            "https://a.co/11",
            "https:///12",
            "https:///13",
            "https://a.com/14",
        ]
        .map(String::from)
        .to_vec();
        let mut expected: Vec<(&str, Vec<&str>)> = Vec::new();
        for url in &list {
            let h = host(url);
            match expected.iter_mut().find(|(seen, _)| *seen == h) {
                Some((_, group)) => group.push(url),
                None => expected.push((h, vec![url.as_str()])),
            }
        }
        let expected: Vec<Vec<&str>> = expected.into_iter().map(|(_, g)| g).collect();
        assert_eq!(group_by_host(&list), expected);
    }

    #[test]
    fn port_does_not_make_another_host() {
        let mut l = limits();
        l.domains_per_request = 1;
        let list = vec![
            "https://a.com/1".to_string(),
            "https://a.com:8443/2".to_string(),
        ];
        assert_eq!(batches(FILE, &list, &l, None).len(), 1);
    }
}
