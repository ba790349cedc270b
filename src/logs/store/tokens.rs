//! How log text becomes index terms, and which terms a substring filter implies.
//!
//! Lines are split into runs of alphanumeric characters (so `10.0.0.1`, `/api/v1/users`
//! and `req_id=ab12` yield `10`,`0`,`0`,`1` / `api`,`v1`,`users` / `req`,`id`,`ab12`) and
//! lowercased. A case-sensitive substring filter `|= "text"` can only match a chunk that
//! holds every token lying wholly inside `text`: a token at either end of `text` may be a
//! piece of a longer token in the line, so it is used only when `text` ends with a
//! separator there. Pruning with these terms never drops a chunk the filter would match;
//! the exact filter then runs on the decompressed lines.

use std::collections::BTreeSet;

/// Name the log tokenizer is registered under in every partition index.
pub const TOKENIZER_NAME: &str = "sightline_log";

/// Tokens longer than this are not indexed (and not used for pruning).
pub const MAX_TOKEN_LEN: usize = 64;

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// The distinct lowercased tokens of `text` (as the index tokenizer produces them).
pub fn tokens_of(text: &str, out: &mut BTreeSet<String>) {
    for token in text.split(|c: char| !is_token_char(c)) {
        if !token.is_empty() && token.len() <= MAX_TOKEN_LEN {
            out.insert(token.to_lowercase());
        }
    }
}

/// Tokens every line containing `needle` must contain.
pub fn required_tokens(needle: &str) -> Vec<String> {
    let pieces: Vec<&str> = needle.split(|c: char| !is_token_char(c)).collect();
    let last = pieces.len().saturating_sub(1);
    // An edge piece is whole only if the needle has a separator beyond it, i.e. the piece
    // is not at the very start/end of the needle.
    let starts_inside = needle.starts_with(is_token_char);
    let ends_inside = needle.ends_with(is_token_char);
    pieces
        .iter()
        .enumerate()
        .filter(|(index, piece)| {
            let partial = (*index == 0 && starts_inside) || (*index == last && ends_inside);
            !piece.is_empty() && piece.len() <= MAX_TOKEN_LEN && !partial
        })
        .map(|(_, piece)| piece.to_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_tokens_are_required() {
        assert_eq!(required_tokens("error"), Vec::<String>::new());
        assert_eq!(required_tokens(" error "), vec!["error"]);
        assert_eq!(
            required_tokens("GET /api/v1/users HTTP"),
            vec!["api", "v1", "users"]
        );
        assert_eq!(required_tokens("status=500 "), vec!["500"]);
        assert_eq!(
            required_tokens("\"level\":\"error\""),
            vec!["level", "error"]
        );
        let mut tokens = BTreeSet::new();
        tokens_of("GET /api/v1/users HTTP/1.1 200", &mut tokens);
        assert!(tokens.contains("get") && tokens.contains("v1") && tokens.contains("200"));
    }
}
