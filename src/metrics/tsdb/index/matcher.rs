//! Label matchers (`name="v"`, `!=`, `=~`, `!~`) with Prometheus semantics.
//!
//! Regexes are fully anchored and `.` matches newlines too, as in Prometheus 3: the pattern
//! is compiled as `^(?s:…)$`, after rewriting the RE2 constructs the `regex` crate reads
//! differently (the `re2` module lists them).
//!
//! Most patterns seen in practice never reach the regex engine. A pattern made only of
//! literal characters and `.*` / `.+` is matched by string operations (`foo`, `foo.*`,
//! `.*foo`, `.*foo.*`, `.*`, `.+`, `.+-server`, …), and an alternation of literals (`a|b|c`,
//! optionally in one group) becomes a sorted set that the index looks up value by value.

use std::fmt;

use super::re2;
use super::IndexError;

/// Compiled regexes may use this much memory (RE2 has no comparable limit; large
/// alternations from dashboards are common).
const REGEX_SIZE_LIMIT: usize = 64 * 1024 * 1024;

/// The four label matching operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl MatchOp {
    /// Whether the operator selects values its pattern does *not* match (`!=`, `!~`).
    pub fn is_negative(self) -> bool {
        matches!(self, MatchOp::NotEqual | MatchOp::RegexNoMatch)
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::RegexMatch | MatchOp::RegexNoMatch)
    }

    /// The PromQL spelling: `=`, `!=`, `=~`, `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a matcher's pattern accepts, before the operator's negation.
#[derive(Debug, Clone)]
enum Pattern {
    /// Exactly these values; sorted, without duplicates.
    Set(Box<[String]>),
    /// Every string (`.*`).
    Any,
    /// Every non-empty string (`.+`).
    NonEmpty,
    Prefix(String),
    Suffix(String),
    Contains(String),
    Glob(Glob),
    Regex(regex::Regex),
}

/// Literal parts separated by wildcard gaps: `parts[0] .{gaps[0],} parts[1] … parts[n]`,
/// where a gap is a run of `.*` / `.+` needing at least that many characters.
#[derive(Debug, Clone)]
struct Glob {
    parts: Vec<String>,
    gaps: Vec<usize>,
}

/// A label matcher. Construct with [`Matcher::new`], which validates and compiles the
/// pattern; the fields are read-only so the compiled form cannot drift from them.
#[derive(Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    pattern: Pattern,
    matches_empty: bool,
}

impl Matcher {
    /// Builds a matcher; regex values are compiled fully anchored.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, IndexError> {
        let name = name.into();
        let value = value.into();
        let pattern = if op.is_regex() {
            compile_regex(&value).map_err(|reason| IndexError::InvalidRegex {
                matcher: display_matcher(&name, op, &value),
                reason,
            })?
        } else {
            Pattern::Set(vec![value.clone()].into_boxed_slice())
        };
        let matches_empty = op.is_negative() != pattern_matches(&pattern, "");
        Ok(Matcher {
            name,
            op,
            value,
            pattern,
            matches_empty,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn op(&self) -> MatchOp {
        self.op
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value satisfies the matcher. A missing label has the value `""`.
    #[inline]
    pub fn matches(&self, value: &str) -> bool {
        self.op.is_negative() != pattern_matches(&self.pattern, value)
    }

    /// Whether the matcher accepts `""`, i.e. also selects series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// The exact, finite set of values the matcher accepts, sorted, when there is one:
    /// `name="v"` gives `["v"]`, `name=~"a|b"` gives `["a", "b"]`. `None` for negative
    /// operators (they accept all but a set, see [`Matcher::pattern_set`]) and for patterns
    /// that are not plain alternations of literals.
    pub fn set_matches(&self) -> Option<&[String]> {
        if self.op.is_negative() {
            return None;
        }
        self.pattern_set()
    }

    /// The finite set of values the pattern matches before negation: for `!=` and `!~`
    /// those are the values the matcher *rejects*.
    pub fn pattern_set(&self) -> Option<&[String]> {
        match &self.pattern {
            Pattern::Set(values) => Some(values),
            _ => None,
        }
    }

    /// Whether the pattern matches every string (`.*`): then `=~` accepts everything and
    /// `!~` nothing.
    pub fn pattern_matches_everything(&self) -> bool {
        matches!(self.pattern, Pattern::Any)
    }

    /// Whether `matches` runs the regex engine (no literal or wildcard fast path applies).
    pub fn uses_regex_engine(&self) -> bool {
        matches!(self.pattern, Pattern::Regex(_))
    }
}

/// True when every matcher accepts the empty string, so that the selector is not limited to
/// series carrying some label: PromQL rejects such selectors (`{}`, `{job=~".*"}`, …) with
/// "vector selector must contain at least one non-empty matcher". The index itself selects
/// with any matchers, including none.
pub fn matches_all_series(matchers: &[Matcher]) -> bool {
    matchers.iter().all(Matcher::matches_empty)
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_matcher(&self.name, self.op, &self.value))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_matcher(&self.name, self.op, &self.value))
    }
}

/// `name=~"value"` with the value quoted as in PromQL.
fn display_matcher(name: &str, op: MatchOp, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 6);
    out.push_str(name);
    out.push_str(op.as_str());
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[inline]
fn pattern_matches(pattern: &Pattern, value: &str) -> bool {
    match pattern {
        Pattern::Set(values) => match values.as_ref() {
            [only] => only == value,
            many => many
                .binary_search_by(|candidate| candidate.as_str().cmp(value))
                .is_ok(),
        },
        Pattern::Any => true,
        Pattern::NonEmpty => !value.is_empty(),
        Pattern::Prefix(prefix) => value.starts_with(prefix.as_str()),
        Pattern::Suffix(suffix) => value.ends_with(suffix.as_str()),
        Pattern::Contains(needle) => value.contains(needle.as_str()),
        Pattern::Glob(glob) => glob.matches(value),
        Pattern::Regex(regex) => regex.is_match(value),
    }
}

fn compile_regex(pattern: &str) -> Result<Pattern, String> {
    if let Some(fast) = analyze(pattern) {
        return Ok(fast);
    }
    let translated = re2::translate(pattern)?;
    regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
        .octal(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Pattern::Regex)
        .map_err(|error| regex_error_reason(&error))
}

/// The last line of a `regex` error ("error: unclosed group"), without the echo of our
/// rewritten pattern that precedes it.
fn regex_error_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let reason = last.trim().trim_start_matches("error: ");
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid regex".to_owned(),
    }
}

impl Glob {
    fn matches(&self, value: &str) -> bool {
        let (Some(first), Some(last)) = (self.parts.first(), self.parts.last()) else {
            return false;
        };
        if !value.starts_with(first.as_str()) || !value.ends_with(last.as_str()) {
            return false;
        }
        let end = value.len() - last.len();
        let mut position = first.len();
        if end < position {
            return false;
        }
        // Place each middle part at its leftmost possible position: that leaves the most
        // room for the parts after it, so if any placement works this one does.
        let middle = &self.parts[1..self.parts.len() - 1];
        for (part, &gap) in middle.iter().zip(&self.gaps) {
            let Some(after_gap) = skip_chars(value, position, end, gap) else {
                return false;
            };
            let Some(offset) = value[after_gap..end].find(part.as_str()) else {
                return false;
            };
            position = after_gap + offset + part.len();
        }
        let last_gap = self.gaps.last().copied().unwrap_or(0);
        skip_chars(value, position, end, last_gap).is_some()
    }
}

/// The byte position `count` characters after `from`, if that is not beyond `end`.
fn skip_chars(value: &str, from: usize, end: usize, count: usize) -> Option<usize> {
    if count == 0 {
        return Some(from);
    }
    let mut chars = value[from..end].char_indices();
    chars
        .nth(count - 1)
        .map(|(offset, c)| from + offset + c.len_utf8())
}

/// One element of a fast-path pattern.
#[derive(Debug, PartialEq)]
enum Token {
    Literal(char),
    /// `.*` (0) or `.+` (1), lazy or not: both accept the same strings.
    Wildcard(usize),
}

/// Recognizes the patterns that need no regex engine. `None` means "compile a regex"; it
/// never means the pattern is invalid.
fn analyze(pattern: &str) -> Option<Pattern> {
    let body = strip_group(pattern).unwrap_or(pattern);
    let alternatives = split_top_level_alternation(body)?;
    if alternatives.len() > 1 {
        let mut values = Vec::with_capacity(alternatives.len());
        for alternative in alternatives {
            values.push(parse_literal(alternative)?);
        }
        values.sort_unstable();
        values.dedup();
        return Some(Pattern::Set(values.into_boxed_slice()));
    }
    let tokens = tokenize(alternatives[0])?;
    let mut parts = vec![String::new()];
    let mut gaps = Vec::new();
    let mut last_was_wildcard = false;
    for token in tokens {
        match token {
            Token::Literal(c) => {
                if last_was_wildcard {
                    parts.push(String::new());
                }
                if let Some(part) = parts.last_mut() {
                    part.push(c);
                }
                last_was_wildcard = false;
            }
            Token::Wildcard(min) => {
                if last_was_wildcard {
                    if let Some(gap) = gaps.last_mut() {
                        *gap += min;
                    }
                } else {
                    gaps.push(min);
                }
                last_was_wildcard = true;
            }
        }
    }
    if last_was_wildcard {
        parts.push(String::new());
    }
    debug_assert_eq!(parts.len(), gaps.len() + 1);
    Some(classify(parts, gaps))
}

fn classify(mut parts: Vec<String>, gaps: Vec<usize>) -> Pattern {
    let empty = |s: &String| s.is_empty();
    match (parts.as_slice(), gaps.as_slice()) {
        ([only], []) => Pattern::Set(vec![only.clone()].into_boxed_slice()),
        ([a, b], [0]) if empty(a) && empty(b) => Pattern::Any,
        ([a, b], [1]) if empty(a) && empty(b) => Pattern::NonEmpty,
        ([_, b], [0]) if empty(b) => Pattern::Prefix(parts.swap_remove(0)),
        ([a, _], [0]) if empty(a) => Pattern::Suffix(parts.swap_remove(1)),
        ([a, _, c], [0, 0]) if empty(a) && empty(c) => Pattern::Contains(parts.swap_remove(1)),
        _ => Pattern::Glob(Glob { parts, gaps }),
    }
}

/// `(body)` or `(?:body)` → `body`, when the group spans the whole pattern and `body` has no
/// further parentheses (nothing else could be a fast path anyway).
fn strip_group(pattern: &str) -> Option<&str> {
    let inner = pattern.strip_suffix(')')?;
    let inner = inner
        .strip_prefix("(?:")
        .or_else(|| inner.strip_prefix('('))?;
    if inner.starts_with('?') || inner.contains(['(', ')']) {
        return None;
    }
    Some(inner)
}

/// Splits at `|` outside escapes. `None` if the pattern has groups or classes, whose `|`
/// would not be top-level.
fn split_top_level_alternation(pattern: &str) -> Option<Vec<&str>> {
    let mut alternatives = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, c) in pattern.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '(' | ')' | '[' | ']' => return None,
            '|' => {
                alternatives.push(&pattern[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    alternatives.push(&pattern[start..]);
    Some(alternatives)
}

/// The value of a pattern made only of literal characters.
fn parse_literal(pattern: &str) -> Option<String> {
    let mut value = String::with_capacity(pattern.len());
    for token in tokenize(pattern)? {
        match token {
            Token::Literal(c) => value.push(c),
            Token::Wildcard(_) => return None,
        }
    }
    Some(value)
}

/// Characters with a meaning in RE2 outside classes; any other character stands for itself.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
    )
}

/// Literal characters (plain, or escaped ASCII punctuation) and `.*` / `.+` wildcards;
/// `None` for anything else.
fn tokenize(pattern: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars.next()?;
                if !escaped.is_ascii() || escaped.is_ascii_alphanumeric() {
                    return None;
                }
                tokens.push(Token::Literal(escaped));
            }
            '.' => {
                let min = match chars.next()? {
                    '*' => 0,
                    '+' => 1,
                    _ => return None,
                };
                if chars.peek() == Some(&'?') {
                    chars.next();
                }
                if matches!(chars.peek(), Some('*' | '+' | '?' | '{')) {
                    return None;
                }
                tokens.push(Token::Wildcard(min));
            }
            c if is_meta(c) => return None,
            c => tokens.push(Token::Literal(c)),
        }
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matcher(op: MatchOp, value: &str) -> Matcher {
        Matcher::new(op, "l", value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn re(value: &str) -> Matcher {
        matcher(MatchOp::RegexMatch, value)
    }

    fn reference_regex(pattern: &str) -> regex::Regex {
        let translated = re2::translate(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
            .octal(true)
            .build()
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn fast_paths_are_recognized() {
        let kind = |value: &str| match re(value).pattern {
            Pattern::Set(_) => "set",
            Pattern::Any => "any",
            Pattern::NonEmpty => "nonempty",
            Pattern::Prefix(_) => "prefix",
            Pattern::Suffix(_) => "suffix",
            Pattern::Contains(_) => "contains",
            Pattern::Glob(_) => "glob",
            Pattern::Regex(_) => "regex",
        };
        assert_eq!(kind("foo"), "set");
        assert_eq!(kind("a|b|c"), "set");
        assert_eq!(kind("(a|b)"), "set");
        assert_eq!(kind("(?:a|b|)"), "set");
        assert_eq!(kind(r"10\.0\.0\.1:9100"), "set");
        assert_eq!(kind(""), "set");
        assert_eq!(kind(".*"), "any");
        assert_eq!(kind(".*?"), "any");
        assert_eq!(kind(".*.*"), "any");
        assert_eq!(kind(".+"), "nonempty");
        assert_eq!(kind("foo.*"), "prefix");
        assert_eq!(kind(".*foo"), "suffix");
        assert_eq!(kind(".*foo.*"), "contains");
        assert_eq!(kind(".+-server"), "glob");
        assert_eq!(kind("api-.+"), "glob");
        assert_eq!(kind("a.*b.*c"), "glob");
        assert_eq!(kind("(a|b).*"), "regex");
        assert_eq!(kind("a|b.*"), "regex");
        assert_eq!(kind("(?i)foo"), "regex");
        assert_eq!(kind("fo+"), "regex");
        assert_eq!(kind("[ab]"), "regex");
        assert_eq!(kind(r"\d"), "regex");
        assert_eq!(kind("(a|b)+"), "regex");
    }

    #[test]
    fn operators_and_empty_values() {
        let eq = matcher(MatchOp::Equal, "a.b");
        assert!(eq.matches("a.b") && !eq.matches("axb") && !eq.matches_empty());
        let eq_empty = matcher(MatchOp::Equal, "");
        assert!(eq_empty.matches("") && eq_empty.matches_empty() && !eq_empty.matches("x"));
        let ne = matcher(MatchOp::NotEqual, "bar");
        assert!(ne.matches("") && ne.matches("baz") && !ne.matches("bar") && ne.matches_empty());
        let ne_empty = matcher(MatchOp::NotEqual, "");
        assert!(!ne_empty.matches_empty() && ne_empty.matches("x"));
        let nre = matcher(MatchOp::RegexNoMatch, "a|b");
        assert!(nre.matches("c") && !nre.matches("a") && nre.matches_empty());
        assert_eq!(nre.set_matches(), None);
        assert_eq!(
            nre.pattern_set(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert!(re("|x").matches_empty());
        assert!(!re(".+").matches_empty());
        assert!(re(".*").matches_empty() && re(".*").pattern_matches_everything());
        assert!(!matcher(MatchOp::RegexNoMatch, ".*").matches("anything"));
    }

    #[test]
    fn set_matches_of_positive_matchers() {
        assert_eq!(
            matcher(MatchOp::Equal, "x").set_matches(),
            Some(&["x".to_owned()][..])
        );
        let set = re("c|a|b|a");
        assert_eq!(
            set.set_matches(),
            Some(&["a".to_owned(), "b".to_owned(), "c".to_owned()][..])
        );
        assert!(set.matches("b") && !set.matches("ab") && !set.matches(""));
        assert_eq!(re("a.*").set_matches(), None);
        assert_eq!(re(r"a\|b").set_matches(), Some(&["a|b".to_owned()][..]));
    }

    #[test]
    fn anchoring_newlines_and_unicode() {
        assert!(!re("foo").matches("xfoo") && !re("foo").matches("foox"));
        assert!(re("a|b").matches("a") && !re("a|b").matches("ab"));
        assert!(!re("fo[o]").matches("fooo"));
        assert!(re(".*").matches("line1\nline2"));
        assert!(re("a.b").matches("a\nb"));
        assert!(re("ü.*").matches("über"));
        assert!(re(".+ß").matches("Straß") && !re(".+ß").matches("ß"));
        assert!(re("..").matches("日本") && !re("...").matches("日本"));
        assert!(
            re("(?i)straße").matches("STRASSE")
                == reference_regex("(?i)straße").is_match("STRASSE")
        );
        assert!(re(r"\.+").matches("..") && !re(r"\.+").matches("ab"));
        assert!(re("(?i:PRO).*").matches("production"));
        assert!(re(".*(?i:DUC).*").matches("production"));
    }

    #[test]
    fn glob_minimum_gaps() {
        assert!(re("a.+b").matches("axb") && !re("a.+b").matches("ab"));
        assert!(re("a.+.+b").matches("axyb") && !re("a.+.+b").matches("axb"));
        assert!(re("a.*a").matches("aa") && !re("a.*a").matches("a"));
        assert!(re(".*ab.*ab.*").matches("abab") && !re(".*ab.*ab.*").matches("aba"));
        assert!(re(".+é.+").matches("xéy") && !re(".+é.+").matches("éy"));
    }

    #[test]
    fn invalid_regex_names_the_matcher() {
        let error = Matcher::new(MatchOp::RegexMatch, "job", "(api").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("invalid regex in matcher job=~\"(api\": "),
            "{message}"
        );
        assert!(message.chars().next().is_some_and(char::is_lowercase));
        assert!(Matcher::new(MatchOp::RegexNoMatch, "job", "a{1001}").is_err());
        // `=` never compiles its value.
        assert!(Matcher::new(MatchOp::Equal, "job", "(api").is_ok());
    }

    #[test]
    fn matches_all_series_helper() {
        assert!(matches_all_series(&[]));
        assert!(matches_all_series(&[
            re(".*"),
            matcher(MatchOp::NotEqual, "x")
        ]));
        assert!(!matches_all_series(&[re(".*"), re(".+")]));
        assert!(!matches_all_series(&[matcher(MatchOp::Equal, "x")]));
    }

    #[test]
    fn display_quotes_the_value() {
        let m = Matcher::new(MatchOp::RegexNoMatch, "path", "a\"b\\.c").unwrap();
        assert_eq!(m.to_string(), r#"path!~"a\"b\\.c""#);
        assert!(m.matches("a\"bxc") && !m.matches("a\"b.c"));
        assert_eq!(m, m.clone());
    }

    /// Patterns built from pieces that exercise the fast paths and their boundaries.
    fn pattern_strategy() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("a"),
            Just("b"),
            Just("ab"),
            Just("é"),
            Just(".*"),
            Just(".+"),
            Just(".*?"),
            Just("\\."),
            Just("."),
            Just("|"),
            Just("("),
            Just(")"),
            Just("(?:"),
            Just("\\|"),
            Just("a+"),
            Just("[ab]"),
            Just("\n"),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn fast_paths_agree_with_the_regex_engine(
            pattern in pattern_strategy(),
            values in proptest::collection::vec("[ab.é|\n]{0,6}", 1..20),
        ) {
            let Some(fast) = analyze(&pattern) else { return Ok(()); };
            let reference = reference_regex(&pattern);
            for value in &values {
                prop_assert_eq!(
                    pattern_matches(&fast, value),
                    reference.is_match(value),
                    "pattern {:?} value {:?} fast path {:?}", pattern, value, fast
                );
            }
        }

        #[test]
        fn negation_is_the_complement(pattern in pattern_strategy(), value in "[ab.é]{0,5}") {
            let (Ok(positive), Ok(negative)) = (
                Matcher::new(MatchOp::RegexMatch, "l", pattern.clone()),
                Matcher::new(MatchOp::RegexNoMatch, "l", pattern),
            ) else { return Ok(()); };
            prop_assert_ne!(positive.matches(&value), negative.matches(&value));
            prop_assert_eq!(positive.matches_empty(), positive.matches(""));
        }
    }
}
