//! The LogQL syntax tree, and its canonical text form (`Display`), which mirrors what Loki's
//! `String()` methods print so `/loki/api/v1/format_query` answers the same way.

use std::fmt;
use std::time::Duration;

use super::gostr::quote;
use super::units::{
    format_bytes, format_go_duration, format_go_float, format_plain_float, format_prom_duration,
};

/// A whole query: either a log query (returns lines) or a metric query (returns samples).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Log(LogExpr),
    Metric(MetricExpr),
}

/// A stream selector followed by an optional pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// A label matcher: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Eq,
    Neq,
    Re,
    Nre,
}

/// One stage of a log pipeline, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `|= "a"`, `!~ "re"`, `|> "<_> x"`, `|= "a" or "b"`, `|= ip("10.0.0.0/8")`.
    LineFilter(LineFilter),
    /// `| logfmt [--strict] [--keep-empty] [a, b="c"]`; no extractions means "every key".
    Logfmt {
        strict: bool,
        keep_empty: bool,
        extractions: Vec<Extraction>,
    },
    /// `| json [a="x.y", b]`; no extractions means "every field, flattened".
    Json { extractions: Vec<Extraction> },
    /// `| regexp "(?P<name>...)"`.
    Regexp(String),
    /// `| pattern "<ip> - <_>"`.
    Pattern(String),
    /// `| unpack`.
    Unpack,
    /// `| level="error" or status >= 500`.
    LabelFilter(LabelFilter),
    /// `| line_format "{{.a}}"`.
    LineFormat(String),
    /// `| label_format dst=src, x="{{.y}}"`.
    LabelFormat(Vec<LabelFormat>),
    /// `| drop a, b="v"`.
    Drop(Vec<NamedMatcher>),
    /// `| keep a, b="v"`.
    Keep(Vec<NamedMatcher>),
    /// `| decolorize`.
    Decolorize,
}

/// A line filter and its `or` alternatives; all alternatives share the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    pub op: LineFilterOp,
    pub alternatives: Vec<LineMatch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Regex,
    /// `!~`
    NotRegex,
    /// `|>`
    Pattern,
    /// `!>`
    NotPattern,
}

impl LineFilterOp {
    /// Whether the operator keeps lines that do *not* match.
    pub fn is_negative(self) -> bool {
        matches!(
            self,
            LineFilterOp::NotContains | LineFilterOp::NotRegex | LineFilterOp::NotPattern
        )
    }
}

/// What a line filter looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineMatch {
    /// A substring, regular expression or pattern, depending on the operator.
    Text(String),
    /// `ip("...")`: an address, range or CIDR (only with `|=` and `!=`).
    Ip(String),
}

/// `label="expression"` in `| json` / `| logfmt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub label: String,
    pub expression: String,
}

/// One assignment of `| label_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelFormat {
    /// `dst=src`: renames (the source label is removed).
    Rename { dst: String, src: String },
    /// `dst="{{...}}"`: sets from a template.
    Template { dst: String, template: String },
}

impl LabelFormat {
    pub fn dst(&self) -> &str {
        match self {
            LabelFormat::Rename { dst, .. } | LabelFormat::Template { dst, .. } => dst,
        }
    }
}

/// An item of `| drop` / `| keep`: a bare label name or a matcher on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedMatcher {
    Name(String),
    Matcher(Matcher),
}

impl NamedMatcher {
    pub fn name(&self) -> &str {
        match self {
            NamedMatcher::Name(n) => n,
            NamedMatcher::Matcher(m) => &m.name,
        }
    }
}

/// A label filter expression. `and` binds tighter than `or`; `,` and juxtaposition are `and`.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// String comparison, like a stream matcher (missing labels compare as "").
    Matcher(Matcher),
    /// `addr = ip("...")` / `addr != ip("...")`.
    Ip {
        name: String,
        negate: bool,
        pattern: String,
    },
    /// `status >= 500`: the label value is parsed as a float.
    Number {
        name: String,
        op: CmpOp,
        value: f64,
    },
    /// `latency > 10s`: the label value is parsed as a Go duration. Value in nanoseconds.
    Duration {
        name: String,
        op: CmpOp,
        value: i64,
    },
    /// `size > 1KB`: the label value is parsed as a humanized byte size.
    Bytes {
        name: String,
        op: CmpOp,
        value: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn compare<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Neq => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// A metric query.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    RangeAggregation(RangeAggregation),
    VectorAggregation(VectorAggregation),
    Binary(Box<BinaryExpr>),
    /// A number literal (a scalar).
    Literal(f64),
    /// `vector(1)`: a one-element vector without labels.
    Vector(f64),
    LabelReplace(Box<LabelReplace>),
}

/// `rate({...}[5m])`, `quantile_over_time(0.99, {...} | unwrap x [5m]) by (a)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAggregation {
    pub op: RangeOp,
    /// Only `quantile_over_time` takes one.
    pub param: Option<f64>,
    pub range: LogRange,
    /// Only allowed for the unwrap aggregations that keep a value per series.
    pub grouping: Option<Grouping>,
}

/// A log query over a time window: `{...} | pipeline [| unwrap x] [5m] [offset 1h]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRange {
    pub log: LogExpr,
    pub unwrap: Option<Unwrap>,
    pub range: Duration,
    pub offset: Duration,
}

/// `| unwrap [conv(]label[)]` and the label filters allowed after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwrap {
    pub label: String,
    pub conversion: UnwrapConversion,
    pub post_filters: Vec<LabelFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnwrapConversion {
    /// Plain float parsing.
    Float,
    /// `bytes(x)`: humanized byte sizes.
    Bytes,
    /// `duration(x)`: Go durations, in seconds.
    Duration,
    /// `duration_seconds(x)`: same as `duration`.
    DurationSeconds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    RateCounter,
    BytesOverTime,
    BytesRate,
    AvgOverTime,
    SumOverTime,
    MinOverTime,
    MaxOverTime,
    StdvarOverTime,
    StddevOverTime,
    QuantileOverTime,
    FirstOverTime,
    LastOverTime,
    AbsentOverTime,
}

impl RangeOp {
    pub const ALL: [RangeOp; 15] = [
        RangeOp::CountOverTime,
        RangeOp::Rate,
        RangeOp::RateCounter,
        RangeOp::BytesOverTime,
        RangeOp::BytesRate,
        RangeOp::AvgOverTime,
        RangeOp::SumOverTime,
        RangeOp::MinOverTime,
        RangeOp::MaxOverTime,
        RangeOp::StdvarOverTime,
        RangeOp::StddevOverTime,
        RangeOp::QuantileOverTime,
        RangeOp::FirstOverTime,
        RangeOp::LastOverTime,
        RangeOp::AbsentOverTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::Rate => "rate",
            RangeOp::RateCounter => "rate_counter",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
            RangeOp::AbsentOverTime => "absent_over_time",
        }
    }

    pub fn from_name(name: &str) -> Option<RangeOp> {
        RangeOp::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }
}

/// `by (a, b)` / `without (a)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

/// `sum by (a) (expr)`, `topk(5, expr)`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorAggregation {
    pub op: VectorOp,
    /// `k` of `topk`/`bottomk`/`approx_topk`.
    pub param: Option<i64>,
    pub expr: Box<MetricExpr>,
    pub grouping: Option<Grouping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Count,
    Max,
    Min,
    Stddev,
    Stdvar,
    Bottomk,
    Topk,
    Sort,
    SortDesc,
    ApproxTopk,
}

impl VectorOp {
    pub const ALL: [VectorOp; 12] = [
        VectorOp::Sum,
        VectorOp::Avg,
        VectorOp::Count,
        VectorOp::Max,
        VectorOp::Min,
        VectorOp::Stddev,
        VectorOp::Stdvar,
        VectorOp::Bottomk,
        VectorOp::Topk,
        VectorOp::Sort,
        VectorOp::SortDesc,
        VectorOp::ApproxTopk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VectorOp::Sum => "sum",
            VectorOp::Avg => "avg",
            VectorOp::Count => "count",
            VectorOp::Max => "max",
            VectorOp::Min => "min",
            VectorOp::Stddev => "stddev",
            VectorOp::Stdvar => "stdvar",
            VectorOp::Bottomk => "bottomk",
            VectorOp::Topk => "topk",
            VectorOp::Sort => "sort",
            VectorOp::SortDesc => "sort_desc",
            VectorOp::ApproxTopk => "approx_topk",
        }
    }

    pub fn from_name(name: &str) -> Option<VectorOp> {
        VectorOp::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// Whether the operation takes the `k` parameter.
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            VectorOp::Topk | VectorOp::Bottomk | VectorOp::ApproxTopk
        )
    }
}

/// `lhs op [bool] [on|ignoring (..)] [group_left|group_right (..)] rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    pub op: BinaryOp,
    pub lhs: MetricExpr,
    pub rhs: MetricExpr,
    pub return_bool: bool,
    pub matching: Option<VectorMatching>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Unless,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Unless => "unless",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
        }
    }

    /// Binding strength, higher binds tighter (Loki follows Go/PromQL precedence).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Lt
            | BinaryOp::Le => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
            BinaryOp::Pow => 6,
        }
    }

    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::Or | BinaryOp::And | BinaryOp::Unless)
    }

    /// Applies the operator to two scalars (comparisons give 1 or 0), as Loki does when it
    /// folds `literal op literal` at parse time.
    pub fn apply_scalar(self, a: f64, b: f64) -> f64 {
        let truth = |t: bool| if t { 1.0 } else { 0.0 };
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Mod => a % b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Eq => truth(a == b),
            BinaryOp::Neq => truth(a != b),
            BinaryOp::Gt => truth(a > b),
            BinaryOp::Ge => truth(a >= b),
            BinaryOp::Lt => truth(a < b),
            BinaryOp::Le => truth(a <= b),
            // Set operators never reach here: the parser refuses literal operands for them.
            BinaryOp::Or | BinaryOp::And | BinaryOp::Unless => f64::NAN,
        }
    }
}

/// `on (a)` / `ignoring (a)` with an optional `group_left (b)` / `group_right (b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorMatching {
    pub on: bool,
    pub labels: Vec<String>,
    pub card: MatchCardinality,
    pub include: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchCardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
}

/// `label_replace(expr, "dst", "replacement", "src", "regex")`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelReplace {
    pub expr: MetricExpr,
    pub dst: String,
    pub replacement: String,
    pub src: String,
    pub regex: String,
}

impl Expr {
    /// Every log query the expression reads, left to right (one per range aggregation).
    pub fn log_exprs(&self) -> Vec<&LogExpr> {
        match self {
            Expr::Log(l) => vec![l],
            Expr::Metric(m) => m.log_ranges().into_iter().map(|r| &r.log).collect(),
        }
    }
}

impl MetricExpr {
    /// Every range the expression reads, left to right.
    pub fn log_ranges(&self) -> Vec<&LogRange> {
        let mut out = Vec::new();
        self.collect_ranges(&mut out);
        out
    }

    fn collect_ranges<'a>(&'a self, out: &mut Vec<&'a LogRange>) {
        match self {
            MetricExpr::RangeAggregation(r) => out.push(&r.range),
            MetricExpr::VectorAggregation(v) => v.expr.collect_ranges(out),
            MetricExpr::Binary(b) => {
                b.lhs.collect_ranges(out);
                b.rhs.collect_ranges(out);
            }
            MetricExpr::LabelReplace(l) => l.expr.collect_ranges(out),
            MetricExpr::Literal(_) | MetricExpr::Vector(_) => {}
        }
    }
}

impl Matcher {
    /// Whether the matcher accepts the empty value (i.e. also selects streams lacking the label).
    pub fn matches_empty(&self) -> bool {
        match self.op {
            MatchOp::Eq => self.value.is_empty(),
            MatchOp::Neq => !self.value.is_empty(),
            MatchOp::Re | MatchOp::Nre => {
                let hit = regex::Regex::new(&format!("^(?:{})$", self.value))
                    .map(|r| r.is_match(""))
                    .unwrap_or(false);
                hit == (self.op == MatchOp::Re)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Canonical text form.

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Log(l) => l.fmt(f),
            Expr::Metric(m) => m.fmt(f),
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        })
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, quote(&self.value))
    }
}

impl fmt::Display for LogExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        write_joined(f, &self.matchers, ", ")?;
        f.write_str("}")?;
        for stage in &self.stages {
            write!(f, " {stage}")?;
        }
        Ok(())
    }
}

fn write_joined<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for LineFilterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Regex => "|~",
            LineFilterOp::NotRegex => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        })
    }
}

impl fmt::Display for LineMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineMatch::Text(s) => f.write_str(&quote(s)),
            LineMatch::Ip(s) => write!(f, "ip({})", quote(s)),
        }
    }
}

impl fmt::Display for LineFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.op)?;
        write_joined(f, &self.alternatives, " or ")
    }
}

impl fmt::Display for Extraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.label, quote(&self.expression))
    }
}

impl fmt::Display for LabelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelFormat::Rename { dst, src } => write!(f, "{dst}={src}"),
            LabelFormat::Template { dst, template } => write!(f, "{dst}={}", quote(template)),
        }
    }
}

impl fmt::Display for NamedMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamedMatcher::Name(n) => f.write_str(n),
            NamedMatcher::Matcher(m) => m.fmt(f),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::LineFilter(l) => l.fmt(f),
            Stage::Logfmt {
                strict,
                keep_empty,
                extractions,
            } => {
                f.write_str("| logfmt")?;
                if *strict {
                    f.write_str(" --strict")?;
                }
                if *keep_empty {
                    f.write_str(" --keep-empty")?;
                }
                if !extractions.is_empty() {
                    f.write_str(" ")?;
                    write_joined(f, extractions, ",")?;
                }
                Ok(())
            }
            Stage::Json { extractions } => {
                f.write_str("| json")?;
                if !extractions.is_empty() {
                    f.write_str(" ")?;
                    write_joined(f, extractions, ",")?;
                }
                Ok(())
            }
            Stage::Regexp(re) => write!(f, "| regexp {}", quote(re)),
            Stage::Pattern(p) => write!(f, "| pattern {}", quote(p)),
            Stage::Unpack => f.write_str("| unpack"),
            Stage::LabelFilter(l) => write!(f, "| {l}"),
            Stage::LineFormat(t) => write!(f, "| line_format {}", quote(t)),
            Stage::LabelFormat(items) => {
                f.write_str("| label_format ")?;
                write_joined(f, items, ",")
            }
            Stage::Drop(items) => {
                f.write_str("| drop ")?;
                write_joined(f, items, ",")
            }
            Stage::Keep(items) => {
                f.write_str("| keep ")?;
                write_joined(f, items, ",")
            }
            Stage::Decolorize => f.write_str("| decolorize"),
        }
    }
}

impl fmt::Display for LabelFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Loki always parenthesises binary filters, so precedence survives a round trip.
            LabelFilter::And(l, r) => write!(f, "( {l} , {r} )"),
            LabelFilter::Or(l, r) => write!(f, "( {l} or {r} )"),
            LabelFilter::Matcher(m) => m.fmt(f),
            LabelFilter::Ip {
                name,
                negate,
                pattern,
            } => {
                let op = if *negate { "!=" } else { "=" };
                write!(f, "{name}{op}ip({})", quote(pattern))
            }
            LabelFilter::Number { name, op, value } => {
                write!(f, "{name}{}{}", op.as_str(), format_plain_float(*value))
            }
            LabelFilter::Duration { name, op, value } => {
                write!(f, "{name}{}{}", op.as_str(), format_go_duration(*value))
            }
            LabelFilter::Bytes { name, op, value } => {
                write!(f, "{name}{}{}", op.as_str(), format_bytes(*value))
            }
        }
    }
}

impl fmt::Display for UnwrapConversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnwrapConversion::Float => "",
            UnwrapConversion::Bytes => "bytes",
            UnwrapConversion::Duration => "duration",
            UnwrapConversion::DurationSeconds => "duration_seconds",
        })
    }
}

impl fmt::Display for Unwrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.conversion {
            UnwrapConversion::Float => write!(f, "| unwrap {}", self.label)?,
            conv => write!(f, "| unwrap {conv}({})", self.label)?,
        }
        for filter in &self.post_filters {
            write!(f, " | {filter}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LogRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.log.fmt(f)?;
        if let Some(u) = &self.unwrap {
            write!(f, " {u}")?;
        }
        write!(f, "[{}]", format_prom_duration(duration_nanos(self.range)))?;
        if !self.offset.is_zero() {
            write!(
                f,
                " offset {}",
                format_go_duration(duration_nanos(self.offset))
            )?;
        }
        Ok(())
    }
}

fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kw = if self.without { "without" } else { "by" };
        write!(f, " {kw} ({})", self.labels.join(","))
    }
}

impl fmt::Display for MetricExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricExpr::RangeAggregation(r) => {
                write!(f, "{}(", r.op.name())?;
                if let Some(p) = r.param {
                    write!(f, "{},", format_plain_float(p))?;
                }
                write!(f, "{})", r.range)?;
                if let Some(g) = &r.grouping {
                    g.fmt(f)?;
                }
                Ok(())
            }
            MetricExpr::VectorAggregation(v) => {
                f.write_str(v.op.name())?;
                if let Some(g) = &v.grouping {
                    // `by ()` groups everything together, same as no grouping.
                    if g.without || !g.labels.is_empty() {
                        g.fmt(f)?;
                    }
                }
                f.write_str("(")?;
                if let Some(k) = v.param {
                    write!(f, "{k},")?;
                }
                write!(f, "{})", v.expr)
            }
            MetricExpr::Binary(b) => {
                write!(f, "({} {}", b.lhs, b.op.as_str())?;
                if b.return_bool {
                    f.write_str(" bool")?;
                }
                if let Some(m) = &b.matching {
                    let kw = if m.on { "on" } else { "ignoring" };
                    write!(f, " {kw} ({})", m.labels.join(","))?;
                    match m.card {
                        MatchCardinality::OneToOne => {}
                        MatchCardinality::ManyToOne => write!(f, " group_left")?,
                        MatchCardinality::OneToMany => write!(f, " group_right")?,
                    }
                    if m.card != MatchCardinality::OneToOne && !m.include.is_empty() {
                        write!(f, " ({})", m.include.join(","))?;
                    }
                }
                write!(f, " {})", b.rhs)
            }
            // LogQL has no literal for these; a constant division keeps the text parseable.
            MetricExpr::Literal(v) if v.is_nan() => f.write_str("(0 / 0)"),
            MetricExpr::Literal(v) if v.is_infinite() => {
                f.write_str(if *v > 0.0 { "(1 / 0)" } else { "(-1 / 0)" })
            }
            MetricExpr::Literal(v) => f.write_str(&format_go_float(*v)),
            MetricExpr::Vector(v) => write!(f, "vector({v:.6})"),
            MetricExpr::LabelReplace(l) => write!(
                f,
                "label_replace({},{},{},{},{})",
                l.expr,
                quote(&l.dst),
                quote(&l.replacement),
                quote(&l.src),
                quote(&l.regex)
            ),
        }
    }
}
