//! Properties of `schedule::batches` over random URL sets, with Alibaba-like limits: no batch
//! breaks a limit, every URL goes out exactly once, host order is kept, and the count is the
//! minimum `ceil(n / size)` whenever the host limit cannot bind.

use std::collections::{HashMap, HashSet};

use cdn_refresh::input::url_list::host;
use cdn_refresh::plan::batching::{batch_capacity, batches};
use cdn_refresh::providers::{Batch, BatchKind, Limits, ObjectType};
use proptest::prelude::*;

fn alibaba_like() -> Limits {
    cdn_refresh::providers::aliyun::LIMITS
}

fn kind() -> impl Strategy<Value = BatchKind> {
    prop_oneof![
        Just(BatchKind::refresh(ObjectType::File)),
        Just(BatchKind::refresh(ObjectType::Directory)),
        Just(BatchKind::refresh(ObjectType::Regex)),
        Just(BatchKind::refresh(ObjectType::IgnoreParams)),
        Just(BatchKind::PREFETCH),
    ]
}

/// Distinct URLs, each on a host drawn from a pool of 1 to 30 (one in seven with a port, which
/// does not make another host). Hosts are drawn from a seeded generator rather than a proptest
/// `vec` of 5,000 value trees: ten times faster, and shrinking still reduces the pool and count.
fn url_set() -> impl Strategy<Value = Vec<String>> {
    (1u64..=30, 0usize..5000, any::<u64>()).prop_map(|(pool, count, seed)| {
        let mut state = seed | 1;
        (0..count)
            .map(|i| {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let port = if i % 7 == 0 { ":8443" } else { "" };
                format!("https://h{}.example.com{port}/p/{i}/", state % pool)
            })
            .collect()
    })
}

fn batch_size() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (1usize..1500).prop_map(Some)]
}

fn distinct_hosts<'a>(urls: impl IntoIterator<Item = &'a String>) -> usize {
    urls.into_iter()
        .map(|u| host(u))
        .collect::<HashSet<_>>()
        .len()
}

/// URLs of each host, in the order they appear.
fn by_host<'a>(urls: impl IntoIterator<Item = &'a String>) -> HashMap<&'a str, Vec<&'a String>> {
    let mut map: HashMap<&str, Vec<&String>> = HashMap::new();
    for url in urls {
        map.entry(host(url)).or_default().push(url);
    }
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_respect_limits_and_cover_the_input_exactly_once(
        kind in kind(),
        urls in url_set(),
        batch_size in batch_size(),
    ) {
        let limits = alibaba_like();
        let out: Vec<Batch> = batches(kind, &urls, &limits, batch_size);
        let capacity = batch_capacity(kind, &limits, batch_size);
        prop_assert!(capacity <= limits.per_request(kind));
        prop_assert!(batch_size.is_none_or(|size| capacity <= size));

        let hosts: Vec<usize> = out.iter().map(|b| distinct_hosts(&b.urls)).collect();
        for (batch, &hosts) in out.iter().zip(&hosts) {
            prop_assert_eq!(batch.kind, kind);
            prop_assert!(!batch.urls.is_empty());
            prop_assert!(batch.urls.len() <= capacity);
            prop_assert!(hosts <= limits.domains_per_request);
        }

        // Reading the batches in order replays each host's URLs in input order, each exactly
        // once: so the batches hold the input as a multiset, no URL twice, order kept per host.
        let mut expected = by_host(&urls);
        let mut next: HashMap<&str, usize> = HashMap::new();
        for url in out.iter().flat_map(|b| &b.urls) {
            let i = next.entry(host(url)).or_default();
            let want = expected.get(host(url)).and_then(|list| list.get(*i));
            prop_assert_eq!(Some(&url), want, "sent a URL out of order, twice or not in the input");
            *i += 1;
        }
        expected.retain(|h, list| next.get(h) != Some(&list.len()));
        prop_assert!(expected.is_empty(), "URLs never sent, on hosts {:?}", expected.keys());

        // A batch is closed only when it is full or has the maximum number of hosts.
        for (batch, &hosts) in out.iter().zip(&hosts).rev().skip(1) {
            prop_assert!(batch.urls.len() == capacity || hosts == limits.domains_per_request);
        }

        let lower_bound = urls.len().div_ceil(capacity);
        prop_assert!(out.len() >= lower_bound);
        if distinct_hosts(&urls) <= limits.domains_per_request {
            prop_assert_eq!(out.len(), lower_bound);
        }
    }
}

#[test]
fn many_hosts_with_few_urls_each_are_packed_ten_hosts_a_batch() {
    let urls: Vec<String> = (0..95)
        .flat_map(|h| (0..3).map(move |i| format!("https://h{h}.com/{i}")))
        .collect();
    let out = batches(
        BatchKind::refresh(ObjectType::File),
        &urls,
        &alibaba_like(),
        None,
    );
    assert_eq!(out.len(), 10);
    assert!(out[..9].iter().all(|b| b.urls.len() == 30));
}
