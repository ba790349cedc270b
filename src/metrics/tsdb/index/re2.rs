//! Rewrites a pattern written for RE2 (the syntax Prometheus documents and Go implements)
//! into an equivalent pattern for the `regex` crate.
//!
//! The two syntaxes agree on almost everything; these are the differences handled here:
//!
//! * Perl classes are ASCII-only in RE2 (`\d` is `[0-9]`, `\w` is `[0-9A-Za-z_]`, `\s` is
//!   `[\t\n\f\r ]`) but Unicode-aware in `regex`: they are spelled out explicitly, inside
//!   and outside bracket classes. `\b` and `\B` become the ASCII word boundaries
//!   `(?-u:\b)`, `(?-u:\B)`.
//! * `\<` and `\>` are escaped literals in RE2 but word-boundary assertions in `regex`;
//!   every escaped punctuation character is re-emitted as a plain literal.
//! * `\Q…\E` literal quoting exists only in RE2: its text is escaped.
//! * `\C` (any byte) exists only in RE2; on UTF-8 text it is taken as any character.
//! * A `{` that does not start a valid repetition (`{n}`, `{n,}`, `{n,m}`) is a literal in
//!   RE2 and an error in `regex`: it is escaped. RE2 rejects repetition counts above 1000,
//!   and so do we.
//! * Inside bracket classes `regex` treats `[` as a nested class and `&&`, `~~`, `--` as set
//!   operators; RE2 treats them as literals (except `[:name:]`), so they are escaped.
//! * RE2 knows only the flags `i`, `m`, `s`, `U`; the extra `regex` flags (`x`, `R`, `u`)
//!   are rejected as RE2 rejects them.
//! * A lone `\1`…`\9` (a backreference) is an error in both; `\0`, `\12`, … are octal
//!   escapes, for which the caller enables `regex`'s octal support.
//!
//! Left as is, because the difference does not change which strings match or is only in
//! what is rejected: `regex` accepts nested repetitions (`a**`) and some escapes RE2
//! rejects; Unicode tables may differ by Unicode version; case folding is simple case
//! folding in both.

/// Translates `pattern`; the error names what RE2 would reject.
pub(crate) fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i = translate_escape(&chars, i, &mut out, false)?,
            '[' => i = translate_class(&chars, i, &mut out)?,
            '{' => match repetition_end(&chars, i)? {
                Some(end) => {
                    out.extend(&chars[i..end]);
                    i = end;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                check_group_flags(&chars, i)?;
                out.push_str("(?");
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Pushes `c` so that it is a literal both inside and outside a bracket class.
fn push_literal(out: &mut String, c: char) {
    if c.is_alphanumeric() || !c.is_ascii() || c == ' ' || c == '_' {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

/// `chars[start] == '\\'`. Returns the index after the escape.
fn translate_escape(
    chars: &[char],
    start: usize,
    out: &mut String,
    in_class: bool,
) -> Result<usize, String> {
    let Some(&next) = chars.get(start + 1) else {
        return Err("trailing backslash at end of expression".to_owned());
    };
    let after = start + 2;
    let replacement = match (next, in_class) {
        ('d', true) => "0-9",
        ('d', false) => "[0-9]",
        ('D', _) => "[^0-9]",
        ('w', true) => "0-9A-Za-z_",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', _) => "[^0-9A-Za-z_]",
        ('s', true) => "\\t\\n\\f\\r ",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', _) => "[^\\t\\n\\f\\r ]",
        ('b', false) => "(?-u:\\b)",
        ('B', false) => "(?-u:\\B)",
        ('C', false) => "(?s:.)",
        ('Q', false) => {
            let mut i = after;
            while i < chars.len() {
                if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                    return Ok(i + 2);
                }
                push_literal(out, chars[i]);
                i += 1;
            }
            return Ok(i);
        }
        ('p' | 'P' | 'x', _) if chars.get(after) == Some(&'{') => {
            let Some(close) = chars[after..].iter().position(|&c| c == '}') else {
                return Err(format!("invalid escape sequence: \\{next}{{"));
            };
            out.push('\\');
            out.extend(&chars[start + 1..=after + close]);
            return Ok(after + close + 1);
        }
        ('1'..='9', _) => {
            let octal_follows = chars.get(after).is_some_and(|c| ('0'..='7').contains(c));
            if next > '7' || !octal_follows {
                return Err(format!("invalid escape sequence: \\{next}"));
            }
            out.push('\\');
            out.push(next);
            return Ok(after);
        }
        (c, _) if c.is_ascii() && !c.is_ascii_alphanumeric() => {
            push_literal(out, c);
            return Ok(after);
        }
        (c, _) => {
            // Letters with the same meaning in both syntaxes (\n, \t, \z, \A, \pL, \x41, …)
            // and ones both reject.
            out.push('\\');
            out.push(c);
            return Ok(after);
        }
    };
    out.push_str(replacement);
    Ok(after)
}

/// `chars[start] == '['`. Returns the index after the closing `]`.
fn translate_class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // A `]` right after the opening is a literal in both syntaxes.
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    let mut previous: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                // POSIX class `[:alpha:]` / `[:^alpha:]`: the same in both syntaxes.
                let Some(end) = find_posix_class_end(chars, i + 2) else {
                    out.push_str("\\[");
                    i += 1;
                    previous = Some('[');
                    continue;
                };
                out.extend(&chars[i..end]);
                i = end;
                previous = None;
                continue;
            }
            '\\' => {
                i = translate_escape(chars, i, out, true)?;
                previous = None;
                continue;
            }
            '[' | '&' | '~' => out.push_str(&format!("\\{c}")),
            '-' if previous == Some('-') => out.push_str("\\-"),
            _ => out.push(c),
        }
        previous = Some(c);
        i += 1;
    }
    Err("missing closing ]".to_owned())
}

/// For `[:name:]` starting at `chars[from - 2]`, the index after `:]`.
fn find_posix_class_end(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    let name_start = i;
    while i < chars.len() && chars[i].is_ascii_lowercase() {
        i += 1;
    }
    let closes = chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&']');
    (closes && i > name_start).then_some(i + 2)
}

/// For `{` at `start`: `Some(end)` when `chars[start..end]` is a repetition `{n}`, `{n,}`
/// or `{n,m}`; `None` when the brace is a literal. Errors on counts RE2 rejects.
fn repetition_end(chars: &[char], start: usize) -> Result<Option<usize>, String> {
    let mut i = start + 1;
    let (min, next) = read_number(chars, i);
    let Some(min) = min else {
        return Ok(None);
    };
    i = next;
    let mut max = Some(min);
    if chars.get(i) == Some(&',') {
        let (upper, next) = read_number(chars, i + 1);
        max = upper;
        i = next;
    }
    if chars.get(i) != Some(&'}') {
        return Ok(None);
    }
    let text: String = chars[start..=i].iter().collect();
    if min > 1000 || max.is_some_and(|max| max > 1000 || max < min) {
        return Err(format!("invalid repeat count: {text}"));
    }
    Ok(Some(i + 1))
}

fn read_number(chars: &[char], start: usize) -> (Option<u64>, usize) {
    let mut i = start;
    let mut value: u64 = 0;
    while let Some(digit) = chars.get(i).and_then(|c| c.to_digit(10)) {
        value = value.saturating_mul(10).saturating_add(digit as u64);
        i += 1;
    }
    ((i > start).then_some(value), i)
}

/// Rejects group flags RE2 does not know. `chars[start..start + 2] == "(?"`.
fn check_group_flags(chars: &[char], start: usize) -> Result<(), String> {
    let mut i = start + 2;
    match chars.get(i) {
        // Named groups `(?P<name>…)` and `(?<name>…)`.
        Some('P') | Some('<') => return Ok(()),
        _ => {}
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ':' | ')' => return Ok(()),
            'i' | 'm' | 's' | 'U' | '-' => i += 1,
            _ => break,
        }
    }
    let end = (i + 1).min(chars.len());
    let text: String = chars[start..end].iter().collect();
    Err(format!("invalid or unsupported perl syntax: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(pattern: &str) -> Result<regex::Regex, String> {
        let translated = translate(pattern)?;
        regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
            .octal(true)
            .build()
            .map_err(|e| e.to_string())
    }

    fn accepts(pattern: &str, value: &str) -> bool {
        compile(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .is_match(value)
    }

    #[test]
    fn perl_classes_are_ascii_only() {
        assert!(accepts(r"\d+", "0123"));
        assert!(!accepts(r"\d", "٣")); // Arabic-Indic digit three
        assert!(accepts(r"\D", "٣"));
        assert!(!accepts(r"\w", "é"));
        assert!(accepts(r"\W", "é"));
        assert!(!accepts(r"\s", "\u{a0}"));
        assert!(!accepts(r"\s", "\u{b}")); // vertical tab is not in RE2's \s
        assert!(accepts(r"\S", "\u{b}"));
        assert!(accepts(r"[\d_]+", "1_2"));
        assert!(!accepts(r"[\d_]", "٣"));
        assert!(accepts(r"[^\d]", "٣"));
        assert!(accepts(r"[\D]", "x"));
        assert!(!accepts(r"[\D]", "5"));
        assert!(accepts(r"[\s]", "\t"));
        assert!(accepts(r"a\b", "a"));
    }

    #[test]
    fn escaped_punctuation_is_literal() {
        assert!(accepts(r"\<a\>", "<a>"));
        assert!(accepts(r"a\.b", "a.b"));
        assert!(!accepts(r"a\.b", "axb"));
        assert!(accepts(r"\Qa.b*\E", "a.b*"));
        assert!(!accepts(r"\Qa.b\E", "axb"));
        assert!(accepts(r"\Qopen", "open"));
        assert!(accepts(r"\p{Greek}+", "αβ"));
        assert!(accepts(r"\x{41}", "A"));
        assert!(accepts(r"\012", "\n"));
        assert!(accepts(r"\ \/\-", " /-"));
    }

    #[test]
    fn braces_and_classes_like_re2() {
        assert!(accepts(r"a{,3}", "a{,3}"));
        assert!(accepts(r"a{", "a{"));
        assert!(accepts(r"a}", "a}"));
        assert!(accepts(r"a{2}", "aa"));
        assert!(accepts(r"a{1,2}", "aa"));
        assert!(accepts(r"a{2,}", "aaa"));
        assert!(accepts(r"[a&&b]", "&"));
        assert!(accepts(r"[a~~b]", "~"));
        assert!(accepts(r"[[a]", "["));
        assert!(accepts(r"[]a]", "]"));
        assert!(accepts(r"[^]a]", "b"));
        assert!(accepts(r"[[:alpha:]]", "q"));
        assert!(accepts(r"[[:^digit:]]", "q"));
        assert!(accepts(r"[+--]", ","));
        assert!(accepts(r"(?i)abc", "ABC"));
        assert!(accepts(r"(?P<x>a)(?<y>b)", "ab"));
        assert!(accepts(r"(?i:a)(?-i:b)", "Ab"));
        assert!(accepts(r".", "\n"));
    }

    #[test]
    fn rejects_what_re2_rejects() {
        for pattern in [
            r"a{1001}", r"a{2,1}", r"\1", r"\8", r"(?x)a", r"[a", r"a\", r"(", r"*",
        ] {
            assert!(compile(pattern).is_err(), "{pattern} should be rejected");
        }
    }
}
