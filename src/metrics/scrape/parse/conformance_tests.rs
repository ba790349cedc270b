//! Upstream test data run through the parsers: the complete OpenMetrics 1.0 parser suite
//! (each case's `test.json` says whether its `metrics` file must parse), Prometheus text
//! format pages and the parse / parse-error inputs of Prometheus' own text parser.

use std::fs;
use std::path::{Path, PathBuf};

use super::{openmetrics, parse, text, Format, ParseOptions};

const EXPOSITION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/reference/exposition"
);

/// Suite cases this parser gets wrong, with the reason. The test fails if one of them
/// passes (remove it then) or if a case not listed fails.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

fn reference(path: &str) -> PathBuf {
    Path::new(EXPOSITION).join(path)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The `shouldParse` flag of a suite case's `test.json`.
fn should_parse(test_json: &str) -> bool {
    let after_key = test_json
        .split_once("\"shouldParse\"")
        .map(|(_, rest)| rest)
        .expect("test.json has shouldParse");
    let value = after_key.trim_start().trim_start_matches(':').trim_start();
    if value.starts_with("true") {
        return true;
    }
    assert!(
        value.starts_with("false"),
        "shouldParse is not a boolean: {test_json}"
    );
    false
}

struct SuiteOutcome {
    passed: Vec<String>,
    failed: Vec<String>,
}

fn run_openmetrics_suite(options: &ParseOptions) -> SuiteOutcome {
    let root = reference("openmetrics-1.0-parsers");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.join("test.json").is_file())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 211, "the suite has 211 cases");
    let mut outcome = SuiteOutcome {
        passed: Vec::new(),
        failed: Vec::new(),
    };
    for case in cases {
        let name = case
            .file_name()
            .and_then(|name| name.to_str())
            .expect("case names are UTF-8")
            .to_owned();
        let test_json = String::from_utf8(read(&case.join("test.json"))).expect("UTF-8 json");
        assert!(
            test_json.contains("\"type\": \"text\""),
            "{name}: not a text case"
        );
        let body = read(&case.join("metrics"));
        let result = openmetrics::parse(&body, options);
        let expected = should_parse(&test_json);
        if result.is_ok() == expected {
            outcome.passed.push(name);
        } else {
            let detail = match result {
                Ok(exposition) => format!("accepted ({} samples)", exposition.samples.len()),
                Err(error) => format!("rejected: {error}"),
            };
            outcome.failed.push(format!("{name}: {detail}"));
        }
    }
    outcome
}

#[test]
fn openmetrics_parser_suite() {
    let outcome = run_openmetrics_suite(&ParseOptions::strict());
    println!(
        "openmetrics suite: {} passed, {} failed",
        outcome.passed.len(),
        outcome.failed.len()
    );
    for failure in &outcome.failed {
        println!("  failed {failure}");
    }
    let known = |name: &str| KNOWN_FAILURES.iter().any(|(known, _)| *known == name);
    let unexpected: Vec<&String> = outcome
        .failed
        .iter()
        .filter(|failure| !known(failure.split(':').next().unwrap_or("")))
        .collect();
    let fixed: Vec<&str> = KNOWN_FAILURES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| outcome.passed.iter().any(|passed| passed == name))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failures: {unexpected:#?}"
    );
    assert!(
        fixed.is_empty(),
        "listed as failing but pass now: {fixed:?}"
    );
}

/// The default (Prometheus-like) options accept every good case and reject the bad ones
/// that are not about the data model.
#[test]
fn openmetrics_suite_with_default_options() {
    let outcome = run_openmetrics_suite(&ParseOptions::default());
    println!(
        "openmetrics suite, default options: {} cases as the specification says, {} bad ones \
         accepted (data-model rules only)",
        outcome.passed.len(),
        outcome.failed.len()
    );
    for failure in &outcome.failed {
        assert!(
            failure.contains(": accepted"),
            "default options must accept every good case: {failure}"
        );
    }
    // Syntax, EOF, metadata and family structure cases still fail to parse.
    for must_reject in [
        "bad_blank_line",
        "bad_no_eof",
        "bad_text_after_eof_0",
        "bad_clashing_names_0",
        "bad_metadata_in_wrong_place_0",
        "bad_unit_4",
        "bad_exemplars_6",
        "bad_exemplars_on_unallowed_metric_types_0",
        "bad_stateset_info_values_1",
        "bad_value_5",
        "bad_timestamp_4",
        "bad_invalid_labels_2",
    ] {
        assert!(
            outcome.passed.iter().any(|passed| passed == must_reject),
            "{must_reject} must be rejected with default options"
        );
    }
}

#[test]
fn openmetrics_suite_through_the_content_type() {
    let body = read(&reference("openmetrics-1.0-parsers/roundtrip/metrics"));
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    let exposition = parse(&body, Some(content_type)).expect("roundtrip parses");
    assert_eq!(exposition.format, Format::OpenMetrics);
    assert_eq!(exposition.samples.len(), 40);
}

#[test]
fn prometheus_text_parser_inputs() {
    let corpus = reference("prometheus-common-expfmt/fuzz-corpus");
    let mut files: Vec<PathBuf> = fs::read_dir(&corpus)
        .expect("fuzz corpus")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 26);
    let mut passed = 0;
    let mut failed = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 name");
        let must_parse = !name.starts_with("from_test_parse_error_");
        let body = read(file);
        let result = text::parse(&body).map(|exposition| exposition.samples.len());
        if result.is_ok() == must_parse {
            passed += 1;
        } else {
            failed.push(format!("{name}: {result:?}"));
        }
    }
    println!(
        "prometheus text inputs: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn prometheus_text_pages() {
    let body = read(&reference("prometheus-common-expfmt/text"));
    let exposition = parse(&body, Some("text/plain; version=0.0.4")).expect("text page");
    assert_eq!(exposition.format, Format::PrometheusText);
    assert_eq!(exposition.samples.len(), 248);
    assert!(exposition.metadata.len() > 30);

    let body = read(&reference("prometheus-textparse/alltypes.237mfs.prom.txt"));
    let exposition = text::parse(&body).expect("237 families page");
    assert_eq!(exposition.samples.len(), 1857);
    assert_eq!(exposition.metadata.len(), 237);
    // Bucket bounds come out canonical.
    let bucket = exposition
        .samples
        .iter()
        .find(|s| s.name == "go_gc_heap_allocs_by_size_bytes_bucket")
        .expect("a bucket");
    assert_eq!(bucket.label("le"), Some("8.999999999999998"));
    assert!(exposition
        .samples
        .iter()
        .all(|s| s.label("le") != Some("1") && s.label("quantile") != Some("0")));
}

#[test]
fn openmetrics_pages_of_prometheus_tests() {
    for (file, samples) in [("1histogram.om.txt", 42), ("alltypes.5mfs.om.txt", 53)] {
        let body = read(&reference(&format!("prometheus-textparse/{file}")));
        let exposition = openmetrics::parse(&body, &ParseOptions::default())
            .unwrap_or_else(|error| panic!("{file}: {error}"));
        assert_eq!(exposition.samples.len(), samples, "{file}");
    }
    // Go's client writes histograms with negative buckets and a (negative) sum, which
    // strict OpenMetrics forbids.
    let body = read(&reference("prometheus-textparse/alltypes.5mfs.om.txt"));
    let error = openmetrics::parse(&body, &ParseOptions::strict()).unwrap_err();
    assert_eq!(error.line(), Some(33), "{error}");
    assert!(
        error
            .to_string()
            .contains("rpc_durations_histogram_seconds_sum"),
        "{error}"
    );
}
