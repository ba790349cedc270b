//! Turns query text into tokens. Follows Loki's lexer where it decides meaning: numbers glued
//! to a unit become durations or byte sizes, `[...]` is always a range, `#` starts a comment,
//! `--strict`/`--keep-empty` are parser flags. Keywords stay identifiers here; the parser
//! decides (case-insensitively) where a word is a keyword, as Loki's lexer does by peeking.

use super::error::LogqlError;
use super::gostr::{unquote_double, unquote_raw};
use super::units::{parse_bytes, parse_duration_literal, parse_prom_duration};

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A name: label, function or keyword (the original spelling).
    Ident(String),
    /// A quoted string, already unquoted.
    Str(String),
    /// A number literal, as written.
    Number(String),
    /// A duration literal such as `10s` or `1h30m`, in nanoseconds.
    Duration(i64),
    /// A byte size literal such as `1KB` or `2.5KiB`.
    Bytes(u64),
    /// A range `[5m]`, in nanoseconds.
    Range(i64),
    /// `--strict` or `--keep-empty`.
    Flag(String),
    /// Operators and punctuation.
    Punct(&'static str),
    /// A character that starts no token.
    Unknown(char),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// Byte offset of the token's first character.
    pub pos: usize,
}

/// Two-character operators, tried before single characters.
const PUNCT2: [&str; 10] = ["!=", "=~", "!~", "!>", "|=", "|~", "|>", "==", ">=", "<="];
const PUNCT1: [&str; 17] = [
    "{", "}", "(", ")", ",", ".", "=", "|", ">", "<", "+", "-", "*", "/", "%", "^", "]",
];

pub fn tokenize(input: &str) -> Result<Vec<Token>, LogqlError> {
    let mut lexer = Lexer { input, pos: 0 };
    let mut out = Vec::new();
    loop {
        let tok = lexer.next_token()?;
        let done = tok.kind == TokenKind::Eof;
        out.push(tok);
        if done {
            return Ok(out);
        }
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> LogqlError {
        LogqlError::at(self.input, pos, msg)
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with('#') {
                let end = trimmed.find('\n').unwrap_or(trimmed.len());
                self.pos += end;
            } else {
                return;
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, LogqlError> {
        self.skip_space_and_comments();
        let start = self.pos;
        let tok = |kind| Token { kind, pos: start };
        let Some(c) = self.peek_char() else {
            return Ok(tok(TokenKind::Eof));
        };
        match c {
            '"' => self.lex_double_quoted().map(|s| tok(TokenKind::Str(s))),
            '`' => self.lex_raw().map(|s| tok(TokenKind::Str(s))),
            '[' => self.lex_range().map(|ns| tok(TokenKind::Range(ns))),
            '0'..='9' => Ok(tok(self.lex_number())),
            '.' if self.rest()[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                Ok(tok(self.lex_number()))
            }
            '-' => Ok(tok(self.lex_minus())),
            c if c == '_' || c.is_alphabetic() => {
                let len = self
                    .rest()
                    .find(|c: char| !(c == '_' || c.is_alphanumeric()))
                    .unwrap_or(self.rest().len());
                let ident = self.rest()[..len].to_string();
                self.pos += len;
                Ok(tok(TokenKind::Ident(ident)))
            }
            _ => {
                for p in PUNCT2 {
                    if self.rest().starts_with(p) {
                        self.pos += 2;
                        return Ok(tok(TokenKind::Punct(p)));
                    }
                }
                for p in PUNCT1 {
                    if self.rest().starts_with(p) {
                        self.pos += 1;
                        return Ok(tok(TokenKind::Punct(p)));
                    }
                }
                self.pos += c.len_utf8();
                Ok(tok(TokenKind::Unknown(c)))
            }
        }
    }

    fn lex_double_quoted(&mut self) -> Result<String, LogqlError> {
        let start = self.pos;
        let bytes = self.input.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let body = &self.input[start + 1..i];
                    self.pos = i + 1;
                    return unquote_double(body).map_err(|m| self.err(start, m));
                }
                b'\n' => break,
                _ => i += 1,
            }
        }
        Err(self.err(start, "literal not terminated"))
    }

    fn lex_raw(&mut self) -> Result<String, LogqlError> {
        let start = self.pos;
        match self.input[start + 1..].find('`') {
            Some(len) => {
                self.pos = start + 1 + len + 1;
                Ok(unquote_raw(&self.input[start + 1..start + 1 + len]))
            }
            None => Err(self.err(start, "literal not terminated")),
        }
    }

    /// `[5m]`: the text up to `]` must be a Prometheus duration.
    fn lex_range(&mut self) -> Result<i64, LogqlError> {
        let start = self.pos;
        match self.input[start + 1..].find(']') {
            Some(len) => {
                let body = &self.input[start + 1..start + 1 + len];
                self.pos = start + len + 2;
                parse_prom_duration(body).map_err(|m| self.err(start, m))
            }
            None => Err(self.err(start, "missing closing ']' in duration")),
        }
    }

    /// A number, possibly glued to a duration or byte-size unit (`5m`, `1.5KiB`).
    fn lex_number(&mut self) -> TokenKind {
        let rest = self.rest();
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        // An exponent only when digits follow, so `2e` is not swallowed.
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_digit() {
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
            }
        }
        let number = &rest[..i];
        if let Some((ns, len)) = self.try_unit(number, i, is_duration_char, |s| {
            parse_duration_literal(s).ok()
        }) {
            self.pos += len;
            return TokenKind::Duration(ns);
        }
        if let Some((bytes, len)) = self.try_unit(number, i, is_bytes_char, |s| parse_bytes(s).ok())
        {
            self.pos += len;
            return TokenKind::Bytes(bytes);
        }
        self.pos += i;
        TokenKind::Number(number.to_string())
    }

    /// Extends `number` (ending at `num_len`) with the unit characters that follow and
    /// parses the whole; returns the value and total length on success.
    fn try_unit<T>(
        &self,
        number: &str,
        num_len: usize,
        unit_char: fn(char) -> bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<(T, usize)> {
        let rest = self.rest();
        let tail = &rest[num_len..];
        let ext = tail
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || unit_char(c)))
            .unwrap_or(tail.len());
        if ext == 0 {
            return None;
        }
        let text = format!("{number}{}", &tail[..ext]);
        parse(&text).map(|v| (v, num_len + ext))
    }

    /// `-`: a parser flag (`--strict`), a negative duration (`-5m`) or the minus operator.
    fn lex_minus(&mut self) -> TokenKind {
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix("--") {
            let len = body
                .find(|c: char| !(c.is_alphabetic() || c == '-'))
                .map_or(rest.len(), |l| l + 2);
            let flag = &rest[..len];
            if flag == "--strict" || flag == "--keep-empty" {
                self.pos += len;
                return TokenKind::Flag(flag.to_string());
            }
        }
        if let Some((ns, len)) = self.try_unit("-", 1, is_duration_char, |s| {
            // A bare "-5" stays an operator and a number.
            if s[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                None
            } else {
                parse_duration_literal(s).ok()
            }
        }) {
            self.pos += len;
            return TokenKind::Duration(ns);
        }
        self.pos += 1;
        TokenKind::Punct("-")
    }
}

fn is_duration_char(c: char) -> bool {
    matches!(c, 'n' | 'u' | 'µ' | 'm' | 's' | 'h' | 'd' | 'w' | 'y')
}

fn is_bytes_char(c: char) -> bool {
    matches!(c, 'B' | 'i' | 'k' | 'K' | 'M' | 'G' | 'T' | 'P')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<TokenKind> {
        tokenize(q).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn units_glued_to_numbers() {
        assert_eq!(
            kinds("10s 1.5KiB 42 [5m] 1h30m 0.99"),
            vec![
                TokenKind::Duration(10_000_000_000),
                TokenKind::Bytes(1536),
                TokenKind::Number("42".into()),
                TokenKind::Range(300_000_000_000),
                TokenKind::Duration(5_400_000_000_000),
                TokenKind::Number("0.99".into()),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn flags_minus_and_comments() {
        assert_eq!(
            kinds("--strict - -1 -5m # comment\n--keep-empty"),
            vec![
                TokenKind::Flag("--strict".into()),
                TokenKind::Punct("-"),
                TokenKind::Punct("-"),
                TokenKind::Number("1".into()),
                TokenKind::Duration(-300_000_000_000),
                TokenKind::Flag("--keep-empty".into()),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn strings_and_operators() {
        assert_eq!(
            kinds(r#"|= "a\"b" !~ `\w+` != =~ |> !> == >= <="#),
            vec![
                TokenKind::Punct("|="),
                TokenKind::Str("a\"b".into()),
                TokenKind::Punct("!~"),
                TokenKind::Str("\\w+".into()),
                TokenKind::Punct("!="),
                TokenKind::Punct("=~"),
                TokenKind::Punct("|>"),
                TokenKind::Punct("!>"),
                TokenKind::Punct("=="),
                TokenKind::Punct(">="),
                TokenKind::Punct("<="),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn lexical_errors_have_positions() {
        let e = tokenize("{a=\"b}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parse error at line 1, col 4: literal not terminated"
        );
        let e = tokenize("rate({a=\"b\"}[5x])").unwrap_err();
        assert_eq!(
            e.to_string(),
            "parse error at line 1, col 13: not a valid duration string: \"5x\""
        );
        let e = tokenize("{a=\"b\"}\n  [5m").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.col, 3);
    }
}
