//! The log store through its facade: durability across reopen, flushing into the index,
//! pruning that never changes an answer, retention.

use proptest::prelude::*;

use super::partition::DAY_NS;
use super::*;
use crate::metrics::tsdb::index::{MatchOp, Matcher};

fn options() -> LogStoreOptions {
    LogStoreOptions {
        wal_fsync: false,
        chunk_target_bytes: 512,
        ..LogStoreOptions::default()
    }
}

fn labels(app: &str) -> Labels {
    vec![
        ("app".to_string(), app.to_string()),
        ("env".to_string(), "prod".to_string()),
    ]
}

fn entry(timestamp_ns: i64, line: &str) -> LogEntry {
    LogEntry {
        timestamp_ns,
        line: line.to_string(),
        structured_metadata: Vec::new(),
    }
}

const T0: i64 = 1_700_000_000_000_000_000;

fn read_all(store: &LogStore, app: &str, tokens: &[tokens::TokenRequirement]) -> Vec<LogEntry> {
    let matcher = Matcher::new(MatchOp::Equal, "app", app).unwrap();
    let streams: Vec<StreamId> = store
        .select_streams(DEFAULT_TENANT, &[matcher], i64::MIN, i64::MAX)
        .iter()
        .map(|info| info.id)
        .collect();
    store
        .read(&streams, i64::MIN, i64::MAX, tokens)
        .unwrap()
        .into_iter()
        .flat_map(|(_, entries)| entries)
        .collect()
}

#[test]
fn reads_during_flushes_never_miss_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(LogStore::open(dir.path(), options()).unwrap());
    let rounds = 60;
    let writer = {
        let store = std::sync::Arc::clone(&store);
        std::thread::spawn(move || {
            for round in 0..rounds {
                let batch: Vec<LogEntry> = (0..20)
                    .map(|i| entry(T0 + (round * 20 + i) * 1_000, &format!("line {round} {i}")))
                    .collect();
                store
                    .append(DEFAULT_TENANT, vec![(labels("api"), batch)])
                    .unwrap();
                store.flush().unwrap();
            }
        })
    };
    // Whatever was acknowledged before a read started is in that read's answer, whether
    // it sits in the head, in a flush under way or in the index.
    while !writer.is_finished() {
        let acknowledged = store.counters.entries_appended.load(Ordering::Relaxed);
        let found = read_all(&store, "api", &[]).len() as u64;
        assert!(
            found >= acknowledged,
            "{found} of {acknowledged} entries read"
        );
    }
    writer.join().unwrap();
    assert_eq!(read_all(&store, "api", &[]).len(), (rounds * 20) as usize);
}

#[test]
fn appended_entries_survive_reopen_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<LogEntry> = (0..200)
        .map(|i| {
            entry(
                T0 + i * 1_000_000,
                &format!("GET /api/v1/item/{i} 200 took={}ms", i % 17),
            )
        })
        .collect();
    {
        let store = LogStore::open(dir.path(), options()).unwrap();
        let report = store
            .append(DEFAULT_TENANT, vec![(labels("api"), lines[..100].to_vec())])
            .unwrap();
        assert_eq!(report.entries, 100);
        assert_eq!(report.streams_created, 1);
        assert!(store.flush().unwrap() > 1, "several chunks of ~512 bytes");
        store
            .append(DEFAULT_TENANT, vec![(labels("api"), lines[100..].to_vec())])
            .unwrap();
        // Half indexed, half only in the WAL and head.
        assert_eq!(read_all(&store, "api", &[]), lines);
    }
    let store = LogStore::open(dir.path(), options()).unwrap();
    assert_eq!(read_all(&store, "api", &[]), lines);
    store.flush().unwrap();
    assert_eq!(read_all(&store, "api", &[]), lines);
    // Label APIs answer from the stream index.
    assert_eq!(
        store.label_names(DEFAULT_TENANT, &[], i64::MIN, i64::MAX),
        vec!["app", "env"]
    );
    assert_eq!(
        store.label_values(DEFAULT_TENANT, "app", &[], T0, T0 + 1),
        vec!["api"]
    );
    // Tokens prune chunks: `item/7 ` lies in few chunks; the exact check is the caller's.
    let pruned = read_all(&store, "api", &tokens::required_tokens("/item/7 "));
    assert!(pruned.len() < lines.len());
    assert!(pruned.iter().any(|e| e.line.contains("/item/7 ")));
}

#[test]
fn tenants_and_streams_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), options()).unwrap();
    store
        .append("a", vec![(labels("x"), vec![entry(T0, "from a")])])
        .unwrap();
    store
        .append("b", vec![(labels("x"), vec![entry(T0, "from b")])])
        .unwrap();
    let all = store.select_streams("a", &[], i64::MIN, i64::MAX);
    assert_eq!(all.len(), 1);
    let read = store.read(&[all[0].id], i64::MIN, i64::MAX, &[]).unwrap();
    assert_eq!(read[0].1, vec![entry(T0, "from a")]);
}

#[test]
fn retention_drops_whole_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(
        dir.path(),
        LogStoreOptions {
            retention_ns: 2 * DAY_NS,
            ..options()
        },
    )
    .unwrap();
    let day0 = T0 - T0.rem_euclid(DAY_NS);
    for day in 0..4 {
        store
            .append(
                DEFAULT_TENANT,
                vec![(
                    labels("x"),
                    vec![entry(day0 + day * DAY_NS + 5, &format!("day {day}"))],
                )],
            )
            .unwrap();
    }
    store.flush().unwrap();
    assert_eq!(store.apply_retention(day0 + 3 * DAY_NS + 10).unwrap(), 1);
    let left: Vec<String> = read_all(&store, "x", &[])
        .into_iter()
        .map(|e| e.line)
        .collect();
    assert_eq!(left, vec!["day 1", "day 2", "day 3"]);
    assert_eq!(
        std::fs::read_dir(dir.path().join("index")).unwrap().count(),
        3
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Index pruning with the terms of any needle never loses a line containing it.
    #[test]
    fn pruning_never_changes_a_substring_answer(
        words in proptest::collection::vec("[a-cA-C0-9]{1,4}", 40..80),
        separators in proptest::collection::vec(prop::sample::select(vec![" ", "/", "=", ".", "-", ", "]), 80),
        needle_start in 0usize..60,
        needle_len in 1usize..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path(), options()).unwrap();
        let lines: Vec<String> = words
            .chunks(5)
            .enumerate()
            .map(|(i, chunk)| {
                chunk
                    .iter()
                    .zip(&separators[i..])
                    .map(|(word, sep)| format!("{word}{sep}"))
                    .collect()
            })
            .collect();
        let entries: Vec<LogEntry> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| entry(T0 + i as i64, line))
            .collect();
        store.append(DEFAULT_TENANT, vec![(labels("p"), entries)]).unwrap();
        store.flush().unwrap();
        let text = lines.join("\n");
        let start = needle_start.min(text.len().saturating_sub(1));
        let end = (start + needle_len).min(text.len());
        let needle: String = text[start..end].split('\n').next().unwrap_or("").to_string();
        prop_assume!(!needle.is_empty());
        let expected: Vec<&String> = lines.iter().filter(|line| line.contains(&needle)).collect();
        let pruned = read_all(&store, "p", &tokens::required_tokens(&needle));
        let got: Vec<&String> = pruned.iter().map(|e| &e.line).filter(|line| line.contains(&needle)).collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn a_needle_inside_a_token_too_long_to_index_is_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), options()).unwrap();
    let long = format!("{}needle{}", "a".repeat(200), "b".repeat(200));
    store
        .append(
            DEFAULT_TENANT,
            vec![(
                labels("long"),
                vec![
                    entry(T0, &format!("blob={long} end")),
                    entry(T0 + 1, "short line"),
                ],
            )],
        )
        .unwrap();
    store.flush().unwrap();
    let found = read_all(&store, "long", &tokens::required_tokens("needle"));
    assert!(found.iter().any(|e| e.line.contains("needle")));
    let none = read_all(&store, "long", &tokens::required_tokens(" absent "));
    assert!(none.is_empty());
}
