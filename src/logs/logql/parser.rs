//! Recursive-descent parser for LogQL, accepting what Loki 3.x's grammar accepts and
//! reporting `syntax error: unexpected X, expecting Y` at the offending token.
//! Stage arguments (regexes, patterns, templates, JSON paths) are checked here too, so a
//! query that parses can always be turned into a [`super::Pipeline`].

use std::time::Duration;

use super::ast::*;
use super::error::LogqlError;
use super::lexer::{tokenize, Token, TokenKind};
use super::parsers::{parse_json_path, validate_pattern, validate_regexp_parser, PatternMode};
use super::template::Template;
use super::units::parse_go_float;

/// Loki refuses queries of this size or more.
const MAX_INPUT_SIZE: usize = 131_072;

const EMPTY_COMPATIBLE: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

/// Words that are always keywords in Loki's lexer, so they cannot start a label filter.
const RESERVED: [&str; 24] = [
    "by",
    "without",
    "bool",
    "unwrap",
    "label_replace",
    "offset",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "or",
    "and",
    "unless",
    "json",
    "regexp",
    "logfmt",
    "unpack",
    "pattern",
    "label_format",
    "line_format",
    "ip",
    "decolorize",
    "drop",
    "keep",
];

/// Parses and validates a query (log or metric), as Loki's `ParseExpr` does.
pub fn parse_expr(input: &str) -> Result<Expr, LogqlError> {
    let expr = parse_expr_without_validation(input)?;
    validate(&expr)?;
    Ok(expr)
}

/// Parses without the "at least one non-empty matcher" rule (Loki uses this for e.g.
/// queries built internally).
pub fn parse_expr_without_validation(input: &str) -> Result<Expr, LogqlError> {
    if input.len() >= MAX_INPUT_SIZE {
        return Err(LogqlError::new(format!(
            "input size too long ({} > {})",
            input.len(),
            MAX_INPUT_SIZE
        )));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser {
        input,
        tokens,
        idx: 0,
    };
    let expr = p.parse_binary(0)?;
    if !p.at_eof() {
        return Err(p.unexpected(&[]));
    }
    Ok(expr)
}

/// Parses a log query (selector and pipeline); metric queries are refused.
pub fn parse_log_query(input: &str) -> Result<LogExpr, LogqlError> {
    match parse_expr(input)? {
        Expr::Log(l) => Ok(l),
        Expr::Metric(_) => Err(LogqlError::new("only log selector is supported")),
    }
}

/// Parses a bare stream selector such as `{app="x", env=~"p.*"}` (the `match[]` of
/// `/loki/api/v1/series`).
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, LogqlError> {
    match parse_expr(input)? {
        Expr::Log(l) if l.stages.is_empty() => Ok(l.matchers),
        _ => Err(LogqlError::new("only label matchers are supported")),
    }
}

/// Parses a label set as pushed to Loki, `{a="b", c="d"}`. Only `=` is allowed; labels with
/// empty values are dropped (they are equivalent to absent labels); the result is sorted.
pub fn parse_labels(input: &str) -> Result<Vec<(String, String)>, LogqlError> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        input,
        tokens,
        idx: 0,
    };
    let matchers = p.parse_selector()?;
    if !p.at_eof() {
        return Err(p.unexpected(&[]));
    }
    let mut out = Vec::with_capacity(matchers.len());
    for m in matchers {
        if m.op != MatchOp::Eq {
            return Err(LogqlError::new(format!(
                "unexpected matcher {m} in a label set: only = is allowed"
            )));
        }
        if !m.value.is_empty() {
            out.push((m.name, m.value));
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    idx: usize,
}

impl Parser<'_> {
    // --- token helpers -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.idx + n).min(last)]
    }

    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if self.idx < self.tokens.len() - 1 {
            self.idx += 1;
        }
        tok
    }

    fn at_eof(&self) -> bool {
        self.peek().kind == TokenKind::Eof
    }

    fn is_punct_at(&self, n: usize, p: &str) -> bool {
        matches!(&self.peek_at(n).kind, TokenKind::Punct(q) if *q == p)
    }

    fn is_punct(&self, p: &str) -> bool {
        self.is_punct_at(0, p)
    }

    fn is_word_at(&self, n: usize, word: &str) -> bool {
        matches!(&self.peek_at(n).kind, TokenKind::Ident(s) if s.eq_ignore_ascii_case(word))
    }

    fn is_word(&self, word: &str) -> bool {
        self.is_word_at(0, word)
    }

    /// An identifier that can start a label filter (not one of Loki's keywords).
    fn is_plain_ident_at(&self, n: usize) -> bool {
        match &self.peek_at(n).kind {
            TokenKind::Ident(s) => !is_reserved(s),
            _ => false,
        }
    }

    /// The token's name as Loki's parser prints it in errors.
    fn token_name(&self, n: usize) -> String {
        match &self.peek_at(n).kind {
            TokenKind::Ident(s) => {
                let lower = s.to_ascii_lowercase();
                if is_reserved(&lower) {
                    lower
                } else if is_function_name(&lower) && self.is_punct_at(n + 1, "(") {
                    lower.to_ascii_uppercase()
                } else {
                    "IDENTIFIER".to_string()
                }
            }
            TokenKind::Str(_) => "STRING".to_string(),
            TokenKind::Number(_) => "NUMBER".to_string(),
            TokenKind::Duration(_) => "DURATION".to_string(),
            TokenKind::Bytes(_) => "BYTES".to_string(),
            TokenKind::Range(_) => "RANGE".to_string(),
            TokenKind::Flag(_) => "FUNCTION_FLAG".to_string(),
            TokenKind::Punct(p) => p.to_string(),
            TokenKind::Unknown(c) => format!("{c:?}"),
            TokenKind::Eof => "$end".to_string(),
        }
    }

    /// `syntax error: unexpected X[, expecting A or B]` at the current token.
    fn unexpected(&self, expecting: &[&str]) -> LogqlError {
        let mut msg = format!("syntax error: unexpected {}", self.token_name(0));
        if !expecting.is_empty() {
            msg.push_str(", expecting ");
            msg.push_str(&expecting.join(" or "));
        }
        self.error_here(msg)
    }

    fn error_here(&self, msg: impl Into<String>) -> LogqlError {
        LogqlError::at(self.input, self.peek().pos, msg)
    }

    fn error_at(&self, tok: &Token, msg: impl Into<String>) -> LogqlError {
        LogqlError::at(self.input, tok.pos, msg)
    }

    fn expect_punct(&mut self, p: &'static str) -> Result<Token, LogqlError> {
        if self.is_punct(p) {
            Ok(self.bump())
        } else {
            Err(self.unexpected(&[p]))
        }
    }

    fn expect_string(&mut self) -> Result<(String, Token), LogqlError> {
        match &self.peek().kind {
            TokenKind::Str(s) => {
                let s = s.clone();
                Ok((s, self.bump()))
            }
            _ => Err(self.unexpected(&["STRING"])),
        }
    }

    /// Any identifier, keywords included (used where only a label name can appear).
    fn expect_ident(&mut self) -> Result<String, LogqlError> {
        match &self.peek().kind {
            TokenKind::Ident(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected(&["IDENTIFIER"])),
        }
    }

    // --- expressions -----------------------------------------------------------------------

    fn peek_binop(&self) -> Option<BinaryOp> {
        match &self.peek().kind {
            TokenKind::Punct(p) => Some(match *p {
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                "%" => BinaryOp::Mod,
                "^" => BinaryOp::Pow,
                "==" => BinaryOp::Eq,
                "!=" => BinaryOp::Neq,
                ">" => BinaryOp::Gt,
                ">=" => BinaryOp::Ge,
                "<" => BinaryOp::Lt,
                "<=" => BinaryOp::Le,
                _ => return None,
            }),
            TokenKind::Ident(w) => match w.to_ascii_lowercase().as_str() {
                "or" => Some(BinaryOp::Or),
                "and" => Some(BinaryOp::And),
                "unless" => Some(BinaryOp::Unless),
                _ => None,
            },
            _ => None,
        }
    }

    /// Precedence climbing over binary operators; `^` is right-associative.
    fn parse_binary(&mut self, min_prec: u8) -> Result<Expr, LogqlError> {
        let mut lhs = self.parse_unary()?;
        while let Some(op) = self.peek_binop() {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.bump();
            let (return_bool, matching) = self.parse_bin_modifiers()?;
            let next_min = if op == BinaryOp::Pow { prec } else { prec + 1 };
            let rhs = self.parse_binary(next_min)?;
            lhs = Expr::Metric(make_binary(op, lhs, rhs, return_bool, matching)?);
        }
        Ok(lhs)
    }

    /// `[bool] [on|ignoring (labels) [group_left|group_right [(labels)]]]`.
    fn parse_bin_modifiers(&mut self) -> Result<(bool, Option<VectorMatching>), LogqlError> {
        let return_bool = self.is_word("bool");
        if return_bool {
            self.bump();
        }
        let on = self.is_word("on");
        if !on && !self.is_word("ignoring") {
            return Ok((return_bool, None));
        }
        self.bump();
        let labels = self.parse_label_list()?;
        let mut matching = VectorMatching {
            on,
            labels,
            card: MatchCardinality::OneToOne,
            include: Vec::new(),
        };
        let card = if self.is_word("group_left") {
            Some(MatchCardinality::ManyToOne)
        } else if self.is_word("group_right") {
            Some(MatchCardinality::OneToMany)
        } else {
            None
        };
        if let Some(card) = card {
            self.bump();
            matching.card = card;
            if self.is_punct("(") {
                matching.include = self.parse_label_list()?;
            }
        }
        Ok((return_bool, Some(matching)))
    }

    /// `( a, b )`, possibly empty.
    fn parse_label_list(&mut self) -> Result<Vec<String>, LogqlError> {
        self.expect_punct("(")?;
        let mut labels = Vec::new();
        if self.is_punct(")") {
            self.bump();
            return Ok(labels);
        }
        loop {
            labels.push(self.expect_ident()?);
            if self.is_punct(",") {
                self.bump();
                continue;
            }
            if self.is_punct(")") {
                self.bump();
                return Ok(labels);
            }
            return Err(self.unexpected(&[",", ")"]));
        }
    }

    fn parse_unary(&mut self) -> Result<Expr, LogqlError> {
        let tok = self.peek().clone();
        match &tok.kind {
            TokenKind::Punct("(") => {
                self.bump();
                let inner = self.parse_binary(0)?;
                if matches!(self.peek().kind, TokenKind::Range(_)) {
                    // `({...})[5m]` is only meaningful inside a range aggregation.
                    return Err(self.unexpected(&[")"]));
                }
                self.expect_punct(")")?;
                Ok(inner)
            }
            TokenKind::Punct("{") => {
                let log = self.parse_log_expr()?;
                if matches!(self.peek().kind, TokenKind::Range(_)) {
                    return Err(self.unexpected(&[]));
                }
                Ok(Expr::Log(log))
            }
            TokenKind::Number(_) | TokenKind::Punct("+") | TokenKind::Punct("-") => {
                Ok(Expr::Metric(MetricExpr::Literal(self.parse_literal()?)))
            }
            TokenKind::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                let call = self.is_punct_at(1, "(");
                if let (Some(op), true) = (RangeOp::from_name(&lower), call) {
                    return self.parse_range_aggregation(op);
                }
                let grouped_call = (self.is_word_at(1, "by") || self.is_word_at(1, "without"))
                    && self.is_punct_at(2, "(");
                if let Some(op) = VectorOp::from_name(&lower) {
                    if call || grouped_call {
                        return self.parse_vector_aggregation(op);
                    }
                }
                if lower == "vector" && call {
                    return self.parse_vector();
                }
                if lower == "label_replace" && call {
                    return self.parse_label_replace();
                }
                Err(self.unexpected(&[]))
            }
            _ => Err(self.unexpected(&[])),
        }
    }

    /// `NUMBER`, `+NUMBER` or `-NUMBER`.
    fn parse_literal(&mut self) -> Result<f64, LogqlError> {
        let negative = self.is_punct("-");
        if negative || self.is_punct("+") {
            self.bump();
        }
        let tok = self.peek().clone();
        let TokenKind::Number(text) = &tok.kind else {
            return Err(self.unexpected(&["NUMBER"]));
        };
        self.bump();
        let v = parse_go_float(text)
            .map_err(|e| self.error_at(&tok, format!("unable to parse literal as a float: {e}")))?;
        Ok(if negative { -v } else { v })
    }

    fn parse_metric_arg(&mut self) -> Result<MetricExpr, LogqlError> {
        let tok = self.peek().clone();
        match self.parse_binary(0)? {
            Expr::Metric(m) => Ok(m),
            Expr::Log(_) => Err(self.error_at(
                &tok,
                "syntax error: unexpected log query, expecting a metric expression",
            )),
        }
    }

    fn parse_range_aggregation(&mut self, op: RangeOp) -> Result<Expr, LogqlError> {
        let start = self.bump();
        self.expect_punct("(")?;
        let mut param_text = None;
        if matches!(self.peek().kind, TokenKind::Number(_)) && self.is_punct_at(1, ",") {
            if let TokenKind::Number(n) = self.bump().kind {
                param_text = Some(n);
            }
            self.bump();
        }
        let range = self.parse_log_range()?;
        self.expect_punct(")")?;
        let grouping = self.parse_optional_grouping()?;

        let param = match (&param_text, op) {
            (Some(text), RangeOp::QuantileOverTime) => Some(parse_go_float(text).map_err(|e| {
                self.error_at(
                    &start,
                    format!("invalid parameter for operation {}: {e}", op.name()),
                )
            })?),
            (Some(text), _) => {
                return Err(self.error_at(
                    &start,
                    format!("parameter {text} not supported for operation {}", op.name()),
                ))
            }
            (None, RangeOp::QuantileOverTime) => {
                return Err(self.error_at(
                    &start,
                    format!("parameter required for operation {}", op.name()),
                ))
            }
            (None, _) => None,
        };
        let agg = RangeAggregation {
            op,
            param,
            range,
            grouping,
        };
        validate_range_aggregation(&agg).map_err(|m| self.error_at(&start, m))?;
        Ok(Expr::Metric(MetricExpr::RangeAggregation(agg)))
    }

    fn parse_optional_grouping(&mut self) -> Result<Option<Grouping>, LogqlError> {
        let without = self.is_word("without");
        if !without && !self.is_word("by") {
            return Ok(None);
        }
        self.bump();
        let labels = self.parse_label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    /// The log part of a range aggregation, in every order Loki's grammar allows:
    /// `{..} |pipeline [|unwrap] [5m] [offset]`, `{..}[5m] [offset] |pipeline [|unwrap]`,
    /// `({..} |pipeline [|unwrap])[5m] [offset]` and `( <any of these> )`.
    fn parse_log_range(&mut self) -> Result<LogRange, LogqlError> {
        if self.is_punct("(") {
            self.bump();
            if self.is_punct("(") {
                let inner = self.parse_log_range()?;
                self.expect_punct(")")?;
                return Ok(inner);
            }
            return self.parse_log_range_tail(true);
        }
        if !self.is_punct("{") {
            return Err(self.unexpected(&["{", "("]));
        }
        self.parse_log_range_tail(false)
    }

    fn parse_log_range_tail(&mut self, in_parens: bool) -> Result<LogRange, LogqlError> {
        let matchers = self.parse_selector()?;
        let range;
        let offset;
        let stages;
        let unwrap;
        if let Some(r) = self.take_range() {
            range = r;
            offset = self.parse_optional_offset()?;
            stages = self.parse_pipeline()?;
            unwrap = self.parse_optional_unwrap()?;
            if in_parens {
                self.expect_punct(")")?;
            }
        } else {
            stages = self.parse_pipeline()?;
            unwrap = self.parse_optional_unwrap()?;
            if let Some(r) = self.take_range() {
                range = r;
                offset = self.parse_optional_offset()?;
                if in_parens {
                    self.expect_punct(")")?;
                }
            } else if in_parens {
                self.expect_punct(")")?;
                range = self
                    .take_range()
                    .ok_or_else(|| self.unexpected(&["RANGE"]))?;
                offset = self.parse_optional_offset()?;
            } else {
                return Err(self.unexpected(&["RANGE"]));
            }
        }
        Ok(LogRange {
            log: LogExpr { matchers, stages },
            unwrap,
            range,
            offset,
        })
    }

    fn take_range(&mut self) -> Option<Duration> {
        if let TokenKind::Range(ns) = self.peek().kind {
            self.bump();
            Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(0)))
        } else {
            None
        }
    }

    fn parse_optional_offset(&mut self) -> Result<Duration, LogqlError> {
        if !self.is_word("offset") {
            return Ok(Duration::ZERO);
        }
        self.bump();
        let tok = self.peek().clone();
        match tok.kind {
            TokenKind::Duration(ns) if ns >= 0 => {
                self.bump();
                Ok(Duration::from_nanos(ns.unsigned_abs()))
            }
            TokenKind::Duration(_) => Err(self.error_here("negative offsets are not supported")),
            _ => Err(self.unexpected(&["DURATION"])),
        }
    }

    /// `| unwrap label`, `| unwrap duration(label)`, then `| <label filter>`s.
    fn parse_optional_unwrap(&mut self) -> Result<Option<Unwrap>, LogqlError> {
        if !(self.is_punct("|") && self.is_word_at(1, "unwrap")) {
            return Ok(None);
        }
        self.bump();
        self.bump();
        let conversion = match &self.peek().kind {
            TokenKind::Ident(w) if self.is_punct_at(1, "(") => {
                match w.to_ascii_lowercase().as_str() {
                    "bytes" => UnwrapConversion::Bytes,
                    "duration" => UnwrapConversion::Duration,
                    "duration_seconds" => UnwrapConversion::DurationSeconds,
                    _ => return Err(self.unexpected(&["IDENTIFIER"])),
                }
            }
            _ => UnwrapConversion::Float,
        };
        let label = if conversion == UnwrapConversion::Float {
            self.expect_ident()?
        } else {
            self.bump();
            self.bump();
            let label = self.expect_ident()?;
            self.expect_punct(")")?;
            label
        };
        let mut post_filters = Vec::new();
        while self.is_punct("|") {
            self.bump();
            post_filters.push(self.parse_label_filter_or()?);
        }
        Ok(Some(Unwrap {
            label,
            conversion,
            post_filters,
        }))
    }

    fn parse_vector_aggregation(&mut self, op: VectorOp) -> Result<Expr, LogqlError> {
        let start = self.bump();
        let mut grouping = self.parse_optional_grouping()?;
        self.expect_punct("(")?;
        let mut param_text = None;
        if matches!(self.peek().kind, TokenKind::Number(_)) && self.is_punct_at(1, ",") {
            if let TokenKind::Number(n) = self.bump().kind {
                param_text = Some(n);
            }
            self.bump();
        }
        let expr = self.parse_metric_arg()?;
        self.expect_punct(")")?;
        if grouping.is_none() {
            grouping = self.parse_optional_grouping()?;
        }
        // `by ()` groups everything into one series, exactly like no grouping.
        if grouping
            .as_ref()
            .is_some_and(|g| !g.without && g.labels.is_empty())
        {
            grouping = None;
        }
        let name = op.name();
        let param = match (param_text, op.takes_param()) {
            (Some(text), true) => {
                let k: i64 = text.parse().map_err(|_| {
                    self.error_at(&start, format!("invalid parameter {name}({text},"))
                })?;
                if k <= 0 {
                    return Err(self.error_at(
                        &start,
                        format!("invalid parameter (must be greater than 0) {name}({text}"),
                    ));
                }
                Some(k)
            }
            (Some(text), false) => {
                return Err(self.error_at(
                    &start,
                    format!("unsupported parameter for operation {name}({text},"),
                ))
            }
            (None, true) => {
                return Err(
                    self.error_at(&start, format!("parameter required for operation {name}"))
                )
            }
            (None, false) => None,
        };
        let has_groups = grouping.as_ref().is_some_and(|g| !g.labels.is_empty());
        if matches!(op, VectorOp::Sort | VectorOp::SortDesc) && has_groups {
            return Err(self.error_at(&start, "sort and sort_desc doesn't allow grouping by "));
        }
        if op == VectorOp::ApproxTopk && grouping.is_some() {
            return Err(self.error_at(
                &start,
                format!("grouping not allowed for {name} aggregation"),
            ));
        }
        Ok(Expr::Metric(MetricExpr::VectorAggregation(
            VectorAggregation {
                op,
                param,
                expr: Box::new(expr),
                grouping,
            },
        )))
    }

    fn parse_vector(&mut self) -> Result<Expr, LogqlError> {
        self.bump();
        self.expect_punct("(")?;
        let tok = self.peek().clone();
        let TokenKind::Number(text) = &tok.kind else {
            return Err(self.unexpected(&["NUMBER"]));
        };
        self.bump();
        let v = parse_go_float(text).map_err(|e| {
            self.error_at(&tok, format!("unable to parse vectorExpr as a float: {e}"))
        })?;
        self.expect_punct(")")?;
        Ok(Expr::Metric(MetricExpr::Vector(v)))
    }

    fn parse_label_replace(&mut self) -> Result<Expr, LogqlError> {
        let start = self.bump();
        self.expect_punct("(")?;
        let expr = self.parse_metric_arg()?;
        let mut args = Vec::with_capacity(4);
        for _ in 0..4 {
            self.expect_punct(",")?;
            args.push(self.expect_string()?.0);
        }
        self.expect_punct(")")?;
        let [dst, replacement, src, regex] = <[String; 4]>::try_from(args)
            .map_err(|_| self.error_at(&start, "label_replace takes 5 arguments"))?;
        if let Err(e) = regex::Regex::new(&format!("^(?s:{regex})$")) {
            return Err(self.error_at(&start, format!("invalid regex in label_replace: {e}")));
        }
        if !is_valid_label_name(&dst) {
            return Err(self.error_at(
                &start,
                format!("invalid destination label name in label_replace: {dst}"),
            ));
        }
        Ok(Expr::Metric(MetricExpr::LabelReplace(Box::new(
            LabelReplace {
                expr,
                dst,
                replacement,
                src,
                regex,
            },
        ))))
    }

    // --- log queries -------------------------------------------------------------------

    fn parse_log_expr(&mut self) -> Result<LogExpr, LogqlError> {
        let matchers = self.parse_selector()?;
        let stages = self.parse_pipeline()?;
        Ok(LogExpr { matchers, stages })
    }

    /// `{name op "value", ...}`.
    fn parse_selector(&mut self) -> Result<Vec<Matcher>, LogqlError> {
        self.expect_punct("{")?;
        let mut matchers = Vec::new();
        if self.is_punct("}") {
            self.bump();
            return Ok(matchers);
        }
        loop {
            if !matches!(self.peek().kind, TokenKind::Ident(_)) {
                return Err(self.unexpected(&["IDENTIFIER"]));
            }
            let name = self.expect_ident()?;
            let op = match &self.peek().kind {
                TokenKind::Punct("=") => MatchOp::Eq,
                TokenKind::Punct("!=") => MatchOp::Neq,
                TokenKind::Punct("=~") => MatchOp::Re,
                TokenKind::Punct("!~") => MatchOp::Nre,
                _ => return Err(self.unexpected(&["=", "!=", "=~", "!~"])),
            };
            self.bump();
            let (value, tok) = self.expect_string()?;
            let m = Matcher { name, op, value };
            self.check_matcher_regex(&m, &tok)?;
            matchers.push(m);
            if self.is_punct(",") {
                self.bump();
                continue;
            }
            if self.is_punct("}") {
                self.bump();
                return Ok(matchers);
            }
            return Err(self.unexpected(&[",", "}"]));
        }
    }

    fn check_matcher_regex(&self, m: &Matcher, tok: &Token) -> Result<(), LogqlError> {
        if matches!(m.op, MatchOp::Re | MatchOp::Nre) {
            if let Err(e) = regex::Regex::new(&format!("^(?:{})$", m.value)) {
                return Err(self.error_at(tok, format!("error parsing regexp: {e}")));
            }
        }
        Ok(())
    }

    /// Stages up to (not including) `| unwrap`, a range, `)` or the end.
    fn parse_pipeline(&mut self) -> Result<Vec<Stage>, LogqlError> {
        let mut stages = Vec::new();
        loop {
            let op = match &self.peek().kind {
                TokenKind::Punct("|=") => LineFilterOp::Contains,
                TokenKind::Punct("!=") => LineFilterOp::NotContains,
                TokenKind::Punct("|~") => LineFilterOp::Regex,
                TokenKind::Punct("!~") => LineFilterOp::NotRegex,
                TokenKind::Punct("|>") => LineFilterOp::Pattern,
                TokenKind::Punct("!>") => LineFilterOp::NotPattern,
                TokenKind::Punct("|") if !self.is_word_at(1, "unwrap") => {
                    self.bump();
                    stages.push(self.parse_stage()?);
                    continue;
                }
                _ => return Ok(stages),
            };
            self.bump();
            stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
        }
    }

    fn parse_line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, LogqlError> {
        let mut alternatives = vec![self.parse_line_match(op)?];
        while self.is_word("or") {
            self.bump();
            alternatives.push(self.parse_line_match(op)?);
        }
        Ok(LineFilter { op, alternatives })
    }

    fn parse_line_match(&mut self, op: LineFilterOp) -> Result<LineMatch, LogqlError> {
        let tok = self.peek().clone();
        if self.is_word("ip") && self.is_punct_at(1, "(") {
            self.bump();
            self.bump();
            let (pattern, str_tok) = self.expect_string()?;
            self.expect_punct(")")?;
            if !matches!(op, LineFilterOp::Contains | LineFilterOp::NotContains) {
                return Err(self.error_at(&tok, "ip filter only supports |= and != operators"));
            }
            if let Err(e) = super::ip::IpMatcher::new(&pattern) {
                return Err(self.error_at(&str_tok, e));
            }
            return Ok(LineMatch::Ip(pattern));
        }
        let (text, str_tok) = match &tok.kind {
            TokenKind::Str(_) => self.expect_string()?,
            _ => return Err(self.unexpected(&["STRING", "ip"])),
        };
        match op {
            LineFilterOp::Regex | LineFilterOp::NotRegex => {
                if let Err(e) = regex::Regex::new(&text) {
                    return Err(self.error_at(&str_tok, format!("error parsing regexp: {e}")));
                }
            }
            LineFilterOp::Pattern | LineFilterOp::NotPattern => {
                validate_pattern(&text, PatternMode::LineFilter)
                    .map_err(|e| self.error_at(&str_tok, e))?;
            }
            LineFilterOp::Contains | LineFilterOp::NotContains => {}
        }
        Ok(LineMatch::Text(text))
    }

    /// One stage after `|`.
    fn parse_stage(&mut self) -> Result<Stage, LogqlError> {
        let tok = self.peek().clone();
        let word = match &tok.kind {
            TokenKind::Ident(w) => w.to_ascii_lowercase(),
            TokenKind::Punct("(") => return Ok(Stage::LabelFilter(self.parse_label_filter_or()?)),
            _ => return Err(self.unexpected(&[])),
        };
        match word.as_str() {
            "json" => {
                self.bump();
                let extractions = self.parse_extractions(true)?;
                Ok(Stage::Json { extractions })
            }
            "logfmt" => {
                self.bump();
                let (mut strict, mut keep_empty) = (false, false);
                while let TokenKind::Flag(f) = &self.peek().kind {
                    if f == "--strict" {
                        strict = true;
                    } else {
                        keep_empty = true;
                    }
                    self.bump();
                }
                let extractions = self.parse_extractions(false)?;
                Ok(Stage::Logfmt {
                    strict,
                    keep_empty,
                    extractions,
                })
            }
            "regexp" => {
                self.bump();
                let (re, str_tok) = self.expect_string()?;
                validate_regexp_parser(&re)
                    .map_err(|e| self.error_at(&str_tok, format!("invalid regexp parser: {e}")))?;
                Ok(Stage::Regexp(re))
            }
            "pattern" => {
                self.bump();
                let (p, str_tok) = self.expect_string()?;
                validate_pattern(&p, PatternMode::Parser)
                    .map_err(|e| self.error_at(&str_tok, format!("invalid pattern parser: {e}")))?;
                Ok(Stage::Pattern(p))
            }
            "unpack" => {
                self.bump();
                Ok(Stage::Unpack)
            }
            "decolorize" => {
                self.bump();
                Ok(Stage::Decolorize)
            }
            "line_format" => {
                self.bump();
                let (t, str_tok) = self.expect_string()?;
                Template::parse(&t)
                    .map_err(|e| self.error_at(&str_tok, format!("invalid line template: {e}")))?;
                Ok(Stage::LineFormat(t))
            }
            "label_format" => {
                self.bump();
                self.parse_label_format()
            }
            "drop" => {
                self.bump();
                Ok(Stage::Drop(self.parse_named_matchers()?))
            }
            "keep" => {
                self.bump();
                Ok(Stage::Keep(self.parse_named_matchers()?))
            }
            w if is_reserved(w) => Err(self.unexpected(&[])),
            _ => Ok(Stage::LabelFilter(self.parse_label_filter_or()?)),
        }
    }

    /// `a, b="x.y"` after `json`/`logfmt`; empty when no identifier follows.
    fn parse_extractions(&mut self, json: bool) -> Result<Vec<Extraction>, LogqlError> {
        let mut out = Vec::new();
        if !matches!(self.peek().kind, TokenKind::Ident(_)) {
            return Ok(out);
        }
        loop {
            let label = self.expect_ident()?;
            let (expression, tok) = if self.is_punct("=") {
                self.bump();
                let (s, tok) = self.expect_string()?;
                (s, Some(tok))
            } else {
                (label.clone(), None)
            };
            if json {
                if let Err(e) = parse_json_path(&expression) {
                    let msg = format!("cannot parse expression [{expression}]: {e}");
                    return Err(match &tok {
                        Some(t) => self.error_at(t, msg),
                        None => self.error_here(msg),
                    });
                }
            }
            out.push(Extraction { label, expression });
            if !self.is_punct(",") {
                return Ok(out);
            }
            self.bump();
        }
    }

    fn parse_label_format(&mut self) -> Result<Stage, LogqlError> {
        let start = self.peek().clone();
        let mut items: Vec<LabelFormat> = Vec::new();
        loop {
            let dst = self.expect_ident()?;
            self.expect_punct("=")?;
            let item = match &self.peek().kind {
                TokenKind::Ident(src) => {
                    let src = src.clone();
                    self.bump();
                    LabelFormat::Rename { dst, src }
                }
                TokenKind::Str(_) => {
                    let (template, tok) = self.expect_string()?;
                    Template::parse(&template).map_err(|e| {
                        self.error_at(&tok, format!("invalid template for label '{dst}': {e}"))
                    })?;
                    LabelFormat::Template { dst, template }
                }
                _ => return Err(self.unexpected(&["IDENTIFIER", "STRING"])),
            };
            if item.dst() == super::error::ERROR_LABEL {
                return Err(self.error_at(&start, format!("{} cannot be formatted", item.dst())));
            }
            if items.iter().any(|i| i.dst() == item.dst()) {
                return Err(self.error_at(
                    &start,
                    format!(
                        "multiple label name '{}' not allowed in a single format operation",
                        item.dst()
                    ),
                ));
            }
            items.push(item);
            if !self.is_punct(",") {
                return Ok(Stage::LabelFormat(items));
            }
            self.bump();
        }
    }

    /// `a, b="v", c=~"re"` after `drop`/`keep`.
    fn parse_named_matchers(&mut self) -> Result<Vec<NamedMatcher>, LogqlError> {
        let mut out = Vec::new();
        loop {
            let name = self.expect_ident()?;
            let op = match &self.peek().kind {
                TokenKind::Punct("=") => Some(MatchOp::Eq),
                TokenKind::Punct("!=") => Some(MatchOp::Neq),
                TokenKind::Punct("=~") => Some(MatchOp::Re),
                TokenKind::Punct("!~") => Some(MatchOp::Nre),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.bump();
                    let (value, tok) = self.expect_string()?;
                    let m = Matcher { name, op, value };
                    self.check_matcher_regex(&m, &tok)?;
                    out.push(NamedMatcher::Matcher(m));
                }
                None => out.push(NamedMatcher::Name(name)),
            }
            if !self.is_punct(",") {
                return Ok(out);
            }
            self.bump();
        }
    }

    // --- label filters -----------------------------------------------------------------
    //
    // Loki's grammar gives `or` the lowest precedence and `and` the next; a `,` or plain
    // juxtaposition also means `and` but takes everything to its right as its right operand
    // (yacc shifts there), so `a, b or c` is `a and (b or c)` while `a and b or c` is
    // `(a and b) or c`. The three levels below reproduce exactly that.

    fn parse_label_filter_or(&mut self) -> Result<LabelFilter, LogqlError> {
        let mut left = self.parse_label_filter_and()?;
        while self.is_word("or") {
            self.bump();
            let right = self.parse_label_filter_and()?;
            left = LabelFilter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_label_filter_and(&mut self) -> Result<LabelFilter, LogqlError> {
        let mut left = self.parse_label_filter_unit()?;
        while self.is_word("and") {
            self.bump();
            let right = self.parse_label_filter_unit()?;
            left = LabelFilter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_label_filter_unit(&mut self) -> Result<LabelFilter, LogqlError> {
        let first = self.parse_label_filter_primary()?;
        let comma = self.is_punct(",");
        if comma || self.is_plain_ident_at(0) || self.is_punct("(") {
            if comma {
                self.bump();
            }
            let rest = self.parse_label_filter_or()?;
            return Ok(LabelFilter::And(Box::new(first), Box::new(rest)));
        }
        Ok(first)
    }

    fn parse_label_filter_primary(&mut self) -> Result<LabelFilter, LogqlError> {
        if self.is_punct("(") {
            self.bump();
            let inner = self.parse_label_filter_or()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        if !self.is_plain_ident_at(0) {
            return Err(self.unexpected(&["IDENTIFIER", "("]));
        }
        let name = self.expect_ident()?;
        let op_tok = self.peek().clone();
        let op = match &op_tok.kind {
            TokenKind::Punct(p) => *p,
            _ => "",
        };
        let cmp = match op {
            "=" | "==" => CmpOp::Eq,
            "!=" => CmpOp::Neq,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            "=~" | "!~" => {
                self.bump();
                let (value, tok) = self.expect_string()?;
                let op = if op == "=~" {
                    MatchOp::Re
                } else {
                    MatchOp::Nre
                };
                let m = Matcher { name, op, value };
                self.check_matcher_regex(&m, &tok)?;
                return Ok(LabelFilter::Matcher(m));
            }
            _ => return Err(self.unexpected(&["=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="])),
        };
        self.bump();
        let value_tok = self.peek().clone();
        let string_allowed = op == "=" || op == "!=";
        match &value_tok.kind {
            TokenKind::Str(s) if string_allowed => {
                let m = Matcher {
                    name,
                    op: if op == "=" { MatchOp::Eq } else { MatchOp::Neq },
                    value: s.clone(),
                };
                self.bump();
                Ok(LabelFilter::Matcher(m))
            }
            TokenKind::Ident(_) if string_allowed && self.is_word("ip") => {
                self.bump();
                self.expect_punct("(")?;
                let (pattern, str_tok) = self.expect_string()?;
                self.expect_punct(")")?;
                if let Err(e) = super::ip::IpMatcher::new(&pattern) {
                    return Err(self.error_at(&str_tok, e));
                }
                Ok(LabelFilter::Ip {
                    name,
                    negate: op == "!=",
                    pattern,
                })
            }
            TokenKind::Duration(ns) => {
                let value = *ns;
                self.bump();
                Ok(LabelFilter::Duration {
                    name,
                    op: cmp,
                    value,
                })
            }
            TokenKind::Bytes(b) => {
                let value = *b;
                self.bump();
                Ok(LabelFilter::Bytes {
                    name,
                    op: cmp,
                    value,
                })
            }
            TokenKind::Number(_) | TokenKind::Punct("+") | TokenKind::Punct("-") => {
                let value = self.parse_literal()?;
                Ok(LabelFilter::Number {
                    name,
                    op: cmp,
                    value,
                })
            }
            _ if string_allowed => Err(self.unexpected(&["STRING", "NUMBER", "DURATION", "BYTES"])),
            _ => Err(self.unexpected(&["NUMBER", "DURATION", "BYTES"])),
        }
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

fn is_function_name(word: &str) -> bool {
    RangeOp::from_name(word).is_some()
        || VectorOp::from_name(word).is_some()
        || matches!(word, "vector" | "bytes" | "duration" | "duration_seconds")
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Log(l) if l.stages.is_empty() => "*syntax.MatchersExpr",
        Expr::Log(_) => "*syntax.PipelineExpr",
        Expr::Metric(_) => "*syntax.SampleExpr",
    }
}

fn make_binary(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> Result<MetricExpr, LogqlError> {
    let name = op.as_str();
    let lhs = match lhs {
        Expr::Metric(m) => m,
        other => {
            return Err(LogqlError::new(format!(
                "unexpected type for left leg of binary operation ({name}): {}",
                describe(&other)
            )))
        }
    };
    let rhs = match rhs {
        Expr::Metric(m) => m,
        other => {
            return Err(LogqlError::new(format!(
                "unexpected type for right leg of binary operation ({name}): {}",
                describe(&other)
            )))
        }
    };
    if op.is_set_operator() {
        if let MetricExpr::Literal(v) = lhs {
            return Err(LogqlError::new(format!(
                "unexpected literal for left leg of logical/set binary operation ({name}): {v:.6}"
            )));
        }
        if let MetricExpr::Literal(v) = rhs {
            return Err(LogqlError::new(format!(
                "unexpected literal for right leg of logical/set binary operation ({name}): {v:.6}"
            )));
        }
    }
    // Loki folds `literal op literal` into one literal.
    if let (MetricExpr::Literal(a), MetricExpr::Literal(b)) = (&lhs, &rhs) {
        return Ok(MetricExpr::Literal(op.apply_scalar(*a, *b)));
    }
    Ok(MetricExpr::Binary(Box::new(BinaryExpr {
        op,
        lhs,
        rhs,
        return_bool,
        matching,
    })))
}

/// Loki's rules on which range aggregations take `unwrap` and grouping.
fn validate_range_aggregation(agg: &RangeAggregation) -> Result<(), String> {
    use RangeOp::*;
    let name = agg.op.name();
    if agg.grouping.is_some()
        && !matches!(
            agg.op,
            AvgOverTime
                | StddevOverTime
                | StdvarOverTime
                | QuantileOverTime
                | MaxOverTime
                | MinOverTime
                | FirstOverTime
                | LastOverTime
        )
    {
        return Err(format!("grouping not allowed for {name} aggregation"));
    }
    if agg.range.unwrap.is_some() {
        if matches!(agg.op, CountOverTime | BytesOverTime | BytesRate) {
            return Err(format!("invalid aggregation {name} with unwrap"));
        }
        return Ok(());
    }
    if matches!(
        agg.op,
        BytesOverTime | BytesRate | CountOverTime | Rate | AbsentOverTime
    ) {
        Ok(())
    } else {
        Err(format!("invalid aggregation {name} without unwrap"))
    }
}

/// Post-parse checks Loki runs in `ParseExpr`.
fn validate(expr: &Expr) -> Result<(), LogqlError> {
    for log in expr.log_exprs() {
        if !log.matchers.iter().any(|m| !m.matches_empty()) {
            return Err(LogqlError::new(EMPTY_COMPATIBLE));
        }
    }
    Ok(())
}
