//! Loki's pattern language (`<name>` captures, `<_>` skips, everything else literal), used by
//! the `| pattern` parser and the `|>` / `!>` line filters.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Literal(String),
    /// A capture; `None` for the unnamed `<_>`.
    Capture(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMode {
    /// `| pattern`: needs at least one named capture, names unique.
    Parser,
    /// `|>` / `!>`: only `<_>` allowed.
    LineFilter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    nodes: Vec<Node>,
}

impl Pattern {
    pub fn new(text: &str, mode: PatternMode) -> Result<Pattern, String> {
        let nodes = tokenize(text);
        for pair in nodes.windows(2) {
            if let [Node::Capture(a), Node::Capture(b)] = pair {
                let show = |c: &Option<String>| format!("<{}>", c.as_deref().unwrap_or("_"));
                return Err(format!(
                    "found consecutive capture '{}{}': invalid expression",
                    show(a),
                    show(b)
                ));
            }
        }
        let names: Vec<&str> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Capture(Some(name)) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        match mode {
            PatternMode::Parser => {
                if names.is_empty() {
                    return Err("at least one capture is required".to_string());
                }
                for (i, name) in names.iter().enumerate() {
                    if names[..i].contains(name) {
                        return Err(format!(
                            "duplicate capture name ({name}): invalid expression"
                        ));
                    }
                }
            }
            PatternMode::LineFilter => {
                if let Some(name) = names.first() {
                    return Err(format!("named captures are not allowed: found '<{name}>'"));
                }
            }
        }
        Ok(Pattern { nodes })
    }

    /// Named captures in order.
    pub fn names(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Capture(Some(name)) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Parser semantics: anchored at the start when the pattern starts with a literal; each
    /// capture runs to the first occurrence of the next literal (or the end of the line).
    /// Returns `(name, value)` for the named captures matched before the first miss.
    pub fn extract<'l>(&'l self, line: &'l str) -> Vec<(&'l str, &'l str)> {
        let mut out = Vec::new();
        if line.is_empty() || self.nodes.is_empty() {
            return out;
        }
        let mut nodes = self.nodes.as_slice();
        let mut rest = line;
        if let Some(Node::Literal(lit)) = nodes.first() {
            match rest.strip_prefix(lit.as_str()) {
                Some(r) => rest = r,
                None => return out,
            }
            nodes = &nodes[1..];
        }
        while let Some(Node::Capture(name)) = nodes.first() {
            let next_lit = match nodes.get(1) {
                Some(Node::Literal(l)) => l,
                _ => {
                    // The pattern ends on this capture: it takes the rest of the line.
                    if let Some(n) = name {
                        out.push((n.as_str(), rest));
                    }
                    return out;
                }
            };
            let Some(i) = rest.find(next_lit.as_str()) else {
                if let Some(n) = name {
                    out.push((n.as_str(), rest));
                }
                return out;
            };
            if let Some(n) = name {
                out.push((n.as_str(), &rest[..i]));
            }
            rest = &rest[i + next_lit.len()..];
            nodes = &nodes[2..];
        }
        out
    }

    /// Line-filter semantics: the whole line must fit the pattern, literals in order, every
    /// capture non-empty, and a trailing literal must end the line.
    pub fn matches(&self, line: &str) -> bool {
        if line.is_empty() || self.nodes.is_empty() {
            return line.is_empty() && self.nodes.is_empty();
        }
        let mut off = 0;
        for (i, node) in self.nodes.iter().enumerate() {
            let Node::Literal(lit) = node else { continue };
            let Some(j) = line[off..].find(lit.as_str()) else {
                return false;
            };
            // The first literal anchors the pattern; later ones need a non-empty capture
            // before them.
            if (i == 0 && j != 0) || (i != 0 && j == 0) {
                return false;
            }
            off += j + lit.len();
        }
        let ends_on_capture = matches!(self.nodes.last(), Some(Node::Capture(_)));
        ends_on_capture == (off != line.len())
    }

    /// Literals every matching line contains (for index pruning).
    pub fn literals(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter_map(|n| match n {
                Node::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn tokenize(text: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(name) = capture_name(rest) {
                if !literal.is_empty() {
                    nodes.push(Node::Literal(std::mem::take(&mut literal)));
                }
                rest = &rest[name.len() + 2..];
                nodes.push(Node::Capture((name != "_").then(|| name.to_string())));
                continue;
            }
        }
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() {
        nodes.push(Node::Literal(literal));
    }
    nodes
}

/// The name of a `<name>` capture at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn capture_name(s: &str) -> Option<&str> {
    let body = s.strip_prefix('<')?;
    let end = body.find('>')?;
    let name = &body[..end];
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGINX: &str = r#"0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" "Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" """#;

    #[test]
    fn extracts_like_loki_docs() {
        let p = Pattern::new(
            r#"<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>"#,
            PatternMode::Parser,
        )
        .unwrap();
        assert_eq!(
            p.extract(NGINX),
            vec![
                ("ip", "0.191.12.2"),
                ("method", "GET"),
                ("uri", "/api/plugins/versioncheck"),
                ("status", "200"),
                ("size", "2"),
                ("agent", "Go-http-client/2.0"),
            ]
        );
        let p = Pattern::new("foo <x> bar <y>", PatternMode::Parser).unwrap();
        assert!(p.extract("nope 1 bar 2").is_empty());
        assert_eq!(p.extract("foo 1 baz 2"), vec![("x", "1 baz 2")]);
    }

    #[test]
    fn filter_semantics() {
        let p = Pattern::new(
            "<_> caller=http.go:194 level=debug <_>",
            PatternMode::LineFilter,
        )
        .unwrap();
        assert!(p.matches("ts=1 caller=http.go:194 level=debug traceID=2"));
        assert!(!p.matches("ts=1 caller=http.go:195 level=debug traceID=2"));
        let q = Pattern::new("foo <_>", PatternMode::LineFilter).unwrap();
        assert!(q.matches("foo bar baz"));
        assert!(!q.matches("xx foo bar"));
        let r = Pattern::new("<_> bar", PatternMode::LineFilter).unwrap();
        assert!(!r.matches("foo bar baz"));
        assert!(r.matches("foo bar"));
    }

    #[test]
    fn validation() {
        assert!(Pattern::new("<a><b>", PatternMode::Parser).is_err());
        assert!(Pattern::new("no captures", PatternMode::Parser).is_err());
        assert!(Pattern::new("<a> <a>", PatternMode::Parser).is_err());
        assert!(Pattern::new("<a> x", PatternMode::LineFilter).is_err());
        assert!(Pattern::new("<_> x <_>", PatternMode::LineFilter).is_ok());
        // `<` not forming a capture is a literal.
        let p = Pattern::new("a < b <x>", PatternMode::Parser).unwrap();
        assert_eq!(p.extract("a < b 42"), vec![("x", "42")]);
    }
}
