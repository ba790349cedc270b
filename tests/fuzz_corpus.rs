//! Replays the kept fuzzing corpus (`fuzz/corpus/<target>/`, grown by
//! `cargo +nightly fuzz run <target>`) through the same entry points the fuzzers call, so
//! every input that once found a crash, and every input that reached new code, stays a
//! regression test on the stable toolchain.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seeds` (re)writes the seed inputs:
//! real expositions and LogQL queries from the reference folder, and remote-write and
//! Loki push bodies made by Sightline's own encoders.

use std::path::{Path, PathBuf};

use sightline::logs::push::{PushedEntry, PushedStream};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// Feeds every file of a target's corpus to `run`; the corpus must not be empty.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = corpus_dir(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&body));
        assert!(outcome.is_ok(), "{target}: {} panics", path.display());
        count += 1;
    }
    assert!(count > 0, "{target}: empty corpus in {}", dir.display());
    println!("{target}: {count} corpus inputs replayed");
}

#[test]
fn exposition_corpus() {
    replay("exposition", sightline::metrics::scrape::parse::fuzz_one);
}

#[test]
fn remote_write_corpus() {
    replay("remote_write", sightline::metrics::remote::fuzz_one);
}

#[test]
fn loki_push_corpus() {
    replay("loki_push", sightline::logs::push::fuzz_one);
}

#[test]
fn logql_corpus() {
    replay("logql", sightline::logs::logql::fuzz_one);
}

fn reference(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(path)
}

fn write_seed(target: &str, name: &str, body: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), body).unwrap();
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
#[ignore = "writes seed inputs into fuzz/corpus"]
fn write_seeds() {
    // Expositions: the OpenMetrics parser suite, expfmt's corpus and textparse's files.
    let mut files = Vec::new();
    files_under(&reference("exposition"), &mut files);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let parent = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        if name.ends_with(".md") || name.ends_with(".gz") || name.starts_with("protobuf") {
            continue;
        }
        write_seed(
            "exposition",
            &format!("{parent}-{name}"),
            &std::fs::read(&path).unwrap(),
        );
    }

    // LogQL: every `query:` line of Loki's benchmark query files, one file each.
    let mut files = Vec::new();
    files_under(&reference("logql/loki-bench-queries"), &mut files);
    let mut index = 0;
    for path in files {
        if path.extension().is_none_or(|ext| ext != "yaml") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let line = line.trim_start().trim_start_matches("- ");
            if let Some(query) = line.strip_prefix("query:") {
                let query = query.trim().trim_matches('\'');
                write_seed("logql", &format!("bench-{index:03}"), query.as_bytes());
                index += 1;
            }
        }
    }

    // Remote write: uncompressed 1.0 and 2.0 bodies (the fuzzer also tries them as snappy).
    let series = vec![
        (
            vec![
                ("__name__".to_string(), "http_requests_total".to_string()),
                ("job".to_string(), "api".to_string()),
                ("code".to_string(), "200".to_string()),
            ],
            vec![(1_700_000_000_000, 1.0), (1_700_000_015_000, 2.5)],
        ),
        (
            vec![("__name__".to_string(), "up".to_string())],
            vec![(1_700_000_000_000, f64::NAN)],
        ),
    ];
    let uncompressed = |snappy: Vec<u8>| snap::raw::Decoder::new().decompress_vec(&snappy).unwrap();
    write_seed(
        "remote_write",
        "v1",
        &uncompressed(sightline::metrics::remote::encode_write_request_v1(&series)),
    );
    write_seed(
        "remote_write",
        "v2",
        &uncompressed(sightline::metrics::remote::encode_write_request_v2(&series)),
    );

    // Loki push: protobuf and JSON bodies with structured metadata.
    let streams = vec![PushedStream {
        labels: vec![
            ("app".to_string(), "shop".to_string()),
            ("level".to_string(), "info".to_string()),
        ],
        entries: vec![
            PushedEntry {
                timestamp_ns: 1_700_000_000_000_000_000,
                line: "GET /cart 200 12ms".to_string(),
                structured_metadata: vec![("trace_id".to_string(), "abc123".to_string())],
            },
            PushedEntry {
                timestamp_ns: 1_700_000_000_500_000_000,
                line: "{\"level\":\"error\",\"msg\":\"boom\"}".to_string(),
                structured_metadata: Vec::new(),
            },
        ],
    }];
    write_seed(
        "loki_push",
        "protobuf",
        &uncompressed(sightline::logs::push::encode_push_protobuf(&streams)),
    );
    write_seed(
        "loki_push",
        "json",
        &sightline::logs::push::encode_push_json(&streams),
    );
}
