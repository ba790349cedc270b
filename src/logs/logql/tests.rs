//! Cross-module tests: parsing every construct, errors, canonical printing, Loki's benchmark
//! query corpus, and pipelines on real log lines.

use super::*;

fn parse(q: &str) -> Expr {
    match parse_expr(q) {
        Ok(e) => e,
        Err(e) => panic!("{q}: {e}"),
    }
}

fn err(q: &str) -> String {
    match parse_expr(q) {
        Ok(e) => panic!("{q} should fail, parsed as {e}"),
        Err(e) => e.to_string(),
    }
}

/// The canonical form, which must parse back to the same tree.
fn canon(q: &str) -> String {
    let e = parse(q);
    let s = e.to_string();
    let again = parse_expr(&s).unwrap_or_else(|err| panic!("{q} printed as {s}: {err}"));
    assert_eq!(again, e, "round trip of {q} via {s}");
    s
}

fn log(q: &str) -> LogExpr {
    match parse(q) {
        Expr::Log(l) => l,
        Expr::Metric(m) => panic!("{q} is a metric query: {m}"),
    }
}

fn metric(q: &str) -> MetricExpr {
    match parse(q) {
        Expr::Metric(m) => m,
        Expr::Log(l) => panic!("{q} is a log query: {l}"),
    }
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher {
        name: name.into(),
        op,
        value: value.into(),
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

// --- stream selectors --------------------------------------------------------------------

#[test]
fn stream_selectors() {
    let l = log(r#"{app="x", env=~"p.*", x!="y", y!~"z"}"#);
    assert_eq!(
        l.matchers,
        vec![
            m("app", MatchOp::Eq, "x"),
            m("env", MatchOp::Re, "p.*"),
            m("x", MatchOp::Neq, "y"),
            m("y", MatchOp::Nre, "z"),
        ]
    );
    assert!(l.stages.is_empty());
    let l = log("{name !~ `mysql-\\d+`, q=\"a\\\"b\\n\"}");
    assert_eq!(l.matchers[0].value, "mysql-\\d+");
    assert_eq!(l.matchers[1].value, "a\"b\n");
    // Comments and line breaks are ignored.
    let l = log("{app=\"foo\"} # the selector\n  | json # parse\n");
    assert_eq!(
        l.stages,
        vec![Stage::Json {
            extractions: vec![]
        }]
    );
    assert_eq!(
        canon(r#"{ app = "foo" ,env=~`p.*` }"#),
        r#"{app="foo", env=~"p.*"}"#
    );
}

#[test]
fn selector_validation() {
    let empty = "parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";
    assert_eq!(err("{}"), empty);
    assert_eq!(err(r#"{app=~".*"}"#), empty);
    assert_eq!(err(r#"{app!="x"}"#), empty);
    assert_eq!(err(r#"count_over_time({app=""}[5m])"#), empty);
    parse(r#"{app=~".+", env!="x"}"#);
    assert!(err(r#"{app=~"("}"#).contains("error parsing regexp"));
}

// --- line filters --------------------------------------------------------------------------

#[test]
fn line_filters() {
    let l = log(r#"{a="b"} |= "x" != "y" |~ "re" !~ `r\d` |> "<_> foo <_>" !> "<_> bar""#);
    let ops: Vec<LineFilterOp> = l
        .stages
        .iter()
        .map(|s| match s {
            Stage::LineFilter(f) => f.op,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            LineFilterOp::Contains,
            LineFilterOp::NotContains,
            LineFilterOp::Regex,
            LineFilterOp::NotRegex,
            LineFilterOp::Pattern,
            LineFilterOp::NotPattern,
        ]
    );
    let l = log(r#"{a="b"} |= "a" or "b" or ip("10.0.0.0/8")"#);
    assert_eq!(
        l.stages,
        vec![Stage::LineFilter(LineFilter {
            op: LineFilterOp::Contains,
            alternatives: vec![
                LineMatch::Text("a".into()),
                LineMatch::Text("b".into()),
                LineMatch::Ip("10.0.0.0/8".into()),
            ],
        })]
    );
    assert_eq!(
        canon(r#"{a="b"} |= "a" or "b" != ip("192.168.4.5-192.168.4.20")"#),
        r#"{a="b"} |= "a" or "b" != ip("192.168.4.5-192.168.4.20")"#
    );
    assert!(err(r#"{a="b"} |~ ip("1.1.1.1")"#).contains("ip filter only supports"));
    assert!(err(r#"{a="b"} |~ "(""#).contains("error parsing regexp"));
    assert!(err(r#"{a="b"} |> "<x> foo""#).contains("named captures are not allowed"));
}

// --- parsers and formatters ----------------------------------------------------------------

#[test]
fn parser_stages() {
    let l = log(
        r#"{a="b"} | json | json first="servers[0]", ua="request.headers[\"User-Agent\"]", servers | logfmt | logfmt --strict --keep-empty | logfmt --strict host, fwd_ip="fwd" | regexp "(?P<method>\\w+) (?P<path>\\S+)" | pattern "<ip> - <_> <status>" | unpack"#,
    );
    assert_eq!(
        l.stages,
        vec![
            Stage::Json {
                extractions: vec![]
            },
            Stage::Json {
                extractions: vec![
                    Extraction {
                        label: "first".into(),
                        expression: "servers[0]".into()
                    },
                    Extraction {
                        label: "ua".into(),
                        expression: "request.headers[\"User-Agent\"]".into()
                    },
                    Extraction {
                        label: "servers".into(),
                        expression: "servers".into()
                    },
                ]
            },
            Stage::Logfmt {
                strict: false,
                keep_empty: false,
                extractions: vec![]
            },
            Stage::Logfmt {
                strict: true,
                keep_empty: true,
                extractions: vec![]
            },
            Stage::Logfmt {
                strict: true,
                keep_empty: false,
                extractions: vec![
                    Extraction {
                        label: "host".into(),
                        expression: "host".into()
                    },
                    Extraction {
                        label: "fwd_ip".into(),
                        expression: "fwd".into()
                    },
                ]
            },
            Stage::Regexp(r"(?P<method>\w+) (?P<path>\S+)".into()),
            Stage::Pattern("<ip> - <_> <status>".into()),
            Stage::Unpack,
        ]
    );
    assert_eq!(
        canon(r#"{a="b"} | logfmt --keep-empty --strict host | json x="a.b""#),
        r#"{a="b"} | logfmt --strict --keep-empty host="host" | json x="a.b""#
    );
    assert!(err(r#"{a="b"} | regexp "(\\w+)""#)
        .contains("invalid regexp parser: at least one named capture must be supplied"));
    assert!(err(r#"{a="b"} | pattern "<a><b>""#).contains("invalid pattern parser"));
    assert!(err(r#"{a="b"} | json x="a..b""#).contains("cannot parse expression [a..b]"));
}

#[test]
fn format_and_label_stages() {
    let l = log(
        r#"{a="b"} | line_format "{{.a}} {{ .b | ToUpper }}" | label_format new=old, x="{{.y}}" | drop a, b="v", c=~"x.*" | keep a, b | decolorize"#,
    );
    assert_eq!(
        l.stages,
        vec![
            Stage::LineFormat("{{.a}} {{ .b | ToUpper }}".into()),
            Stage::LabelFormat(vec![
                LabelFormat::Rename {
                    dst: "new".into(),
                    src: "old".into()
                },
                LabelFormat::Template {
                    dst: "x".into(),
                    template: "{{.y}}".into()
                },
            ]),
            Stage::Drop(vec![
                NamedMatcher::Name("a".into()),
                NamedMatcher::Matcher(m("b", MatchOp::Eq, "v")),
                NamedMatcher::Matcher(m("c", MatchOp::Re, "x.*")),
            ]),
            Stage::Keep(vec![
                NamedMatcher::Name("a".into()),
                NamedMatcher::Name("b".into())
            ]),
            Stage::Decolorize,
        ]
    );
    assert_eq!(
        canon(
            r#"{a="b"} | label_format new=old, x=`{{.y}}` | drop a, b="v" | keep a | decolorize"#
        ),
        r#"{a="b"} | label_format new=old,x="{{.y}}" | drop a,b="v" | keep a | decolorize"#
    );
    assert!(err(r#"{a="b"} | label_format foo=bar,foo="new""#)
        .contains("multiple label name 'foo' not allowed in a single format operation"));
    assert!(err(r#"{a="b"} | label_format __error__=x"#).contains("__error__ cannot be formatted"));
    assert!(
        err(r#"{a="b"} | line_format "{{ range .x }}{{ end }}""#).contains("invalid line template")
    );
    assert!(err(r#"{a="b"} | line_format "{{ nope .x }}""#).contains("not defined"));
}

// --- label filters ---------------------------------------------------------------------------

fn filter_of(q: &str) -> LabelFilter {
    match log(q).stages.pop() {
        Some(Stage::LabelFilter(f)) => f,
        other => panic!("{other:?}"),
    }
}

fn and(a: LabelFilter, b: LabelFilter) -> LabelFilter {
    LabelFilter::And(Box::new(a), Box::new(b))
}

fn or(a: LabelFilter, b: LabelFilter) -> LabelFilter {
    LabelFilter::Or(Box::new(a), Box::new(b))
}

fn s(name: &str, value: &str) -> LabelFilter {
    LabelFilter::Matcher(m(name, MatchOp::Eq, value))
}

#[test]
fn label_filter_values() {
    assert_eq!(filter_of(r#"{a="b"} | level="error""#), s("level", "error"));
    assert_eq!(
        filter_of(r#"{a="b"} | status >= 500"#),
        LabelFilter::Number {
            name: "status".into(),
            op: CmpOp::Ge,
            value: 500.0
        }
    );
    assert_eq!(
        filter_of(r#"{a="b"} | delta == -1.5"#),
        LabelFilter::Number {
            name: "delta".into(),
            op: CmpOp::Eq,
            value: -1.5
        }
    );
    assert_eq!(
        filter_of(r#"{a="b"} | duration > 10s"#),
        LabelFilter::Duration {
            name: "duration".into(),
            op: CmpOp::Gt,
            value: 10_000_000_000
        }
    );
    assert_eq!(
        filter_of(r#"{a="b"} | size > 1KB"#),
        LabelFilter::Bytes {
            name: "size".into(),
            op: CmpOp::Gt,
            value: 1000
        }
    );
    assert_eq!(
        filter_of(r#"{a="b"} | addr != ip("192.168.4.2")"#),
        LabelFilter::Ip {
            name: "addr".into(),
            negate: true,
            pattern: "192.168.4.2".into()
        }
    );
    assert_eq!(filter_of(r#"{a="b"} | __error__="""#), s("__error__", ""));
    assert!(err(r#"{a="b"} | status > "5""#).contains("unexpected STRING"));
    assert!(err(r#"{a="b"} | status == "5""#).contains("unexpected STRING"));
}

#[test]
fn label_filter_precedence() {
    let (a, b, c) = (s("a", "1"), s("b", "2"), s("c", "3"));
    // `and` binds tighter than `or`.
    assert_eq!(
        filter_of(r#"{x="y"} | a="1" or b="2" and c="3""#),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(
        filter_of(r#"{x="y"} | a="1" and b="2" or c="3""#),
        or(and(a.clone(), b.clone()), c.clone())
    );
    // A comma or juxtaposition takes the rest as its right side.
    assert_eq!(
        filter_of(r#"{x="y"} | a="1", b="2" or c="3""#),
        and(a.clone(), or(b.clone(), c.clone()))
    );
    assert_eq!(
        filter_of(r#"{x="y"} | a="1" b="2" or c="3""#),
        and(a.clone(), or(b.clone(), c.clone()))
    );
    assert_eq!(
        filter_of(r#"{x="y"} | a="1" or b="2" , c="3""#),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    // Parentheses.
    assert_eq!(
        filter_of(r#"{x="y"} | (a="1" or b="2") and c="3""#),
        and(or(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        canon(r#"{x="y"} | duration >= 20ms or size == 20KB and method!~"2..""#),
        r#"{x="y"} | ( duration>=20ms or ( size==20kB , method!~"2.." ) )"#
    );
    assert_eq!(
        canon(r#"{x="y"} | status < 500 or status > 200 and size >= 2.5KiB"#),
        r#"{x="y"} | ( status<500 or ( status>200 , size>=2560B ) )"#
    );
}

// --- metric queries --------------------------------------------------------------------------

#[test]
fn range_aggregations() {
    for op in RangeOp::ALL {
        let q = match op {
            RangeOp::CountOverTime
            | RangeOp::Rate
            | RangeOp::BytesOverTime
            | RangeOp::BytesRate
            | RangeOp::AbsentOverTime => format!(r#"{}({{app="x"}} |= "e" [5m])"#, op.name()),
            RangeOp::QuantileOverTime => format!(
                r#"{}(0.99, {{app="x"}} | json | unwrap latency [1m]) by (path)"#,
                op.name()
            ),
            _ => format!(
                r#"{}({{app="x"}} | logfmt | unwrap duration(took) | __error__="" [1m])"#,
                op.name()
            ),
        };
        let MetricExpr::RangeAggregation(r) = metric(&q) else {
            panic!("{q}");
        };
        assert_eq!(r.op, op);
        canon(&q);
    }
    let MetricExpr::RangeAggregation(r) = metric(
        r#"quantile_over_time(0.99, {a="b"} | unwrap bytes(size) [5m] offset 1h) without (pod)"#,
    ) else {
        panic!()
    };
    assert_eq!(r.param, Some(0.99));
    assert_eq!(r.range.range, std::time::Duration::from_secs(300));
    assert_eq!(r.range.offset, std::time::Duration::from_secs(3600));
    assert_eq!(
        r.range.unwrap,
        Some(Unwrap {
            label: "size".into(),
            conversion: UnwrapConversion::Bytes,
            post_filters: vec![]
        })
    );
    assert_eq!(
        r.grouping,
        Some(Grouping {
            without: true,
            labels: vec!["pod".into()]
        })
    );
    assert_eq!(
        canon(
            r#"quantile_over_time(0.99, {a="b"} | unwrap bytes(size) [5m] offset 1h) without (pod)"#
        ),
        r#"quantile_over_time(0.99,{a="b"} | unwrap bytes(size)[5m] offset 1h0m0s) without (pod)"#
    );
}

#[test]
fn log_range_forms() {
    let want = r#"count_over_time({a="b"} |= "x"[5m] offset 1m0s)"#;
    for q in [
        r#"count_over_time({a="b"} |= "x" [5m] offset 1m)"#,
        r#"count_over_time({a="b"}[5m] offset 1m |= "x")"#,
        r#"count_over_time(({a="b"} |= "x")[5m] offset 1m)"#,
        r#"count_over_time(({a="b"} |= "x" [5m] offset 1m))"#,
        r#"count_over_time((({a="b"}[5m] offset 1m |= "x")))"#,
    ] {
        assert_eq!(canon(q), want, "{q}");
    }
    assert_eq!(
        canon(r#"sum_over_time({a="b"}[1h] | unwrap x)"#),
        r#"sum_over_time({a="b"} | unwrap x[1h])"#
    );
    assert_eq!(
        canon(r#"sum_over_time({a="b"} | unwrap x [1h])"#),
        r#"sum_over_time({a="b"} | unwrap x[1h])"#
    );
    assert_eq!(
        canon(r#"rate({a="b"} | json | unwrap duration_seconds(d) | d > 1s [1d])"#),
        r#"rate({a="b"} | json | unwrap duration_seconds(d) | d>1s[1d])"#
    );
}

#[test]
fn vector_aggregations() {
    for op in [
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "sort",
        "sort_desc",
    ] {
        for q in [
            format!(r#"{op}(rate({{a="b"}}[1m]))"#),
            format!(r#"{op} by (x, y) (rate({{a="b"}}[1m]))"#),
            format!(r#"{op}(rate({{a="b"}}[1m])) without (x)"#),
        ] {
            if op.starts_with("sort") && q.contains(" (x") {
                assert!(err(&q).contains("sort and sort_desc doesn't allow grouping by"));
                continue;
            }
            let MetricExpr::VectorAggregation(v) = metric(&q) else {
                panic!("{q}")
            };
            assert_eq!(v.op.name(), op);
            canon(&q);
        }
    }
    assert_eq!(
        canon(r#"topk(10, sum(rate({region="us-east1"}[5m])) by (name))"#),
        r#"topk(10,sum by (name)(rate({region="us-east1"}[5m])))"#
    );
    assert_eq!(
        canon(r#"bottomk by (a) (3, count_over_time({x="y"}[1m]))"#),
        r#"bottomk by (a)(3,count_over_time({x="y"}[1m]))"#
    );
    assert_eq!(
        canon(r#"sum by () (rate({a="b"}[1m]))"#),
        r#"sum(rate({a="b"}[1m]))"#
    );
    assert_eq!(
        err(r#"topk(rate({a="b"}[1m]))"#),
        "parse error at line 1, col 1: parameter required for operation topk"
    );
    assert!(err(r#"topk(0, rate({a="b"}[1m]))"#)
        .contains("invalid parameter (must be greater than 0) topk(0"));
    assert!(
        err(r#"sum(5, rate({a="b"}[1m]))"#).contains("unsupported parameter for operation sum(5,")
    );
    assert!(err(r#"sum({a="b"})"#).contains("unexpected log query"));
}

#[test]
fn binary_operations() {
    assert_eq!(
        canon(r#"sum(rate({a="b"}[1m])) / sum(rate({a="c"}[1m])) * 100"#),
        r#"((sum(rate({a="b"}[1m])) / sum(rate({a="c"}[1m]))) * 100)"#
    );
    assert_eq!(
        canon(r#"count_over_time({a="b"}[1m]) + 1 * 2 ^ 3 ^ 2"#),
        r#"(count_over_time({a="b"}[1m]) + 512)"#
    );
    assert_eq!(canon("1 + 2 / 4"), "1.5");
    assert_eq!(canon("2 * 3 % 4"), "2");
    assert_eq!(canon("-1 - -2"), "1");
    assert_eq!(canon("1 >= 1"), "1");
    assert_eq!(
        canon(r#"count_over_time({a="b"}[1m]) > bool 10"#),
        r#"(count_over_time({a="b"}[1m]) > bool 10)"#
    );
    assert_eq!(
        canon(
            r#"max by(machine) (count_over_time({app="foo"}[1m])) > bool ignoring(machine) avg(count_over_time({app="foo"}[1m]))"#
        ),
        r#"(max by (machine)(count_over_time({app="foo"}[1m])) > bool ignoring (machine) avg(count_over_time({app="foo"}[1m])))"#
    );
    let q = r#"sum by (app, status) (rate({job="http-server"} | json [5m])) / on (app) group_left sum by (app) (rate({job="http-server"} | json [5m]))"#;
    let MetricExpr::Binary(b) = metric(q) else {
        panic!()
    };
    assert_eq!(
        b.matching,
        Some(VectorMatching {
            on: true,
            labels: vec!["app".into()],
            card: MatchCardinality::ManyToOne,
            include: vec![]
        })
    );
    canon(q);
    canon(
        r#"sum by (user) (rate({a="b"}[5m])) * on (user) group_left(organization) max_over_time({a="c"} | logfmt | unwrap cost [5m]) by (user, organization)"#,
    );
    canon(r#"rate({a="b"}[1m]) / ignoring(x) group_right(y, z) rate({a="c"}[1m])"#);
    for op in ["and", "or", "unless"] {
        let q = format!(r#"rate({{a="b"}}[1m]) {op} rate({{a="c"}}[1m])"#);
        let MetricExpr::Binary(b) = metric(&q) else {
            panic!()
        };
        assert_eq!(b.op.as_str(), op);
    }
    // `or` is looser than `and`, which is looser than comparisons.
    let MetricExpr::Binary(b) =
        metric(r#"rate({a="b"}[1m]) or rate({a="c"}[1m]) and rate({a="d"}[1m]) > 1"#)
    else {
        panic!()
    };
    assert_eq!(b.op, BinaryOp::Or);
    assert_eq!(
        canon(r#"sum(count_over_time({namespace="traefik"}[5m])) or vector(0)"#),
        r#"(sum(count_over_time({namespace="traefik"}[5m])) or vector(0.000000))"#
    );
    assert!(err(r#"rate({a="b"}[1m]) and 1"#).contains(
        "unexpected literal for right leg of logical/set binary operation (and): 1.000000"
    ));
    assert!(err(r#"{a="b"} + 1"#).contains("unexpected type for left leg of binary operation (+)"));
    assert_eq!(canon("(((1)))"), "1");
    assert_eq!(
        canon(r#"(sum by (a) (rate({x="y"}[1m])))"#),
        r#"sum by (a)(rate({x="y"}[1m]))"#
    );
}

#[test]
fn functions() {
    assert_eq!(metric("vector(1)"), MetricExpr::Vector(1.0));
    let q = r#"label_replace(rate({job="api-server",service="a:c"} |= "err" [1m]), "foo", "$1", "service", "(.*):.*")"#;
    let MetricExpr::LabelReplace(l) = metric(q) else {
        panic!()
    };
    assert_eq!(
        (
            l.dst.as_str(),
            l.replacement.as_str(),
            l.src.as_str(),
            l.regex.as_str()
        ),
        ("foo", "$1", "service", "(.*):.*")
    );
    assert_eq!(
        canon(q),
        r#"label_replace(rate({job="api-server", service="a:c"} |= "err"[1m]),"foo","$1","service","(.*):.*")"#
    );
    assert!(
        err(r#"label_replace(rate({a="b"}[1m]), "foo", "$1", "service", "(")"#)
            .contains("invalid regex in label_replace")
    );
}

#[test]
fn semantic_errors() {
    assert!(err(r#"count_over_time({a="b"} | unwrap x [5m])"#)
        .ends_with("invalid aggregation count_over_time with unwrap"));
    assert!(err(r#"sum_over_time({a="b"}[5m])"#)
        .ends_with("invalid aggregation sum_over_time without unwrap"));
    assert!(err(r#"quantile_over_time({a="b"} | unwrap x [5m])"#)
        .ends_with("parameter required for operation quantile_over_time"));
    assert!(err(r#"rate(0.5, {a="b"}[5m])"#)
        .ends_with("parameter 0.5 not supported for operation rate"));
    assert!(err(r#"sum_over_time({a="b"} | unwrap x [5m]) by (a)"#)
        .ends_with("grouping not allowed for sum_over_time aggregation"));
    assert!(err(r#"count_over_time({a="b"}[5m]) by (a)"#)
        .ends_with("grouping not allowed for count_over_time aggregation"));
}

#[test]
fn syntax_errors_have_positions() {
    let cases = [
        (r#"{app="foo""#, "parse error at line 1, col 11: syntax error: unexpected $end, expecting , or }"),
        (r#"{app="foo"} |= 5"#, "parse error at line 1, col 16: syntax error: unexpected NUMBER, expecting STRING or ip"),
        (r#"{app=foo}"#, "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING"),
        (r#"{app="foo"} | json | level=="#, "parse error at line 1, col 29: syntax error: unexpected $end, expecting NUMBER or DURATION or BYTES"),
        (r#"rate({app="foo"})"#, "parse error at line 1, col 17: syntax error: unexpected ), expecting RANGE"),
        (r#"sum(rate({app="foo"}[5m]) by (x"#, "parse error at line 1, col 32: syntax error: unexpected $end, expecting , or )"),
        ("{app=\"foo\"}\n  | json\n  | line_format", "parse error at line 3, col 16: syntax error: unexpected $end, expecting STRING"),
        (r#"{app="foo"} | unwrap x"#, "parse error at line 1, col 13: syntax error: unexpected |"),
        (r#"{app="foo"}[5m]"#, "parse error at line 1, col 12: syntax error: unexpected RANGE"),
        (r#"count_over_time({app="foo"}[5m]) by"#, "parse error at line 1, col 36: syntax error: unexpected $end, expecting ("),
        (r#"{app="foo"} | logfmt --nope"#, "parse error at line 1, col 24: syntax error: unexpected IDENTIFIER, expecting NUMBER"),
        (r#"rate({app="foo"}[5 m])"#, "parse error at line 1, col 17: not a valid duration string: \"5 m\""),
        (r#"{app="foo"} |= "open"#, "parse error at line 1, col 16: literal not terminated"),
        (r#"{app="foo"} |= "\q""#, "parse error at line 1, col 16: invalid syntax"),
        (r#"sum by (a) 5"#, "parse error at line 1, col 12: syntax error: unexpected NUMBER, expecting ("),
        ("", "parse error at line 1, col 1: syntax error: unexpected $end"),
    ];
    for (q, want) in cases {
        assert_eq!(err(q), want, "{q}");
    }
    let e = parse_expr("{a=\"b\"}\n| json\n| x > \"y\"").unwrap_err();
    assert_eq!((e.line, e.col, e.offset), (3, 7, 21));
}

#[test]
fn helper_parsers() {
    assert_eq!(
        parse_matchers(r#"{app="x", env=~"p.*"}"#).unwrap(),
        vec![m("app", MatchOp::Eq, "x"), m("env", MatchOp::Re, "p.*")]
    );
    assert!(parse_matchers(r#"{app="x"} |= "y""#).is_err());
    assert_eq!(
        parse_labels(r#"{job="apache", source="access", empty=""}"#).unwrap(),
        pairs(&[("job", "apache"), ("source", "access")])
    );
    assert!(parse_labels(r#"{job=~"apache"}"#).is_err());
    assert!(parse_log_query(r#"rate({a="b"}[1m])"#).is_err());
    assert!(parse_expr(&format!(r#"{{a="{}"}}"#, "x".repeat(140_000)))
        .unwrap_err()
        .to_string()
        .starts_with("parse error : input size too long"));
}

// --- Loki's benchmark query corpus ---------------------------------------------------------

/// The `query:` values of the YAML files (plain, single- or double-quoted scalars).
fn bench_queries() -> Vec<(String, String)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/logql/loki-bench-queries"
    );
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read yaml");
        for line in text.lines() {
            let t = line.trim_start().trim_start_matches("- ");
            let Some(v) = t.strip_prefix("query:") else {
                continue;
            };
            let v = v.trim();
            assert!(
                !v.starts_with(['|', '>']),
                "block scalar in {}",
                f.display()
            );
            let q = if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                inner.replace("''", "'")
            } else if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                inner.replace("\\\"", "\"").replace("\\\\", "\\")
            } else {
                v.to_string()
            };
            out.push((f.display().to_string(), q));
        }
    }
    out
}

/// Placeholders as `schema.json`/SOURCES.md describe them.
fn expand(q: &str) -> String {
    q.replace(
        "${SELECTOR}",
        r#"{service_name="bench", namespace=~"ns-.+"}"#,
    )
    .replace("${RANGE}", "5m")
    .replace("${LABEL_NAME}", "namespace")
    .replace("${LABEL_VALUE}", "ns-1")
    .replace("${VARIABLE}", "value")
}

#[test]
fn every_loki_bench_query_parses() {
    let queries = bench_queries();
    assert_eq!(queries.len(), 101, "the corpus has 101 queries");
    let mut failures = Vec::new();
    for (file, q) in &queries {
        let expanded = expand(q);
        assert!(!expanded.contains("${"), "unexpanded placeholder in {q}");
        match parse_expr(&expanded) {
            Ok(e) => {
                // The canonical form parses back to the same query.
                let printed = e.to_string();
                assert_eq!(parse_expr(&printed).as_ref(), Ok(&e), "{printed}");
                for l in e.log_exprs() {
                    Pipeline::new(&l.stages).expect("pipeline compiles");
                }
            }
            Err(err) => failures.push(format!("{file}: {expanded}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// --- pipelines on real lines -------------------------------------------------------------

/// Lines from `shared/reference/logs/elastic-examples/apache_logs` (combined log format).
const APACHE_200: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36""#;
const APACHE_404: &str = r#"66.249.73.185 - - [17/May/2015:10:05:22 +0000] "GET /doc/index.html?org/elasticsearch/action/search/SearchResponse.html HTTP/1.1" 404 294 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)""#;
const APACHE_500: &str = r#"66.249.73.135 - - [18/May/2015:03:05:34 +0000] "GET /misc/Title.php.txt HTTP/1.1" 500 - "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)""#;
const APACHE_PATTERN: &str =
    r#"<ip> - - [<ts>] "<method> <path> <_>" <status> <size> "<referer>" "<agent>""#;

fn stream() -> Vec<(String, String)> {
    pairs(&[("job", "apache"), ("source", "access")])
}

fn pipeline(q: &str) -> Pipeline {
    Pipeline::new(&log(q).stages).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn run(q: &str, line: &str) -> Option<(String, Vec<(String, String)>)> {
    pipeline(q).process(&stream(), &[], line)
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn apache_pattern_and_filters() {
    let q = format!(r#"{{job="apache"}} | pattern `{APACHE_PATTERN}`"#);
    let (line, labels) = run(&q, APACHE_404).unwrap();
    assert_eq!(line, APACHE_404);
    assert_eq!(
        labels,
        pairs(&[
            (
                "agent",
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            ),
            ("ip", "66.249.73.185"),
            ("job", "apache"),
            ("method", "GET"),
            (
                "path",
                "/doc/index.html?org/elasticsearch/action/search/SearchResponse.html"
            ),
            ("referer", "-"),
            ("size", "294"),
            ("source", "access"),
            ("status", "404"),
            ("ts", "17/May/2015:10:05:22 +0000"),
        ])
    );
    let q5 = format!(r#"{{job="apache"}} | pattern `{APACHE_PATTERN}` | status >= 500"#);
    assert!(run(&q5, APACHE_404).is_none());
    assert!(run(&q5, APACHE_500).is_some());
    // A byte-size comparison on "-" keeps the line and flags it.
    let qs = format!(r#"{{job="apache"}} | pattern `{APACHE_PATTERN}` | size > 1KB"#);
    assert!(run(&qs, APACHE_404).is_none());
    assert!(run(&qs, APACHE_200).is_some());
    let (_, labels) = run(&qs, APACHE_500).unwrap();
    assert_eq!(label(&labels, "__error__"), Some("LabelFilterErr"));
    // go-humanize reads no digits from "-", then fails on the empty number.
    assert_eq!(
        label(&labels, "__error_details__"),
        Some("strconv.ParseFloat: parsing \"\": invalid syntax")
    );
    assert!(run(&format!(r#"{qs} | __error__="""#), APACHE_500).is_none());
    let (_, labels) = run(
        &format!(r#"{qs} | drop __error__, __error_details__"#),
        APACHE_500,
    )
    .unwrap();
    assert_eq!(label(&labels, "__error__"), None);
    // Line filters.
    assert!(run(r#"{job="apache"} |= "Googlebot" != "Title""#, APACHE_404).is_some());
    assert!(run(r#"{job="apache"} |= "Googlebot" != "Title""#, APACHE_500).is_none());
    assert!(run(r#"{job="apache"} |= "googlebot""#, APACHE_404).is_none());
    assert!(run(r#"{job="apache"} |~ "(?i)googlebot""#, APACHE_404).is_some());
    assert!(run(r#"{job="apache"} |~ "\" 5\\d\\d ""#, APACHE_500).is_some());
    assert!(run(r#"{job="apache"} |= "kibana" or "Title""#, APACHE_500).is_some());
    assert!(run(r#"{job="apache"} != "kibana" or "Title""#, APACHE_500).is_none());
    assert!(run(r#"{job="apache"} != "kibana" or "Title""#, APACHE_404).is_some());
    assert!(run(r#"{job="apache"} |= ip("66.249.0.0/16")"#, APACHE_404).is_some());
    assert!(run(r#"{job="apache"} != ip("66.249.0.0/16")"#, APACHE_200).is_some());
    assert!(run(
        r#"{job="apache"} |> "<_> \"GET <_> HTTP/1.1\" 404 <_>""#,
        APACHE_404
    )
    .is_some());
    assert!(run(
        r#"{job="apache"} !> "<_> \"GET <_> HTTP/1.1\" 404 <_>""#,
        APACHE_404
    )
    .is_none());
}

#[test]
fn apache_regexp_and_formatting() {
    let q = r#"{job="apache"} | regexp `^(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)` | line_format "{{.method}} {{.path | trunc 10}} from {{.ip}}" | label_format who=ip, verb="{{ .method | lower }}""#;
    let (line, labels) = run(q, APACHE_200).unwrap();
    assert_eq!(line, "GET /presentat from 83.149.9.216");
    assert_eq!(label(&labels, "who"), Some("83.149.9.216"));
    assert_eq!(label(&labels, "ip"), None);
    assert_eq!(label(&labels, "verb"), Some("get"));
    // The simple `{{.x}}` form copies the label; a missing one gives an empty line.
    let (line, _) = run(r#"{job="apache"} | line_format "{{.job}}""#, APACHE_200).unwrap();
    assert_eq!(line, "apache");
    let (line, _) = run(r#"{job="apache"} | line_format "{{.nope}}""#, APACHE_200).unwrap();
    assert_eq!(line, "");
    let (line, _) = run(
        r#"{job="apache"} | line_format `{{ __line__ | count "GET" }} {{ printf "%-6.3s|" .job }}`"#,
        APACHE_200,
    )
    .unwrap();
    assert_eq!(line, "1 apa   |");
    // A template error keeps the line and flags it.
    let (line, labels) = run(
        r#"{job="apache"} | line_format "{{ div 1 0 }}""#,
        APACHE_200,
    )
    .unwrap();
    assert_eq!(line, APACHE_200);
    assert_eq!(label(&labels, "__error__"), Some("TemplateFormatErr"));
    // Timestamps reach templates through process_at.
    let p = pipeline(
        r#"{job="apache"} | line_format `{{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}`"#,
    );
    let (line, _) = p
        .process_at(1_431_857_103_000_000_000, &stream(), &[], APACHE_200)
        .unwrap();
    assert_eq!(line, "2015-05-17T10:05:03Z");
}

#[test]
fn apache_corpus_counts() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/logs/elastic-examples/apache_logs"
    );
    let text = std::fs::read_to_string(path).expect("apache_logs");
    let p = pipeline(&format!(
        r#"{{job="apache"}} | pattern `{APACHE_PATTERN}` | status >= 400 | __error__="""#
    ));
    let mut by_status = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some((_, labels)) = p.process(&stream(), &[], line) {
            *by_status
                .entry(label(&labels, "status").unwrap_or("").to_string())
                .or_insert(0) += 1;
        }
    }
    let expect: std::collections::BTreeMap<String, i32> =
        [("403", 2), ("404", 213), ("416", 2), ("500", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(by_status, expect);
}

/// The document of Loki's json parser documentation.
const DOC_JSON: &str = r#"{"protocol": "HTTP/2.0", "servers": ["129.0.1.1","10.2.1.3"], "request": {"time": "6.032", "method": "GET", "host": "foo.grafana.net", "size": "55", "headers": {"Accept": "*/*", "User-Agent": "curl/7.68.0"}}, "response": {"status": 401, "size": "228", "latency_seconds": "6.031"}}"#;

#[test]
fn json_documented_examples() {
    let (_, labels) = run(r#"{job="x"} | json"#, DOC_JSON).unwrap();
    assert_eq!(
        labels,
        pairs(&[
            ("job", "apache"),
            ("protocol", "HTTP/2.0"),
            ("request_headers_Accept", "*/*"),
            ("request_headers_User_Agent", "curl/7.68.0"),
            ("request_host", "foo.grafana.net"),
            ("request_method", "GET"),
            ("request_size", "55"),
            ("request_time", "6.032"),
            ("response_latency_seconds", "6.031"),
            ("response_size", "228"),
            ("response_status", "401"),
            ("source", "access"),
        ])
    );
    let (_, labels) = run(
        r#"{job="x"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]", server_list="servers", headers="request.headers", servers, nope="a.b""#,
        DOC_JSON,
    )
    .unwrap();
    assert_eq!(label(&labels, "first_server"), Some("129.0.1.1"));
    assert_eq!(label(&labels, "ua"), Some("curl/7.68.0"));
    assert_eq!(
        label(&labels, "server_list"),
        Some(r#"["129.0.1.1","10.2.1.3"]"#)
    );
    assert_eq!(
        label(&labels, "servers"),
        Some(r#"["129.0.1.1","10.2.1.3"]"#)
    );
    assert_eq!(
        label(&labels, "headers"),
        Some(r#"{"Accept": "*/*", "User-Agent": "curl/7.68.0"}"#)
    );
    assert_eq!(label(&labels, "nope"), Some(""));
    // Not JSON: the line stays, flagged.
    let (_, labels) = run(r#"{job="x"} | json"#, APACHE_200).unwrap();
    assert_eq!(label(&labels, "__error__"), Some("JSONParserErr"));
    assert_eq!(
        label(&labels, "__error_details__"),
        Some("Value looks like object, but can't find closing '}' symbol")
    );
    assert!(run(
        r#"{job="x"} | json | __error__ != "JSONParserErr""#,
        APACHE_200
    )
    .is_none());
    // A parsed key named like a stream label gets `_extracted`; metadata too.
    let p = pipeline(r#"{job="x"} | json"#);
    let (_, labels) = p
        .process(
            &stream(),
            &pairs(&[("trace", "t1")]),
            r#"{"job":"j","trace":"t2","n":1.50}"#,
        )
        .unwrap();
    assert_eq!(
        labels,
        pairs(&[
            ("job", "apache"),
            ("job_extracted", "j"),
            ("n", "1.50"),
            ("source", "access"),
            ("trace", "t1"),
            ("trace_extracted", "t2"),
        ])
    );
}

#[test]
fn logfmt_documented_examples() {
    let line = r#"at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200"#;
    let (_, labels) = run(r#"{job="x"} | logfmt"#, line).unwrap();
    assert_eq!(label(&labels, "fwd"), Some("124.133.124.161"));
    assert_eq!(label(&labels, "service"), Some("8ms"));
    assert_eq!(labels.len(), 9);
    let (_, labels) = run(r#"{job="x"} | logfmt host, fwd_ip="fwd""#, line).unwrap();
    assert_eq!(
        labels,
        pairs(&[
            ("fwd_ip", "124.133.124.161"),
            ("host", "grafana.net"),
            ("job", "apache"),
            ("source", "access")
        ])
    );
    // Loki's metrics.go line, filtered on a duration.
    let metrics = r#"level=info ts=2020-10-23T20:32:18.094668233Z caller=metrics.go:81 org_id=29 traceID=1980d41501b57b68 latency=fast query="{cluster=\"ops-tools1\", job=\"loki-ops/query-frontend\"} |= \"query_range\"" query_type=filter range_type=range length=15m0s step=7s duration=650.22401ms status=200 throughput_mb=1.529717 total_bytes_mb=0.994659"#;
    let q = r#"{job="x"} |= "metrics.go" | logfmt | duration > 500ms and throughput_mb < 500 | line_format "{{.query}}""#;
    let (line, labels) = run(q, metrics).unwrap();
    assert_eq!(
        line,
        r#"{cluster="ops-tools1", job="loki-ops/query-frontend"} |= "query_range""#
    );
    assert_eq!(label(&labels, "caller"), Some("metrics.go:81"));
    assert!(run(r#"{job="x"} | logfmt | duration > 1s"#, metrics).is_none());
    assert!(run(r#"{job="x"} | logfmt | missing > 1s"#, metrics).is_none());
    let (_, labels) = run(r#"{job="x"} | logfmt --strict"#, "a=1 b==2 c=3").unwrap();
    assert_eq!(label(&labels, "__error__"), Some("LogfmtParserErr"));
    assert_eq!(label(&labels, "c"), None);
}

#[test]
fn drop_keep_unpack_decolorize() {
    let line = r#"{"app": "some-api-service", "level": "info", "method": "GET", "path": "/", "host": "grafana.net", "status": "200"}"#;
    let (_, labels) = run(
        r#"{job="x"} | json | drop level, path, app=~"some-api.*""#,
        line,
    )
    .unwrap();
    assert_eq!(
        labels,
        pairs(&[
            ("host", "grafana.net"),
            ("job", "apache"),
            ("method", "GET"),
            ("source", "access"),
            ("status", "200")
        ])
    );
    let (_, labels) = run(r#"{job="x"} | json | keep level, method="POST""#, line).unwrap();
    assert_eq!(labels, pairs(&[("level", "info")]));
    let (_, labels) = run(r#"{job="x"} | json | keep level | __error__="""#, line).unwrap();
    assert_eq!(labels, pairs(&[("level", "info")]));
    let (_, labels) = run(r#"{job="x"} | json | keep job"#, APACHE_200).unwrap();
    assert_eq!(
        labels,
        pairs(&[
            ("__error__", "JSONParserErr"),
            (
                "__error_details__",
                "Value looks like object, but can't find closing '}' symbol"
            ),
            ("job", "apache"),
        ])
    );
    let packed =
        r#"{"container":"myapp","pod":"pod-3223f","_entry":"level=warn msg=\"disk full\""}"#;
    let (line, labels) = run(r#"{job="x"} | unpack | logfmt"#, packed).unwrap();
    assert_eq!(line, r#"level=warn msg="disk full""#);
    assert_eq!(label(&labels, "container"), Some("myapp"));
    assert_eq!(label(&labels, "msg"), Some("disk full"));
    let colored = "[2022-11-04 22:17:57.811] \u{1b}[0;32mhttp\u{1b}[0m: GET /_health (0 ms) 204";
    let (line, _) = run(r#"{job="x"} | decolorize"#, colored).unwrap();
    assert_eq!(
        line,
        "[2022-11-04 22:17:57.811] http: GET /_health (0 ms) 204"
    );
}

#[test]
fn required_substrings() {
    let p = pipeline(
        r#"{a="b"} |= "error" |~ "x" |= "a" or "b" != "c" |> "<_> foo <_>" | json |= "after" | line_format "{{.x}}" |= "late""#,
    );
    assert_eq!(p.required_substrings(), vec!["error", " foo ", "after"]);
    assert!(pipeline(r#"{a="b"}"#).required_substrings().is_empty());
}

// --- sample extraction -------------------------------------------------------------------

fn extractor(q: &str) -> SampleExtractor {
    let MetricExpr::RangeAggregation(r) = metric(q) else {
        panic!("{q}")
    };
    SampleExtractor::new(r.op, &r.range, r.grouping.as_ref()).unwrap()
}

#[test]
fn unwrap_samples() {
    let e = extractor(r#"sum_over_time({job="x"} | logfmt | unwrap duration(duration) [5m])"#);
    let (v, labels) = e
        .process(0, &stream(), &[], "level=info duration=1.5s msg=ok")
        .unwrap();
    assert_eq!(v, 1.5);
    assert_eq!(label(&labels, "duration"), None);
    assert_eq!(label(&labels, "level"), Some("info"));
    // A value Go's ParseDuration refuses: kept with the error (the query must then fail).
    let (v, labels) = e
        .process(0, &stream(), &[], "level=info duration=301")
        .unwrap();
    assert_eq!(v, 0.0);
    assert_eq!(label(&labels, "__error__"), Some("SampleExtractionErr"));
    assert_eq!(
        label(&labels, "__error_details__"),
        Some("time: missing unit in duration \"301\"")
    );
    // Missing or empty: no sample.
    assert!(e.process(0, &stream(), &[], "level=info").is_none());
    // A post-filter removes the errors.
    let e = extractor(
        r#"sum_over_time({job="x"} | logfmt | unwrap duration(duration) | __error__="" [5m])"#,
    );
    assert!(e.process(0, &stream(), &[], "duration=301").is_none());
    // bytes() and plain floats; `by` naming the label keeps it.
    let e = extractor(r#"max_over_time({job="x"} | logfmt | unwrap bytes(size) [5m]) by (size)"#);
    let (v, labels) = e.process(0, &stream(), &[], "size=1.5KiB").unwrap();
    assert_eq!(v, 1536.0);
    assert_eq!(label(&labels, "size"), Some("1.5KiB"));
    let e = extractor(&format!(
        r#"avg_over_time({{job="apache"}} | pattern `{APACHE_PATTERN}` | unwrap size [5m])"#
    ));
    assert_eq!(
        e.process(0, &stream(), &[], APACHE_404).map(|s| s.0),
        Some(294.0)
    );
    let (_, labels) = e.process(0, &stream(), &[], APACHE_500).unwrap();
    assert_eq!(
        label(&labels, "__error_details__"),
        Some("strconv.ParseFloat: parsing \"-\": invalid syntax")
    );
    // Counting and bytes.
    let e = extractor(r#"count_over_time({job="x"} |= "GET" [5m])"#);
    assert_eq!(
        e.process(0, &stream(), &[], APACHE_404).map(|s| s.0),
        Some(1.0)
    );
    let e = extractor(r#"bytes_over_time({job="x"} | line_format "{{.job}}" [5m])"#);
    assert_eq!(
        e.process(0, &stream(), &[], APACHE_404).map(|s| s.0),
        Some(6.0)
    );
    // The standalone helper.
    let u = Unwrap {
        label: "d".into(),
        conversion: UnwrapConversion::DurationSeconds,
        post_filters: vec![],
    };
    assert_eq!(
        extract_unwrap_value(&pairs(&[("d", "250ms")]), &u),
        UnwrapOutcome::Value(0.25)
    );
    assert_eq!(extract_unwrap_value(&pairs(&[]), &u), UnwrapOutcome::Skip);
    assert_eq!(
        extract_unwrap_value(&pairs(&[("d", "x")]), &u),
        UnwrapOutcome::Error {
            details: "time: invalid duration \"x\"".into()
        }
    );
    assert!(pipeline_error_message("SampleExtractionErr", "{a=\"b\"}")
        .starts_with("pipeline error: 'SampleExtractionErr' for series: '{a=\"b\"}'."));
}

// --- robustness ----------------------------------------------------------------------------

/// Every prefix of a set of rich queries must give a result or an error, never a panic;
/// pipelines that do compile must survive odd lines.
#[test]
fn truncated_queries_and_odd_lines_do_not_panic() {
    let queries = [
        r#"sum by (a) (quantile_over_time(0.9, {a="b", c=~"d.*"} |= "x" or "y" != ip("10.0.0.0/8") |~ `\d+` |> "<_> z <_>" | json k="a.b[0]" | logfmt --strict --keep-empty m, n="o" | regexp "(?P<p>\\w+)" | pattern "<q> <_>" | unpack | line_format "{{ .q | upper }} {{ if eq .p \"x\" }}y{{ else }}z{{ end }}" | label_format r=q, s=`{{ printf "%05d" 42 }}` | drop t, u="v" | keep w, q | decolorize | status >= 500 or (d > 10s, size < 1KiB) | unwrap duration(d) | __error__="" [5m] offset 1h)) > bool on (a) group_left (b) label_replace(vector(1), "x", "$1", "y", "(.*)") ^ 2"#,
        "{app=\"é\"} |= \"ü\u{1F600}\" # comment\n| json",
    ];
    for q in queries {
        let mut cut = 0;
        while cut <= q.len() {
            if q.is_char_boundary(cut) {
                let _ = parse_expr(&q[..cut]);
            }
            cut += 1;
        }
    }
    let lines = [
        "",
        "{",
        "{\"a\":",
        "{\"a\":\"\\",
        "{\"a\":[1,{\"b\":\"\\u12\"}],\"c\":{\"d\":tru}}",
        "a=\"\\",
        "=== \"\"\" é=ü \u{1b}[",
        "\u{9b}31m",
    ];
    let p = pipeline(
        r#"{a="b"} | json | json x="a[0].b" | unpack | logfmt --keep-empty | pattern "<x> <y>" | regexp "(?P<z>.)" | decolorize | line_format "{{ __line__ | trunc -3 }}" | x > 1 | y > 1s | z > 1B"#,
    );
    for line in lines {
        let _ = p.process(&stream(), &pairs(&[("__error__", "pre")]), line);
    }
}
