//! Rule-by-rule tests of both parsers, and property tests: no input panics, and rendered
//! samples parse back to themselves.

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

// ---------- helpers ----------

/// A sample as plain owned values, NaN compared by bits.
#[derive(Debug, PartialEq)]
struct Plain {
    name: String,
    labels: Vec<(String, String)>,
    value_bits: u64,
    timestamp_ms: Option<i64>,
}

fn plain(sample: &ParsedSample<'_>) -> Plain {
    Plain {
        name: sample.name.to_string(),
        labels: sample
            .labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value_bits: canonical_bits(sample.value),
        timestamp_ms: sample.timestamp_ms,
    }
}

fn canonical_bits(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    }
}

fn expect(name: &str, labels: &[(&str, &str)], value: f64, timestamp_ms: Option<i64>) -> Plain {
    Plain {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value_bits: canonical_bits(value),
        timestamp_ms,
    }
}

fn text_ok(body: &str) -> Exposition<'_> {
    text::parse(body.as_bytes()).unwrap_or_else(|error| panic!("{body:?}: {error}"))
}

fn text_err(body: &str) -> ParseError {
    match text::parse(body.as_bytes()) {
        Ok(exposition) => panic!("{body:?} parsed: {:?}", exposition.samples),
        Err(error) => error,
    }
}

fn om_ok(body: &str) -> Exposition<'_> {
    openmetrics::parse(body.as_bytes(), &ParseOptions::strict())
        .unwrap_or_else(|error| panic!("{body:?}: {error}"))
}

fn om_err(body: &str) -> ParseError {
    match openmetrics::parse(body.as_bytes(), &ParseOptions::strict()) {
        Ok(exposition) => panic!("{body:?} parsed: {:?}", exposition.samples),
        Err(error) => error,
    }
}

fn samples(exposition: &Exposition<'_>) -> Vec<Plain> {
    exposition.samples.iter().map(plain).collect()
}

fn kind_of(error: &ParseError) -> &ErrorKind {
    error.kind().expect("a line error")
}

// ---------- content type and Accept ----------

#[test]
fn the_content_type_chooses_the_parser() {
    let om = Some("application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(Format::from_content_type(om), Ok(Format::OpenMetrics));
    let om_old = Some("application/openmetrics-text;version=0.0.1");
    assert_eq!(Format::from_content_type(om_old), Ok(Format::OpenMetrics));
    let text = Some("text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(Format::from_content_type(text), Ok(Format::PrometheusText));
    assert_eq!(
        Format::from_content_type(Some("Text/Plain")),
        Ok(Format::PrometheusText)
    );
    assert_eq!(Format::from_content_type(None), Ok(Format::PrometheusText));
    assert_eq!(
        Format::from_content_type(Some("")),
        Ok(Format::PrometheusText)
    );
    let protobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    let error = Format::from_content_type(Some(protobuf)).unwrap_err();
    assert!(matches!(error, ParseError::UnsupportedContentType(_)));
    assert_eq!(error.line(), None);
    assert!(error.to_string().starts_with("unsupported content type"));
    assert!(parse(b"a 1\n", Some("text/html")).is_err());

    let exposition = parse(b"a 1\n# EOF\n", om).expect("openmetrics");
    assert_eq!(exposition.format, Format::OpenMetrics);
    // Without "# EOF" the same body is text format only.
    assert!(parse(b"a 1\n", om).is_err());
    assert_eq!(parse(b"a 1\n", None).expect("text").samples.len(), 1);
}

#[test]
fn the_accept_header_prefers_openmetrics() {
    let types: Vec<&str> = ACCEPT_HEADER.split(',').collect();
    assert_eq!(
        types,
        [
            "application/openmetrics-text;version=1.0.0;q=0.6",
            "application/openmetrics-text;version=0.0.1;q=0.5",
            "text/plain;version=0.0.4;q=0.3",
            "*/*;q=0.2",
        ]
    );
    assert!(!ACCEPT_HEADER.contains(' '));
}

// ---------- text format ----------

#[test]
fn text_samples_labels_values_and_timestamps() {
    let body = "\
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000
http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9

# UTF-8 metric and label names:
{\"my.dotted.metric\", \"error.message\"=\"Not Found\"} 1

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem=\"division by zero\"} +Inf -3982045
";
    let exposition = text_ok(body);
    assert_eq!(exposition.format, Format::PrometheusText);
    assert_eq!(
        samples(&exposition),
        [
            expect(
                "http_requests_total",
                &[("method", "post"), ("code", "200")],
                1027.0,
                Some(1395066363000)
            ),
            expect(
                "http_requests_total",
                &[("method", "post"), ("code", "400")],
                3.0,
                Some(1395066363000)
            ),
            expect(
                "msdos_file_access_time_seconds",
                &[
                    ("path", "C:\\DIR\\FILE.TXT"),
                    ("error", "Cannot find file:\n\"FILE.TXT\"")
                ],
                1.458255915e9,
                None
            ),
            expect(
                "my.dotted.metric",
                &[("error.message", "Not Found")],
                1.0,
                None
            ),
            expect("metric_without_timestamp_and_labels", &[], 12.47, None),
            expect(
                "something_weird",
                &[("problem", "division by zero")],
                f64::INFINITY,
                Some(-3982045)
            ),
        ]
    );
    assert_eq!(
        exposition.metadata,
        [MetricMetadata {
            family: "http_requests_total".into(),
            kind: MetricType::Counter,
            help: "The total number of HTTP requests.".into(),
            unit: String::new(),
        }]
    );
    assert_eq!(
        exposition.samples[0].series_text,
        "http_requests_total{method=\"post\",code=\"200\"}"
    );
    assert_eq!(
        exposition.samples[4].series_text,
        "metric_without_timestamp_and_labels"
    );
}

#[test]
fn text_strings_borrow_from_the_body_unless_escaped() {
    let exposition = text_ok("a{b=\"plain\",c=\"x\\ny\"} 1\n");
    let labels = &exposition.samples[0].labels;
    assert!(matches!(exposition.samples[0].name, Cow::Borrowed(_)));
    assert!(matches!(labels[0].1, Cow::Borrowed(_)));
    assert!(matches!(labels[1].1, Cow::Owned(_)));
}

#[test]
fn text_escapes() {
    let exposition = text_ok(
        "# HELP m back\\\\slash new\\nline \\\"quoted\\\" \\t\nm{a=\"\\\\\",b=\"\\\"\",c=\"\\n\",d=\"\\t\\z\"} 1\n",
    );
    assert_eq!(
        exposition.metadata[0].help,
        "back\\slash new\nline \\\"quoted\\\" \\t"
    );
    assert_eq!(
        samples(&exposition)[0].labels,
        [
            ("a".to_owned(), "\\".to_owned()),
            ("b".to_owned(), "\"".to_owned()),
            ("c".to_owned(), "\n".to_owned()),
            ("d".to_owned(), "\\t\\z".to_owned()),
        ]
    );
    // A raw line feed cannot be inside a label value.
    let error = text_err("metric{label=\"new\nline\"} 3.14\n");
    assert_eq!(error.line(), Some(1));
    assert_eq!(kind_of(&error), &ErrorKind::UnterminatedString);
}

#[test]
fn text_special_values_and_go_float_spellings() {
    let cases = [
        ("+Inf", f64::INFINITY),
        ("-Inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("+inf", f64::INFINITY),
        ("-infinity", f64::NEG_INFINITY),
        ("INF", f64::INFINITY),
        ("NaN", f64::NAN),
        ("nan", f64::NAN),
        ("1e3", 1000.0),
        ("-1.5E-3", -0.0015),
        (".5", 0.5),
        ("08", 8.0),
        ("1_000", 1000.0),
        ("0x1p-3", 0.125),
    ];
    for (text, value) in cases {
        let body = format!("m {text}\n");
        let exposition = text_ok(&body);
        assert_eq!(
            canonical_bits(exposition.samples[0].value),
            canonical_bits(value),
            "{text}"
        );
    }
    for bad in ["blubb", "1.2.3", "+NaN", "0x1", "1e", "1,5", "∞"] {
        let error = text_err(&format!("m {bad}\n"));
        assert_eq!(
            kind_of(&error),
            &ErrorKind::InvalidValue(bad.to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        kind_of(&text_err("m 1e999\n")),
        &ErrorKind::ValueOutOfRange("1e999".into())
    );
}

#[test]
fn text_timestamps_are_integer_milliseconds() {
    let exposition = text_ok("a 1 -5\nb 1 +7\nc 1 9223372036854775807\n");
    let timestamps: Vec<_> = exposition.samples.iter().map(|s| s.timestamp_ms).collect();
    assert_eq!(timestamps, [Some(-5), Some(7), Some(i64::MAX)]);
    for bad in ["2.72", "1e3", "9223372036854775808", "NaN", "0x10"] {
        let error = text_err(&format!("metric{{label=\"bla\"}} 3.14 {bad}\n"));
        assert_eq!(
            kind_of(&error),
            &ErrorKind::InvalidTimestamp(bad.into()),
            "{bad}"
        );
    }
    let error = text_err("metric{label=\"bla\"} 3.14 2 3\n");
    assert!(matches!(kind_of(&error), ErrorKind::Syntax { .. }));
}

#[test]
fn text_blanks_comments_and_line_ends() {
    let body = "\n\
# A normal comment.\n\
#\n\
# HELP\n\
# TYPE\n\
#HELP m tight\n\
\t \n\
  # TYPE   m   gauge  \n\
  m { a = \"1\" , } 1 \t\n\
m{a=\"2\"}-Inf\n\
m {a=\"3\"} 2 5\r\n\
# EOF is only a comment here\n";
    let exposition = text_ok(body);
    assert_eq!(
        samples(&exposition),
        [
            expect("m", &[("a", "1")], 1.0, None),
            expect("m", &[("a", "2")], f64::NEG_INFINITY, None),
            expect("m", &[("a", "3")], 2.0, Some(5)),
        ]
    );
    assert_eq!(exposition.metadata[0].help, "tight");
    assert_eq!(exposition.metadata[0].kind, MetricType::Gauge);
    assert_eq!(exposition.samples[0].series_text, "m { a = \"1\" , }");
    assert!(text_ok("").samples.is_empty());
    assert!(text_ok("\n\n").samples.is_empty());
}

#[test]
fn text_needs_a_final_line_feed() {
    let error = text_err("a 1\nbla 3.14");
    assert_eq!(error.line(), Some(2));
    assert_eq!(kind_of(&error), &ErrorKind::MissingFinalLineFeed);
    assert_eq!(
        error.to_string(),
        "line 2: missing line feed at the end of the last line"
    );
}

#[test]
fn text_metadata_rules() {
    // HELP text is everything after the name; an empty one counts as no line.
    let exposition = text_ok("# HELP m  two  words \n# HELP n\n# HELP n \n# HELP n real\n");
    assert_eq!(exposition.metadata[0].help, "two  words");
    assert_eq!(exposition.metadata[1].help, "real");
    let error = text_err("\n# HELP metric one\n# HELP metric two\n");
    assert_eq!(error.line(), Some(3));
    assert_eq!(
        kind_of(&error),
        &ErrorKind::DuplicateMetadata {
            keyword: "HELP",
            family: "metric".into()
        }
    );
    let error = text_err("# TYPE metric counter\n# TYPE metric untyped\n");
    assert_eq!(
        error.to_string(),
        "line 2: second TYPE line for metric family \"metric\""
    );
    let error = text_err("metric 4.12\n# TYPE metric counter\n");
    assert_eq!(
        error.to_string(),
        "line 2: TYPE line for metric family \"metric\" after its samples"
    );
    let error = text_err("h_bucket{le=\"1\"} 1\n# TYPE h histogram\n");
    assert!(matches!(
        kind_of(&error),
        ErrorKind::MetadataAfterSamples { .. }
    ));
    // HELP may come after the samples.
    text_ok("metric 1\n# HELP metric late help\n");
    // Types: five words, any case; untyped is unknown.
    let exposition = text_ok("# TYPE a COUNTER\n# TYPE b untyped\n# TYPE c Summary\n");
    let kinds: Vec<_> = exposition.metadata.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MetricType::Counter,
            MetricType::Unknown,
            MetricType::Summary
        ]
    );
    for bad in ["bla", "info", "gaugehistogram", "stateset", "unknown"] {
        let error = text_err(&format!("# TYPE metric {bad}\n"));
        assert_eq!(kind_of(&error), &ErrorKind::InvalidMetricType(bad.into()));
    }
    assert!(matches!(
        kind_of(&text_err("# TYPE metric\n")),
        ErrorKind::Syntax { .. }
    ));
    assert!(matches!(
        kind_of(&text_err("# TYPE metric gauge extra\n")),
        ErrorKind::Syntax { .. }
    ));
    assert_eq!(
        kind_of(&text_err("# TYPE met-ric\n")),
        &ErrorKind::InvalidMetricName("met-ric".into())
    );
    // Quoted names in metadata.
    let exposition =
        text_ok("# TYPE \"my.metric\" gauge\n# HELP \"my.metric\" dotted\n{\"my.metric\"} 1\n");
    assert_eq!(exposition.metadata[0].family, "my.metric");
    assert_eq!(exposition.metadata[0].kind, MetricType::Gauge);
    assert_eq!(exposition.metadata[0].help, "dotted");
}

#[test]
fn text_names() {
    for bad in ["0a", "a.b", "a-b", "@invalidmetric{label=\"bla\"}", "é"] {
        let error = text_err(&format!("{bad} 1\n"));
        assert!(
            matches!(kind_of(&error), ErrorKind::InvalidMetricName(_)),
            "{bad}: {error}"
        );
    }
    assert_eq!(
        kind_of(&text_err("{label=\"bla\"} 3.14 2\n")),
        &ErrorKind::MissingMetricName
    );
    for bad in [
        "metric{@=\"bla\"} 1\n",
        "metric{label+=\"bla\"} 1\n",
        "m{1a=\"x\"} 1\n",
    ] {
        assert!(
            matches!(kind_of(&text_err(bad)), ErrorKind::InvalidLabelName(_)),
            "{bad}"
        );
    }
    assert_eq!(
        kind_of(&text_err("metric{__name__=\"bla\"} 3.14\n")),
        &ErrorKind::ReservedLabelName
    );
    assert_eq!(
        kind_of(&text_err("m{a=\"1\",b=\"2\",a=\"3\"} 1\n")),
        &ErrorKind::DuplicateLabelName("a".into())
    );
    assert!(matches!(
        kind_of(&text_err("metric{label=bla} 3.14\n")),
        ErrorKind::Syntax { .. }
    ));
    assert!(matches!(
        kind_of(&text_err("metric{label=\"bla\"+} 3.14\n")),
        ErrorKind::Syntax { .. }
    ));
    assert_eq!(
        kind_of(&text_err("m{\"n\"} 1\n")),
        &ErrorKind::MetricNameTwice
    );
    // Colons are fine in metric names, quoted names hold anything.
    let exposition = text_ok("job:rate5m{\"a b\"=\"c\"} 1\n{\"quo\\\"ted\",x=\"y\"} 2\n");
    assert_eq!(
        samples(&exposition),
        [
            expect("job:rate5m", &[("a b", "c")], 1.0, None),
            expect("quo\"ted", &[("x", "y")], 2.0, None),
        ]
    );
}

#[test]
fn text_bounds_are_validated_and_canonical() {
    let body = "\
# TYPE h histogram
h_bucket{le=\"0.005\"} 1
h_bucket{le=\"1\"} 2
h_bucket{le=\"1e+06\"} 2
h_bucket{le=\"100000\"} 2
h_bucket{le=\"+Inf\"} 3
h_sum 4
h_count 3
# TYPE s summary
s{quantile=\"0\"} 1
s{quantile=\".5\"} 1
s{quantile=\"-12.34\"} 1
s_sum 1
# TYPE g gauge
g{le=\"1\",quantile=\"1\"} 1
u_bucket{le=\"1\"} 1
";
    let exposition = text_ok(body);
    let bound = |index: usize, label: &str| {
        exposition.samples[index]
            .label(label)
            .map(str::to_owned)
            .expect("bound")
    };
    assert_eq!(bound(0, "le"), "0.005");
    assert_eq!(bound(1, "le"), "1.0");
    assert_eq!(bound(2, "le"), "1e+06");
    assert_eq!(bound(3, "le"), "100000.0");
    assert_eq!(bound(4, "le"), "+Inf");
    assert_eq!(bound(7, "quantile"), "0.0");
    assert_eq!(bound(8, "quantile"), "0.5");
    assert_eq!(bound(9, "quantile"), "-12.34");
    // Only histogram and summary families are touched.
    assert_eq!(bound(11, "le"), "1");
    assert_eq!(bound(11, "quantile"), "1");
    assert_eq!(bound(12, "le"), "1");

    let error = text_err("\n# TYPE metric histogram\nmetric_bucket{le=\"bla\"} 3.14\n");
    assert_eq!(error.line(), Some(3));
    assert_eq!(
        kind_of(&error),
        &ErrorKind::InvalidLabelValue {
            label: "le",
            value: "bla".into()
        }
    );
    let error = text_err("# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n");
    assert!(matches!(
        kind_of(&error),
        ErrorKind::InvalidLabelValue {
            label: "quantile",
            ..
        }
    ));
}

#[test]
fn text_errors_name_the_line() {
    let error = text_err("a 1\nb 2\nc{x=\"1\" 3\nd 4\n");
    assert_eq!(error.line(), Some(3));
    assert!(error.to_string().starts_with("line 3: expected"), "{error}");
    let error = text::parse(b"a 1\nb{x=\"\xff\"} 2\n").unwrap_err();
    assert_eq!(error.to_string(), "line 2: invalid utf-8");
    // Long input is cut in messages.
    let long = "x".repeat(500);
    let error = text_err(&format!("m {long}\n"));
    assert!(error.to_string().len() < 120, "{error}");
}

// ---------- OpenMetrics ----------

#[test]
fn openmetrics_needs_eof_last() {
    assert!(om_ok("# EOF").samples.is_empty());
    assert!(om_ok("# EOF\n").samples.is_empty());
    assert_eq!(om_ok("a 1\n# EOF").samples.len(), 1);
    assert_eq!(kind_of(&om_err("")), &ErrorKind::MissingEof);
    let error = om_err("a 1\n");
    assert_eq!(
        (error.line(), kind_of(&error)),
        (Some(1), &ErrorKind::MissingEof)
    );
    let error = om_err("a 1\n# EOF\n\n");
    assert_eq!(
        (error.line(), kind_of(&error)),
        (Some(3), &ErrorKind::TextAfterEof)
    );
    assert_eq!(
        kind_of(&om_err("a 1\n# EOF\nb 1\n")),
        &ErrorKind::TextAfterEof
    );
    assert_eq!(kind_of(&om_err("# EOF \n")), &ErrorKind::CommentLine);
    assert_eq!(kind_of(&om_err("#EOF\n")), &ErrorKind::CommentLine);
}

#[test]
fn openmetrics_line_rules() {
    assert_eq!(
        kind_of(&om_err("a 1\r\n# EOF\n")),
        &ErrorKind::CarriageReturn
    );
    assert_eq!(kind_of(&om_err("a 1\n\n# EOF\n")), &ErrorKind::BlankLine);
    assert_eq!(
        kind_of(&om_err("# a comment\n# EOF\n")),
        &ErrorKind::CommentLine
    );
    for bad in [
        "a  1\n# EOF\n",
        "a 1 \n# EOF\n",
        " a 1\n# EOF\n",
        "a\t1\n# EOF\n",
        "a{b=\"1\"}1\n# EOF\n",
        "a{b=\"1\", c=\"2\"} 1\n# EOF\n",
        "a{b=\"1\",} 1\n# EOF\n",
    ] {
        om_err(bad);
    }
}

#[test]
fn openmetrics_values_and_timestamps() {
    let body = "\
a{x=\"1\"} 1.5 1520879607.789
a{x=\"2\"} +Inf 0
a{x=\"3\"} -inf -1.5
a{x=\"4\"} NaN 1.5e3
a{x=\"5\"} 0000042 000
# EOF
";
    let exposition = om_ok(body);
    assert_eq!(
        samples(&exposition),
        [
            expect("a", &[("x", "1")], 1.5, Some(1520879607789)),
            expect("a", &[("x", "2")], f64::INFINITY, Some(0)),
            expect("a", &[("x", "3")], f64::NEG_INFINITY, Some(-1500)),
            expect("a", &[("x", "4")], f64::NAN, Some(1_500_000)),
            expect("a", &[("x", "5")], 42.0, Some(0)),
        ]
    );
    for bad in ["0x1p-3", "1_000", "Infinite", "+NaN", "1e"] {
        assert!(
            matches!(
                kind_of(&om_err(&format!("a {bad}\n# EOF\n"))),
                ErrorKind::InvalidValue(_)
            ),
            "{bad}"
        );
    }
    for bad in ["NaN", "Inf", "1z", "1_2"] {
        assert!(
            matches!(
                kind_of(&om_err(&format!("a 1 {bad}\n# EOF\n"))),
                ErrorKind::InvalidTimestamp(_)
            ),
            "{bad}"
        );
    }
}

#[test]
fn openmetrics_metadata() {
    let body = "\
# TYPE acme_request_seconds summary
# UNIT acme_request_seconds seconds
# HELP acme_request_seconds Latency \\\"through\\\" the\\nrouter \\\\ \\z.
acme_request_seconds_sum{path=\"/api\"} 9036.32
acme_request_seconds_count{path=\"/api\"} 807283.0
acme_request_seconds_created{path=\"/api\"} 1605281325.0
# HELP go_goroutines Number of goroutines.
go_goroutines 69
# EOF
";
    let exposition = om_ok(body);
    assert_eq!(
        exposition.metadata,
        [
            MetricMetadata {
                family: "acme_request_seconds".into(),
                kind: MetricType::Summary,
                help: "Latency \"through\" the\nrouter \\ \\z.".into(),
                unit: "seconds".into(),
            },
            MetricMetadata {
                family: "go_goroutines".into(),
                kind: MetricType::Unknown,
                help: "Number of goroutines.".into(),
                unit: String::new(),
            },
        ]
    );
    assert_eq!(exposition.samples.len(), 4);
    // Unit must end the name after an underscore.
    let error = om_err("# TYPE foo counter\n# UNIT foo seconds\n# EOF\n");
    assert_eq!(
        error.to_string(),
        "line 2: unit \"seconds\" is not a suffix of metric family name \"foo\""
    );
    om_err("# UNIT fooseconds seconds\n# EOF\n");
    om_ok("# UNIT foo_seconds seconds\n# TYPE foo_seconds counter\n# EOF\n");
    om_err("# UNIT x_u u\n# TYPE x_u info\n# EOF\n");
    // Metadata comes once and before the family's samples; families are contiguous.
    om_err("# HELP a x\n# HELP a y\n# EOF\n");
    om_err("# TYPE a gauge\na 1\n# HELP a late\n# EOF\n");
    let error = om_err("# TYPE a gauge\n# TYPE b gauge\n# HELP a back\n# EOF\n");
    assert_eq!(kind_of(&error), &ErrorKind::FamilyRepeated("a".into()));
    let error = om_err("a 1\nb 1\na 2\n# EOF\n");
    assert_eq!(
        (error.line(), kind_of(&error)),
        (Some(3), &ErrorKind::FamilyRepeated("a".into()))
    );
    // Types are lowercase words of the specification.
    om_err("# TYPE a Counter\n# EOF\n");
    om_err("# TYPE a untyped\n# EOF\n");
}

#[test]
fn openmetrics_sample_names_follow_the_family_type() {
    let body = "\
# TYPE c counter
c_total 1
c_created 1520430000.123
# TYPE i info
i_info{version=\"1.2\"} 1
# TYPE s stateset
s{s=\"a\"} 1
s{s=\"b\"} 0
# TYPE g gaugehistogram
g_bucket{le=\"1\"} 1
g_bucket{le=\"+Inf\"} 2
g_gcount 2
g_gsum 3
# EOF
";
    let names: Vec<String> = om_ok(body)
        .samples
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "c_total",
            "c_created",
            "i_info",
            "s",
            "s",
            "g_bucket",
            "g_bucket",
            "g_gcount",
            "g_gsum"
        ]
    );
    let error = om_err("# TYPE c counter\nc 1\n# EOF\n");
    assert_eq!(
        error.to_string(),
        "line 2: sample name \"c\" is not valid in counter metric family \"c\""
    );
    // A name the family does not produce starts a new family: here it clashes with a
    // sample name of "c".
    om_err("# TYPE c counter\nc_total 1\nother 1\nc_created 1\n# EOF\n");
    // A gauge named like a counter's sample clashes with it.
    let error = om_err("# TYPE a_created gauge\n# TYPE a counter\n# EOF\n");
    assert_eq!(
        error.to_string(),
        "line 2: metric family \"a\" would name samples \"a_created\", the name of another family"
    );
    let error = om_err("# TYPE a counter\n# TYPE a_total gauge\n# EOF\n");
    assert_eq!(
        error.to_string(),
        "line 2: metric family name \"a_total\" is a sample name of metric family \"a\""
    );
}

#[test]
fn openmetrics_exemplars() {
    let body = "\
# TYPE foo histogram
foo_bucket{le=\"0.01\"} 0
foo_bucket{le=\"0.1\"} 8 # {} 0.054
foo_bucket{le=\"1\"} 11 # {trace_id=\"KOO5S4vxi0o\"} 0.67
foo_bucket{le=\"10\"} 17 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789
foo_bucket{le=\"+Inf\"} 17
foo_count 17
foo_sum 324789.3
foo_created 1520430000.123
# TYPE bar counter
bar_total 5 # {a=\"b # c\"} 1
# EOF
";
    let exposition = om_ok(body);
    let exemplars: Vec<_> = exposition
        .samples
        .iter()
        .map(|s| {
            s.exemplar.as_ref().map(|e| {
                let labels: Vec<(String, String)> = e
                    .labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                (labels, e.value, e.timestamp_ms)
            })
        })
        .collect();
    assert_eq!(exemplars[0], None);
    assert_eq!(exemplars[1], Some((vec![], 0.054, None)));
    assert_eq!(
        exemplars[3],
        Some((
            vec![("trace_id".into(), "oHg5SJYRHA0".into())],
            9.8,
            Some(1520879607789)
        ))
    );
    assert_eq!(
        exemplars[8],
        Some((vec![("a".into(), "b # c".into())], 1.0, None))
    );
    // The bucket bounds come out canonical.
    let bounds: Vec<&str> = exposition.samples[..5]
        .iter()
        .map(|s| s.label("le").expect("le"))
        .collect();
    assert_eq!(bounds, ["0.01", "0.1", "1.0", "10.0", "+Inf"]);

    let exemplar_on_gauge = "# TYPE g gauge\ng 1 # {a=\"b\"} 1\n# EOF\n";
    assert_eq!(
        kind_of(&om_err(exemplar_on_gauge)),
        &ErrorKind::ExemplarNotAllowed("g".into())
    );
    let long = "x".repeat(128);
    om_err(&format!(
        "# TYPE c counter\nc_total 1 # {{a=\"{long}\"}} 1\n# EOF\n"
    ));
    om_ok(&format!(
        "# TYPE c counter\nc_total 1 # {{a=\"{}\"}} 1\n# EOF\n",
        &long[1..]
    ));
    om_err("# TYPE c counter\nc_total 1 # {a=\"b\",a=\"c\"} 1\n# EOF\n");
}

#[test]
fn openmetrics_strict_and_default_options() {
    let negative_counter = b"# TYPE a counter\na_total -1\n# EOF\n";
    assert!(openmetrics::parse(negative_counter, &ParseOptions::default()).is_ok());
    let error = openmetrics::parse(negative_counter, &ParseOptions::strict()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2: invalid value -1 for \"a_total\": must not be NaN or negative"
    );
    assert!(parse(negative_counter, Some("application/openmetrics-text")).is_ok());

    let unsorted_buckets = "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n";
    assert!(openmetrics::parse(unsorted_buckets.as_bytes(), &ParseOptions::default()).is_ok());
    om_err(unsorted_buckets);
}

#[test]
fn openmetrics_histogram_points() {
    om_ok("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\n# EOF\n");
    om_ok("# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 0\nh_bucket{a=\"2\",le=\"+Inf\"} 0\n# EOF\n");
    // Points of one metric at increasing timestamps.
    om_ok("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 1\nh_count 1 1\nh_sum 1 1\nh_bucket{le=\"+Inf\"} 2 2\nh_count 2 2\nh_sum 2 2\n# EOF\n");
    let missing_inf = "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_count 0\nh_sum 0\n# EOF\n";
    let error = om_err(missing_inf);
    assert_eq!(error.line(), Some(4));
    assert!(error.to_string().ends_with("no +Inf bucket"), "{error}");
    om_err("# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n# EOF\n");
    om_err("# TYPE h histogram\nh_count{le=\"1\"} 0\n# EOF\n");
    om_err("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n# EOF\n");
    om_err("# TYPE h histogram\nh_bucket{le=\"-Inf\"} 0\nh_bucket{le=\"+Inf\"} 0\n# EOF\n");
    // Interleaved metrics.
    let error = om_err("# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"2\"} 1\ng{a=\"1\"} 2\n# EOF\n");
    assert_eq!(
        kind_of(&error),
        &ErrorKind::MetricRepeated("g{a=\"1\"}".into())
    );
}

#[test]
fn openmetrics_quoted_names() {
    let body = "\
# TYPE \"my.counter\" counter
# HELP \"my.counter\" dotted
{\"my.counter_total\",\"a.b\"=\"c\"} 1
# EOF
";
    let exposition = om_ok(body);
    assert_eq!(exposition.metadata[0].family, "my.counter");
    assert_eq!(
        samples(&exposition),
        [expect("my.counter_total", &[("a.b", "c")], 1.0, None)]
    );
}

// ---------- properties ----------

fn render_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{value:?}")
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_labels(labels: &[(String, String)]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Seconds with exactly the milliseconds of `ms` (OpenMetrics timestamps).
fn render_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let magnitude = ms.unsigned_abs();
    format!("{sign}{}.{:03}", magnitude / 1000, magnitude % 1000)
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn label_set() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5).prop_map(
        |map| {
            map.into_iter()
                .filter(|(name, _)| name != "__name__")
                .collect()
        },
    )
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
    ]
}

type GeneratedSample = (String, Vec<(String, String)>, f64, Option<i64>);

fn generated_sample() -> impl Strategy<Value = GeneratedSample> {
    (
        metric_name(),
        label_set(),
        value(),
        proptest::option::of(any::<i64>()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn numbers_read_as_rust_reads_them(
        value in any::<f64>().prop_filter("finite", |v| v.is_finite()),
        digits in "[+-]?[0-9]{0,25}(\\.[0-9]{0,25})?([eE][+-]?[0-9]{1,3})?",
    ) {
        for text in [format!("{value:?}"), format!("{value:e}"), format!("{value:.6}"), digits] {
            let expected = text.parse::<f64>().ok().filter(|v| v.is_finite());
            let go = super::number::parse_go_float(&text).ok();
            let om = super::number::parse_om_real(&text).ok();
            prop_assert_eq!(go.map(f64::to_bits), expected.map(f64::to_bits), "{}", text);
            prop_assert_eq!(om.map(f64::to_bits), expected.map(f64::to_bits), "{}", text);
        }
    }

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = text::parse(&body);
        let _ = openmetrics::parse(&body, &ParseOptions::default());
        let _ = openmetrics::parse(&body, &ParseOptions::strict());
    }

    #[test]
    fn mutated_expositions_never_panic(
        cut in 0usize..2000,
        length in 0usize..40,
        insert in proptest::collection::vec(
            prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'}'), Just(b'#'), Just(b' '),
                Just(b'\n'), Just(b','), Just(b'='), any::<u8>()
            ],
            0..8,
        ),
    ) {
        let base = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/reference/exposition/openmetrics-1.0-parsers/roundtrip/metrics"
        ))
        .as_bytes();
        let cut = cut.min(base.len());
        let end = (cut + length).min(base.len());
        let mut body = base[..cut].to_vec();
        body.extend_from_slice(&insert);
        body.extend_from_slice(&base[end..]);
        let _ = text::parse(&body);
        let _ = openmetrics::parse(&body, &ParseOptions::default());
        let _ = openmetrics::parse(&body, &ParseOptions::strict());
    }

    #[test]
    fn text_renders_parse_back(generated in proptest::collection::vec(generated_sample(), 0..20)) {
        let mut body = String::new();
        for (name, labels, value, timestamp) in &generated {
            body.push_str(name);
            // An empty label set is written as `{}` for some names, left out for others.
            if !labels.is_empty() || name.len() % 2 == 0 {
                body.push_str(&render_labels(labels));
            }
            body.push(' ');
            body.push_str(&render_value(*value));
            if let Some(timestamp) = timestamp {
                body.push(' ');
                body.push_str(&timestamp.to_string());
            }
            body.push('\n');
        }
        let exposition = text::parse(body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        let expected: Vec<Plain> = generated
            .iter()
            .map(|(name, labels, value, timestamp)| Plain {
                name: name.clone(),
                labels: labels.clone(),
                value_bits: canonical_bits(*value),
                timestamp_ms: *timestamp,
            })
            .collect();
        prop_assert_eq!(samples(&exposition), expected);
    }

    #[test]
    fn openmetrics_renders_parse_back(
        families in proptest::collection::vec(
            (
                metric_name(),
                any::<bool>(),
                proptest::collection::vec(
                    (label_set(), value(), proptest::option::of(-4_000_000_000_000i64..4_000_000_000_000)),
                    0..6,
                ),
            ),
            0..8,
        )
    ) {
        let mut body = String::new();
        let mut expected = Vec::new();
        for (index, (name, counter, points)) in families.iter().enumerate() {
            // Distinct family names that no other family's samples can carry.
            let family = format!("f{index}x_{name}");
            let kind = if *counter { "counter" } else { "gauge" };
            body.push_str(&format!("# TYPE {family} {kind}\n# HELP {family} generated\n"));
            let sample_name = if *counter { format!("{family}_total") } else { family.clone() };
            for (metric, (labels, value, timestamp)) in points.iter().enumerate() {
                // One sample per metric, distinct label sets.
                let mut labels = labels.clone();
                labels.retain(|(name, _)| name != "metric");
                labels.push(("metric".to_owned(), metric.to_string()));
                let value = if *counter && (value.is_nan() || *value < 0.0) { 0.0 } else { *value };
                body.push_str(&sample_name);
                body.push_str(&render_labels(&labels));
                body.push(' ');
                body.push_str(&render_value(value));
                if let Some(ms) = timestamp {
                    body.push(' ');
                    body.push_str(&render_seconds(*ms));
                }
                if *counter {
                    body.push_str(" # {trace_id=\"abc\"} 1.5 1.25");
                }
                body.push('\n');
                expected.push(Plain {
                    name: sample_name.clone(),
                    labels,
                    value_bits: canonical_bits(value),
                    timestamp_ms: *timestamp,
                });
            }
        }
        body.push_str("# EOF\n");
        let exposition = openmetrics::parse(body.as_bytes(), &ParseOptions::strict())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        prop_assert_eq!(samples(&exposition), expected);
        prop_assert_eq!(exposition.metadata.len(), families.len());
        for sample in &exposition.samples {
            if let Some(exemplar) = &sample.exemplar {
                prop_assert_eq!(exemplar.timestamp_ms, Some(1250));
            }
        }
    }
}
