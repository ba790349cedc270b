//! The metadata store keeps every acknowledged write across `kill -9`: a child process
//! writes keys one by one and prints `ack <n>` after each is durable; we kill it mid-stream,
//! reopen the store and look for every acknowledged key.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sightline::meta::{run_migrations, MetaStore, MIGRATIONS};

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("meta");
    let mut total_acknowledged = 0u64;
    for round in 0..3 {
        let mut child = Command::new(common::BIN)
            .args(["tool", "meta-write-stream"])
            .arg(&store_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut last_ack = None;
        // Kill at a different point each round, mid-stream.
        let kill_after = Duration::from_millis(300 + 250 * round);
        let started = Instant::now();
        while started.elapsed() < kill_after {
            match lines.next() {
                Some(Ok(line)) => {
                    let index: u64 = line.strip_prefix("ack ").unwrap().parse().unwrap();
                    last_ack = Some(index);
                }
                _ => break,
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Acks already printed but not yet read count too.
        for line in lines.map_while(Result::ok) {
            if let Some(index) = line.strip_prefix("ack ").and_then(|n| n.parse().ok()) {
                last_ack = Some(index);
            }
        }
        let last_ack = last_ack.expect("child acknowledged nothing before the kill");

        let store = MetaStore::open(&store_dir).unwrap();
        // Each round the writer starts again at key 0, overwriting; all up to the
        // highest acknowledged index must be present with the right value.
        for index in 0..=last_ack {
            let key = format!("crash/{index:010}");
            let value = store.get(key.as_bytes()).unwrap();
            assert_eq!(
                value.as_deref(),
                Some(&index.to_be_bytes()[..]),
                "round {round}: acknowledged key {key} lost (last ack {last_ack})"
            );
        }
        // The store is consistent: migrations are complete and a scan works end to end.
        assert_eq!(
            run_migrations(&store, MIGRATIONS).unwrap(),
            MIGRATIONS.last().unwrap().version
        );
        let scanned = store.scan_prefix(b"crash/").unwrap();
        assert!(scanned.len() as u64 > last_ack);
        total_acknowledged += last_ack + 1;
        drop(store);
    }
    assert!(total_acknowledged > 0);
}
