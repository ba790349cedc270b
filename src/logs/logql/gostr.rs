//! Go string literals: LogQL quotes strings the Go way (`"..."` with escapes, `` `...` `` raw),
//! and Loki prints them back with `strconv.Quote`, so the canonical form needs both directions.

/// Decodes the body of a Go double-quoted string (without the quotes).
/// Returns a message in Go's words on failure.
pub fn unquote_double(body: &str) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' {
            if b == b'\n' {
                return Err("literal not terminated".to_string());
            }
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&esc) = bytes.get(i + 1) else {
            return Err("invalid syntax".to_string());
        };
        i += 2;
        match esc {
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\\' => out.push(b'\\'),
            b'"' => out.push(b'"'),
            b'0'..=b'7' => {
                let digits = body.get(i - 1..i + 2).ok_or("invalid syntax")?;
                let v = u32::from_str_radix(digits, 8).map_err(|_| "invalid syntax")?;
                if v > 255 {
                    return Err("invalid syntax".to_string());
                }
                out.push(v as u8);
                i += 2;
            }
            b'x' => {
                let digits = body.get(i..i + 2).ok_or("invalid syntax")?;
                let v = u8::from_str_radix(digits, 16).map_err(|_| "invalid syntax")?;
                out.push(v);
                i += 2;
            }
            b'u' | b'U' => {
                let n = if esc == b'u' { 4 } else { 8 };
                let digits = body.get(i..i + n).ok_or("invalid syntax")?;
                let v = u32::from_str_radix(digits, 16).map_err(|_| "invalid syntax")?;
                let c = char::from_u32(v).ok_or("invalid syntax")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += n;
            }
            _ => return Err("invalid syntax".to_string()),
        }
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 rune".to_string())
}

/// Decodes a Go raw string body: no escapes, carriage returns are dropped (as Go does).
pub fn unquote_raw(body: &str) -> String {
    body.replace('\r', "")
}

/// Quotes like Go's `strconv.Quote`: printable characters stay, the rest is escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: no control or invisible formatting characters.
fn is_printable(c: char) -> bool {
    let invisible = matches!(
        c,
        '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    );
    let odd_space = c.is_whitespace() && c != ' ';
    !(c.is_control() || invisible || odd_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_go_escapes() {
        assert_eq!(unquote_double(r#"a\"b\\c\n\t"#).unwrap(), "a\"b\\c\n\t");
        assert_eq!(
            unquote_double(r"\x41\101\u00e9\U0001F600").unwrap(),
            "AAé😀"
        );
        assert!(unquote_double(r"\q").is_err());
        assert!(unquote_double(r"\").is_err());
        assert!(unquote_double("a\nb").is_err());
    }

    #[test]
    fn quotes_like_strconv() {
        assert_eq!(quote("a\"b\\"), r#""a\"b\\""#);
        assert_eq!(quote("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(quote("é ok"), "\"é ok\"");
        assert_eq!(quote("\u{1}"), r#""\x01""#);
        assert_eq!(unquote_raw("a\r\nb"), "a\nb");
    }
}
