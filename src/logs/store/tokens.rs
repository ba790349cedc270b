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
use std::hash::BuildHasher;

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
pub fn tokens_of<'a, S: BuildHasher>(text: &'a str, out: &mut HashSet<Cow<'a, str>, S>) {
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

/// Length in characters of the n-grams indexed for partial matches.
pub const GRAM_CHARS: usize = 3;

/// The distinct character trigrams of a chunk's tokens. A piece of a token can only lie in
/// a chunk holding all of the piece's trigrams, so a partial-token filter prunes with a
/// few term lookups instead of a scan of the whole term dictionary.
pub struct GramSet {
    /// One bit per trigram of `[0-9a-z]` (what lowercased ASCII tokens are made of).
    ascii: Vec<u64>,
    other: HashSet<String>,
}

/// Letters of the ASCII trigram alphabet: digits, then lowercase letters.
const ALPHABET: usize = 36;

fn alphabet_index(byte: u8) -> Option<usize> {
    match byte {
        b'0'..=b'9' => Some((byte - b'0') as usize),
        b'a'..=b'z' => Some((byte - b'a') as usize + 10),
        _ => None,
    }
}

fn alphabet_byte(index: usize) -> u8 {
    if index < 10 {
        b'0' + index as u8
    } else {
        b'a' + (index - 10) as u8
    }
}

impl Default for GramSet {
    fn default() -> Self {
        GramSet {
            ascii: vec![0; (ALPHABET * ALPHABET * ALPHABET).div_ceil(64)],
            other: HashSet::new(),
        }
    }
}

impl GramSet {
    pub fn add_token(&mut self, token: &str) {
        let bytes = token.as_bytes();
        let indexes: Option<Vec<usize>> = bytes.iter().map(|&b| alphabet_index(b)).collect();
        match indexes {
            Some(indexes) => {
                for window in indexes.windows(GRAM_CHARS) {
                    let bit = (window[0] * ALPHABET + window[1]) * ALPHABET + window[2];
                    self.ascii[bit / 64] |= 1 << (bit % 64);
                }
            }
            None => {
                let chars: Vec<char> = token.chars().collect();
                for window in chars.windows(GRAM_CHARS) {
                    self.other.insert(window.iter().collect());
                }
            }
        }
    }

    /// The trigrams separated by spaces (what the whitespace tokenizer indexes).
    pub fn to_text(&self) -> String {
        let ascii_count: usize = self.ascii.iter().map(|w| w.count_ones() as usize).sum();
        let mut text = String::with_capacity(ascii_count * (GRAM_CHARS + 1));
        for (word_index, &word) in self.ascii.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bit = word_index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                text.push(alphabet_byte(bit / (ALPHABET * ALPHABET)) as char);
                text.push(alphabet_byte(bit / ALPHABET % ALPHABET) as char);
                text.push(alphabet_byte(bit % ALPHABET) as char);
                text.push(' ');
            }
        }
        for gram in &self.other {
            text.push_str(gram);
            text.push(' ');
        }
        text
    }
}

/// The distinct trigrams of a (lowercased) piece; empty when it is shorter than a trigram.
pub fn grams_of_piece(piece: &str) -> Vec<String> {
    let chars: Vec<char> = piece.chars().collect();
    let mut grams: Vec<String> = chars
        .windows(GRAM_CHARS)
        .map(|window| window.iter().collect())
        .collect();
    grams.sort();
    grams.dedup();
    grams
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

    #[test]
    fn trigrams_of_tokens_cover_every_piece_of_them() {
        let mut grams = GramSet::default();
        grams.add_token("needle42");
        grams.add_token("größe");
        grams.add_token("zz9");
        let text = grams.to_text();
        let indexed: HashSet<&str> = text.split_whitespace().collect();
        for piece in ["needle42", "eedl", "le4", "röß", "größe", "zz9"] {
            for gram in grams_of_piece(piece) {
                assert!(indexed.contains(gram.as_str()), "{gram} of {piece}");
            }
        }
        assert!(grams_of_piece("ab").is_empty());
        assert_eq!(grams_of_piece("aaaa"), vec!["aaa".to_string()]);
    }
}
