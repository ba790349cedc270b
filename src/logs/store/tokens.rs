//! How log text becomes index terms, and which terms a substring filter implies.
//!
//! Lines are split into runs of alphanumeric characters (so `10.0.0.1`, `/api/v1/users`
//! and `req_id=ab12` yield `10`,`0`,`0`,`1` / `api`,`v1`,`users` / `req`,`id`,`ab12`) and
//! lowercased. A case-sensitive substring filter `|= "text"` can only match a chunk that
//! holds every token lying wholly inside `text`: a token at either end of `text` may be a
//! piece of a longer token in the line, so it is used only when `text` ends with a
//! separator there. Pruning with these terms never drops a chunk the filter would match;
//! the exact filter then runs on the decompressed lines.

use std::borrow::Cow;
use std::collections::HashSet;

/// Name the log tokenizer is registered under in every partition index.
pub const TOKENIZER_NAME: &str = "sightline_log";

/// Tokens longer than this are not indexed themselves; a chunk holding one is indexed
/// with [`LONG_TOKEN_MARKER`] instead, so it stays a candidate for any partial match.
pub const MAX_TOKEN_LEN: usize = 256;

/// Stands for "some token too long to index"; never a real token (not alphanumeric).
pub const LONG_TOKEN_MARKER: &str = "~long";

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Adds the distinct lowercased tokens of `text` to `out` (allocating only for tokens not
/// seen yet that have uppercase letters).
pub fn tokens_of<'a>(text: &'a str, out: &mut HashSet<Cow<'a, str>>) {
    for token in text.split(|c: char| !is_token_char(c)) {
        if token.len() > MAX_TOKEN_LEN {
            out.insert(Cow::Borrowed(LONG_TOKEN_MARKER));
        } else if token.chars().any(char::is_uppercase) {
            out.insert(Cow::Owned(token.to_lowercase()));
        } else if !token.is_empty() {
            out.insert(Cow::Borrowed(token));
        }
    }
}

/// What an indexed token must look like for a chunk to possibly hold a line containing a
/// substring: a whole token, or (for the pieces at the needle's ends, which may be cut out
/// of a longer token) a token ending with, starting with, or containing the piece.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenRequirement {
    Exact(String),
    EndsWith(String),
    StartsWith(String),
    Contains(String),
}

/// Requirements every chunk holding a line that contains `needle` meets.
pub fn required_tokens(needle: &str) -> Vec<TokenRequirement> {
    let pieces: Vec<&str> = needle.split(|c: char| !is_token_char(c)).collect();
    let last = pieces.len().saturating_sub(1);
    let starts_inside = needle.starts_with(is_token_char);
    let ends_inside = needle.ends_with(is_token_char);
    pieces
        .iter()
        .enumerate()
        .filter(|(_, piece)| !piece.is_empty() && piece.len() <= MAX_TOKEN_LEN)
        // (A longer whole piece is a long token: every chunk holding it has the marker,
        // and pruning on the other pieces is still exact.)
        .map(|(index, piece)| {
            let piece = piece.to_lowercase();
            match (index == 0 && starts_inside, index == last && ends_inside) {
                (false, false) => TokenRequirement::Exact(piece),
                (true, false) => TokenRequirement::EndsWith(piece),
                (false, true) => TokenRequirement::StartsWith(piece),
                (true, true) => TokenRequirement::Contains(piece),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_pieces_may_be_parts_of_tokens() {
        use TokenRequirement::*;
        assert_eq!(required_tokens("Error"), vec![Contains("error".into())]);
        assert_eq!(required_tokens(" error "), vec![Exact("error".into())]);
        assert_eq!(
            required_tokens("GET /api/v1/users HTTP"),
            vec![
                EndsWith("get".into()),
                Exact("api".into()),
                Exact("v1".into()),
                Exact("users".into()),
                StartsWith("http".into())
            ]
        );
        assert_eq!(
            required_tokens("status=500 "),
            vec![EndsWith("status".into()), Exact("500".into())]
        );
        let mut tokens = HashSet::new();
        tokens_of("GET /api/v1/users HTTP/1.1 200", &mut tokens);
        assert!(tokens.contains("get") && tokens.contains("v1") && tokens.contains("200"));
    }
}
