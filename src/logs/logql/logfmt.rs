//! A logfmt scanner with the behaviour of Loki's decoder: keys run to `=` or whitespace, a
//! bare key has an empty value, quoted values take JSON-style escapes, and a malformed pair
//! is skipped up to the next whitespace (reported, so `--strict` can stop on it).

/// One scanned item: a pair, or a syntax error at a 1-based byte position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Pair { key: &'a str, value: String },
    Error { pos: usize, msg: String },
}

impl Item<'_> {
    /// Loki's wording for a scan error, as put in `__error_details__`.
    pub fn error_text(pos: usize, msg: &str) -> String {
        format!("logfmt syntax error at pos {pos} : {msg}")
    }
}

pub struct Scanner<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(line: &'a str) -> Self {
        Scanner { line, pos: 0 }
    }

    fn skip_to_space(&mut self) {
        let b = self.line.as_bytes();
        while self.pos < b.len() && b[self.pos] > b' ' {
            self.pos += 1;
        }
    }

    fn unexpected(&self, c: u8) -> Item<'a> {
        Item::Error {
            pos: self.pos + 1,
            msg: format!("unexpected {:?}", c as char),
        }
    }

    fn scan_quoted(&mut self) -> Result<String, Item<'a>> {
        let b = self.line.as_bytes();
        let start = self.pos;
        let mut i = start + 1;
        let mut has_escape = false;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    has_escape = true;
                    i += 2;
                }
                b'"' => {
                    self.pos = i + 1;
                    let body = &self.line[start + 1..i];
                    if !has_escape {
                        return Ok(body.to_string());
                    }
                    return super::json::unescape(body).ok_or(Item::Error {
                        pos: self.pos + 1,
                        msg: "invalid quoted value".to_string(),
                    });
                }
                _ => i += 1,
            }
        }
        self.pos = b.len();
        Err(Item::Error {
            pos: self.pos + 1,
            msg: "unterminated quoted value".to_string(),
        })
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let b = self.line.as_bytes();
        while self.pos < b.len() && b[self.pos] <= b' ' {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let key_start = self.pos;
        while self.pos < b.len() {
            match b[self.pos] {
                b'=' => break,
                b'"' => {
                    let err = self.unexpected(b'"');
                    self.skip_to_space();
                    return Some(err);
                }
                c if c <= b' ' => break,
                _ => self.pos += 1,
            }
        }
        let key = &self.line[key_start..self.pos];
        if self.pos >= b.len() || b[self.pos] != b'=' {
            // A bare key.
            return Some(Item::Pair {
                key,
                value: String::new(),
            });
        }
        if key.is_empty() {
            let err = self.unexpected(b'=');
            self.skip_to_space();
            return Some(err);
        }
        self.pos += 1; // '='
        match b.get(self.pos) {
            None => {
                return Some(Item::Pair {
                    key,
                    value: String::new(),
                })
            }
            Some(c) if *c <= b' ' => {
                return Some(Item::Pair {
                    key,
                    value: String::new(),
                })
            }
            Some(b'"') => {
                return Some(match self.scan_quoted() {
                    Ok(value) => Item::Pair { key, value },
                    Err(e) => e,
                });
            }
            _ => {}
        }
        let value_start = self.pos;
        while self.pos < b.len() {
            match b[self.pos] {
                c @ (b'=' | b'"') => {
                    let err = self.unexpected(c);
                    self.skip_to_space();
                    return Some(err);
                }
                c if c <= b' ' => break,
                _ => self.pos += 1,
            }
        }
        Some(Item::Pair {
            key,
            value: self.line[value_start..self.pos].to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(line: &str) -> Vec<(String, String)> {
        Scanner::new(line)
            .filter_map(|i| match i {
                Item::Pair { key, value } => Some((key.to_string(), value)),
                Item::Error { .. } => None,
            })
            .collect()
    }

    #[test]
    fn scans_pairs() {
        assert_eq!(
            pairs(r#"at=info method=GET fwd="124.133.124.161" msg="a \"q\"" bare empty= x"#),
            vec![
                ("at".into(), "info".into()),
                ("method".into(), "GET".into()),
                ("fwd".into(), "124.133.124.161".into()),
                ("msg".into(), "a \"q\"".into()),
                ("bare".into(), "".into()),
                ("empty".into(), "".into()),
                ("x".into(), "".into()),
            ]
        );
    }

    #[test]
    fn reports_and_skips_bad_pairs() {
        let items: Vec<_> = Scanner::new("a=1 =v foo=bar=buzz fo\"o=bar b=2").collect();
        assert_eq!(
            items,
            vec![
                Item::Pair {
                    key: "a",
                    value: "1".into()
                },
                Item::Error {
                    pos: 5,
                    msg: "unexpected '='".into()
                },
                Item::Error {
                    pos: 15,
                    msg: "unexpected '='".into()
                },
                Item::Error {
                    pos: 23,
                    msg: "unexpected '\"'".into()
                },
                Item::Pair {
                    key: "b",
                    value: "2".into()
                },
            ]
        );
        assert!(matches!(
            Scanner::new("a=\"open").next(),
            Some(Item::Error { .. })
        ));
    }
}
