//! Every acknowledged remote write survives `kill -9`: a client streams writes, the server
//! is killed mid-stream, and every sample acknowledged with a 204 is found after restart.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Launch, TestServer};
use sightline::metrics::remote::{encode_write_request_v1, SeriesToEncode};
use sightline::metrics::tsdb::index::{MatchOp, Matcher};
use sightline::metrics::tsdb::{Tsdb, TsdbOptions};

const SERIES: usize = 50;

fn batch(round: i64) -> Vec<u8> {
    let series: Vec<SeriesToEncode> = (0..SERIES)
        .map(|index| {
            (
                vec![
                    ("__name__".to_string(), "crash_test_total".to_string()),
                    ("series".to_string(), format!("{index:03}")),
                ],
                vec![(1_700_000_000_000 + round * 1000, round as f64)],
            )
        })
        .collect();
    encode_write_request_v1(&series)
}

#[test]
fn acknowledged_samples_survive_sigkill() {
    let mut server = TestServer::start();
    server.wait_ready();
    let data_dir = server.data_dir.clone();
    let url = server.url("/api/v1/write");
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (url, acknowledged, stop) = (url.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = TestServer::client();
                let mut round = writer;
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(&url)
                        .header("Content-Type", "application/x-protobuf")
                        .header("Content-Encoding", "snappy")
                        .body(batch(round))
                        .send();
                    match sent {
                        Ok(response) if response.status() == 204 => {
                            acknowledged.lock().unwrap().push(round)
                        }
                        Ok(response) => panic!(
                            "write refused: {} {}",
                            response.status(),
                            response.text().unwrap_or_default()
                        ),
                        Err(_) => break, // the server is gone
                    }
                    round += 2;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 5,
        "too few writes acknowledged before the kill: {}",
        acknowledged.len()
    );

    // Open the same files the way the server does and look for every acknowledged sample.
    let tsdb = Tsdb::open(&data_dir.join("metrics"), TsdbOptions::default()).unwrap();
    let matcher = Matcher::new(MatchOp::Equal, "__name__", "crash_test_total").unwrap();
    let stored = tsdb.select(&[matcher], i64::MIN, i64::MAX);
    assert_eq!(stored.len(), SERIES);
    for series in &stored {
        for round in &acknowledged {
            let timestamp = 1_700_000_000_000 + round * 1000;
            assert!(
                series
                    .samples
                    .iter()
                    .any(|(t, v)| *t == timestamp && *v == *round as f64),
                "acknowledged sample at round {round} missing from {:?}",
                series.labels
            );
        }
    }
    drop(tsdb);

    // The server restarts on the same data and serves it.
    let restarted = TestServer::start_with(Launch::default().data_dir(&data_dir));
    restarted.wait_ready();
    let body: serde_json::Value = restarted
        .get("/api/v1/series?match[]=crash_test_total")
        .json()
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), SERIES);
}

#[test]
fn torn_wal_tail_is_truncated_and_the_server_starts() {
    let mut server = TestServer::start();
    server.wait_ready();
    let data_dir = server.data_dir.clone();
    for round in 0..5 {
        let response = TestServer::client()
            .post(server.url("/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(batch(round))
            .send()
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    server.kill9();
    // Cut the last segment in the middle of its last record.
    let wal_dir = data_dir.join("metrics/wal");
    let mut segments: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let length = std::fs::metadata(last).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    file.set_len(length - 7).unwrap();
    drop(file);

    let restarted = TestServer::start_with(Launch::default().data_dir(&data_dir));
    restarted.wait_ready();
    let body: serde_json::Value = restarted
        .get("/api/v1/series?match[]=crash_test_total")
        .json()
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), SERIES);
    assert!(
        restarted.log_text().to_lowercase().contains("torn")
            || restarted.log_text().contains("truncat"),
        "{}",
        restarted.log_text()
    );
}
