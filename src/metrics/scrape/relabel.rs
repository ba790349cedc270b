//! Relabeling: rewrites a label set by the rules of a `relabel_configs`,
//! `metric_relabel_configs` or `alert_relabel_configs` list, as Prometheus does.
//!
//! Rules are compiled once ([`compile_all`]) and applied to a label set kept sorted by name
//! ([`relabel`]). What the scraper does around relabeling (the `__address__`,
//! `__scheme__`, … defaults before, removing `__`-prefixed labels and adding `instance`
//! after, checking the final names and values) is not done here.
//!
//! Semantics, per action, on `value` = the values of `source_labels` (a missing label counts
//! as the empty string) joined with `separator`; `regex` is matched anchored at both ends
//! with `.` matching newlines, in RE2 syntax:
//!
//! * `replace`: if `regex` matches `value`, `target_label` and `replacement` are expanded
//!   with the match's groups (`$1`, `${1}`, `$name`, `${name}`, `$$`, as Go's
//!   `Regexp.Expand`); when the expanded target is not a valid label name nothing happens,
//!   when the expanded value is empty the target label is removed, otherwise it is set.
//! * `keep` / `drop`: the label set is dropped when `regex` does not match / matches.
//! * `keepequal` / `dropequal`: dropped when `value` differs from / equals the value of
//!   `target_label`.
//! * `hashmod`: `target_label` is set to the MD5 digest of `value`, its last 8 bytes read as
//!   a big-endian integer, modulo `modulus`, in decimal.
//! * `labelmap`: every label whose name `regex` matches is copied (the original is kept) to
//!   the name `replacement` expands to. Labels are visited in name order as they stand
//!   before the rule, so when two of them map to one name the later name's value wins.
//!   The new names are not checked here.
//! * `labeldrop` / `labelkeep`: labels whose names match / do not match `regex` are removed.
//! * `lowercase` / `uppercase`: `target_label` is set to `value` case-mapped character by
//!   character (Unicode simple case mapping, as Go's `strings.ToLower`/`ToUpper`).
//!
//! Setting a label to the empty string removes it; labels with empty values that came in
//! are visible to the rules (and read as empty) and are removed at the end.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::{CaptureLocations, Regex, RegexBuilder};

use crate::config::scrape::{RelabelAction, RelabelConfig};
use crate::metrics::tsdb::index::re2;

/// Regexes that match every value and whose groups are all the whole value, so that no
/// matching is needed; the first is the default when a rule sets none.
const MATCH_ALL_GROUP: &str = "(.*)";
const MATCH_ALL: &str = ".*";

/// One relabel rule, ready to apply: regex compiled, templates parsed.
#[derive(Debug, Clone)]
pub struct CompiledRelabel {
    action: RelabelAction,
    source_labels: Vec<String>,
    separator: String,
    target_label: String,
    /// `target_label` as a template; used by `replace` only.
    target_template: Template,
    replacement: Template,
    regex: Regex,
    /// The regex is `(.*)` or `.*`: it matches any value and each of its groups (0, and 1
    /// when present) is the whole value.
    matches_everything: bool,
    /// `replace` expands a group reference, so it needs the match's group positions.
    replace_needs_groups: bool,
    modulus: u64,
}

impl CompiledRelabel {
    /// Compiles one rule. Besides an invalid regex, rejects only what would make applying
    /// the rule meaningless (a zero `modulus` for `hashmod`; no `target_label` for the
    /// actions that set it); the other checks are `RelabelConfig::validate`'s.
    pub fn new(config: &RelabelConfig) -> Result<Self, String> {
        let regex = compile_regex(&config.regex)?;
        let action = config.action;
        if action == RelabelAction::HashMod && config.modulus == 0 {
            return Err("hashmod action requires a non-zero modulus".to_owned());
        }
        let sets_target = matches!(
            action,
            RelabelAction::HashMod | RelabelAction::Lowercase | RelabelAction::Uppercase
        );
        if sets_target && config.target_label.is_empty() {
            return Err(format!("{action} action requires a target_label"));
        }
        let target_template = Template::parse(&config.target_label, &regex);
        let replacement = Template::parse(&config.replacement, &regex);
        Ok(CompiledRelabel {
            action,
            source_labels: config.source_labels.clone(),
            separator: config.separator.clone(),
            target_label: config.target_label.clone(),
            replace_needs_groups: target_template.has_groups() || replacement.has_groups(),
            target_template,
            replacement,
            matches_everything: config.regex == MATCH_ALL_GROUP || config.regex == MATCH_ALL,
            regex,
            modulus: config.modulus,
        })
    }

    pub fn action(&self) -> RelabelAction {
        self.action
    }

    /// Applies the rule; false when the label set is to be dropped.
    fn apply(&self, labels: &mut Vec<(String, String)>, scratch: &mut Scratch) -> bool {
        match self.action {
            RelabelAction::Keep | RelabelAction::Drop => {
                let value = self.source_value(labels, &mut scratch.joined);
                let matched = self.matches_everything || self.regex.is_match(value);
                matched == (self.action == RelabelAction::Keep)
            }
            RelabelAction::KeepEqual | RelabelAction::DropEqual => {
                let value = self.source_value(labels, &mut scratch.joined);
                let equal = get(labels, &self.target_label) == value;
                equal == (self.action == RelabelAction::KeepEqual)
            }
            RelabelAction::Replace => {
                self.replace(labels, scratch);
                true
            }
            RelabelAction::Lowercase | RelabelAction::Uppercase => {
                let value = self.source_value(labels, &mut scratch.joined);
                scratch.out.clear();
                if self.action == RelabelAction::Lowercase {
                    scratch.out.extend(value.chars().map(simple_lowercase));
                } else {
                    scratch.out.extend(value.chars().map(simple_uppercase));
                }
                set(labels, &self.target_label, &scratch.out);
                true
            }
            RelabelAction::HashMod => {
                let value = self.source_value(labels, &mut scratch.joined);
                let digest = md5::digest(value.as_bytes());
                let mut tail = [0u8; 8];
                tail.copy_from_slice(&digest[8..]);
                let bucket = u64::from_be_bytes(tail) % self.modulus;
                scratch.out.clear();
                let _ = write!(scratch.out, "{bucket}");
                set(labels, &self.target_label, &scratch.out);
                true
            }
            RelabelAction::LabelMap => {
                self.label_map(labels);
                true
            }
            RelabelAction::LabelDrop => {
                labels.retain(|(name, _)| !self.regex.is_match(name));
                true
            }
            RelabelAction::LabelKeep => {
                labels.retain(|(name, _)| self.regex.is_match(name));
                true
            }
        }
    }

    fn replace(&self, labels: &mut Vec<(String, String)>, scratch: &mut Scratch) {
        let value = self.source_value(labels, &mut scratch.joined);
        let mut locations = None;
        let groups = if self.matches_everything || !self.replace_needs_groups {
            if !self.matches_everything && !self.regex.is_match(value) {
                return;
            }
            Groups::Whole
        } else {
            let locations = locations.insert(self.regex.capture_locations());
            if self.regex.captures_read(locations, value).is_none() {
                return;
            }
            Groups::Located(locations)
        };
        let target = match self.target_template.as_literal() {
            Some(name) => Cow::Borrowed(name),
            None => {
                let mut name = String::new();
                self.target_template.expand_into(value, &groups, &mut name);
                Cow::Owned(name)
            }
        };
        if !is_valid_label_name(&target) {
            return;
        }
        scratch.out.clear();
        self.replacement
            .expand_into(value, &groups, &mut scratch.out);
        set(labels, &target, &scratch.out);
    }

    fn label_map(&self, labels: &mut Vec<(String, String)>) {
        let mut locations = (!self.matches_everything && self.replacement.has_groups())
            .then(|| self.regex.capture_locations());
        let mut copies = Vec::new();
        for (name, value) in labels.iter() {
            let groups = if self.matches_everything {
                Groups::Whole
            } else if let Some(locations) = locations.as_mut() {
                if self.regex.captures_read(locations, name).is_none() {
                    continue;
                }
                Groups::Located(locations)
            } else if self.regex.is_match(name) {
                Groups::Whole
            } else {
                continue;
            };
            let mut new_name = String::new();
            self.replacement.expand_into(name, &groups, &mut new_name);
            copies.push((new_name, value.clone()));
        }
        for (name, value) in copies {
            set_owned(labels, name, value);
        }
    }

    /// The source label values joined by the separator; borrowed from `labels` when there
    /// is a single source label.
    fn source_value<'a>(&self, labels: &'a [(String, String)], joined: &'a mut String) -> &'a str {
        match self.source_labels.as_slice() {
            [] => "",
            [only] => get(labels, only),
            [first, rest @ ..] => {
                joined.clear();
                joined.push_str(get(labels, first));
                for name in rest {
                    joined.push_str(&self.separator);
                    joined.push_str(get(labels, name));
                }
                joined
            }
        }
    }
}

/// Compiles every rule, in order; the error names the first bad rule by its zero-based
/// position and action.
pub fn compile_all(configs: &[RelabelConfig]) -> Result<Vec<CompiledRelabel>, String> {
    configs
        .iter()
        .enumerate()
        .map(|(index, config)| {
            CompiledRelabel::new(config)
                .map_err(|error| format!("relabel rule {index} ({}): {error}", config.action))
        })
        .collect()
}

/// Applies `rules` in order to `labels`, a label set sorted by name with unique names
/// (if it is not, it is sorted first and the last of repeated names wins). Returns false
/// when a rule drops the label set; `labels` then holds what the rules before it made.
/// Otherwise `labels` ends sorted, with unique names and no empty values.
pub fn relabel(labels: &mut Vec<(String, String)>, rules: &[CompiledRelabel]) -> bool {
    normalize(labels);
    let mut scratch = Scratch::default();
    for rule in rules {
        if !rule.apply(labels, &mut scratch) {
            return false;
        }
    }
    labels.retain(|(_, value)| !value.is_empty());
    true
}

/// Buffers reused by the rules of one [`relabel`] call.
#[derive(Default)]
struct Scratch {
    /// The joined source value when there are several source labels.
    joined: String,
    /// The value being built for the target label.
    out: String,
}

fn normalize(labels: &mut Vec<(String, String)>) {
    if labels.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        return;
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    // `dedup_by` keeps the first of a run; move each later value into the kept entry.
    labels.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

fn get<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    match labels.binary_search_by(|(label, _)| label.as_str().cmp(name)) {
        Ok(index) => &labels[index].1,
        Err(_) => "",
    }
}

/// Sets `name` to `value`, reusing the existing value's buffer; an empty value removes it.
fn set(labels: &mut Vec<(String, String)>, name: &str, value: &str) {
    match labels.binary_search_by(|(label, _)| label.as_str().cmp(name)) {
        Ok(index) if value.is_empty() => {
            labels.remove(index);
        }
        Ok(index) => {
            let existing = &mut labels[index].1;
            existing.clear();
            existing.push_str(value);
        }
        Err(_) if value.is_empty() => {}
        Err(index) => labels.insert(index, (name.to_owned(), value.to_owned())),
    }
}

fn set_owned(labels: &mut Vec<(String, String)>, name: String, value: String) {
    match labels.binary_search_by(|(label, _)| label.as_str().cmp(&name)) {
        Ok(index) if value.is_empty() => {
            labels.remove(index);
        }
        Ok(index) => labels[index].1 = value,
        Err(_) if value.is_empty() => {}
        Err(index) => labels.insert(index, (name, value)),
    }
}

/// A label name in the classic character set: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(first) if first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    let invalid = |reason: String| format!("invalid regular expression {pattern:?}: {reason}");
    let translated = re2::translate(pattern).map_err(invalid)?;
    RegexBuilder::new(&format!("^(?s:{translated})$"))
        .octal(true)
        .build()
        .map_err(|error| invalid(regex_error_reason(&error)))
}

/// The last line of a `regex` error, without the echo of the rewritten pattern before it.
fn regex_error_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    let reason = last.unwrap_or("").trim().trim_start_matches("error: ");
    if reason.is_empty() {
        "invalid regex".to_owned()
    } else {
        reason.to_owned()
    }
}

/// Go's `unicode.ToLower`: the simple (one character) mapping.
fn simple_lowercase(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut mapped = c.to_lowercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        // The only character whose full lowercase mapping has several characters is
        // U+0130 (İ → i̇); its simple mapping is a plain i.
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// Go's `unicode.ToUpper`: the simple (one character) mapping.
fn simple_uppercase(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut mapped = c.to_uppercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        // Characters whose full uppercase mapping has several characters. Of them only the
        // Greek small letters with ypogegrammeni have a simple mapping, to the titlecase
        // letter with prosgegrammeni; ß, ligatures and the rest stay as they are.
        _ => match c {
            '\u{1F80}'..='\u{1F87}' | '\u{1F90}'..='\u{1F97}' | '\u{1FA0}'..='\u{1FA7}' => {
                char::from_u32(c as u32 + 8).unwrap_or(c)
            }
            '\u{1FB3}' | '\u{1FC3}' | '\u{1FF3}' => char::from_u32(c as u32 + 9).unwrap_or(c),
            _ => c,
        },
    }
}

/// The groups of a match, for expanding templates.
enum Groups<'a> {
    /// Every group that exists is the whole value (a `(.*)` regex), or no group is needed.
    Whole,
    Located(&'a CaptureLocations),
}

impl Groups<'_> {
    fn get<'v>(&self, value: &'v str, index: usize) -> &'v str {
        match self {
            Groups::Whole => value,
            Groups::Located(locations) => locations
                .get(index)
                .map_or("", |(start, end)| &value[start..end]),
        }
    }
}

/// A `replacement` or `target_label` parsed against the rule's regex, with Go's
/// `Regexp.Expand` rules: `$$` is a dollar; `$name` takes the longest run of letters,
/// digits and underscores (so `$10` is group 10 and `$1x` the group named `1x`); `${name}`
/// delimits it; a number names a group by index, except that leading zeros make it a name;
/// a reference to a group that does not exist or did not take part in the match expands to
/// nothing; a `$` that starts no valid reference is kept as text.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Group(usize),
}

impl Template {
    fn parse(template: &str, regex: &Regex) -> Template {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            text.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                text.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = split_reference(rest) else {
                text.push('$');
                continue;
            };
            rest = after;
            if let Some(index) = group_index(name, regex) {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(index));
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template { pieces }
    }

    fn has_groups(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Group(_)))
    }

    /// The expansion when it does not depend on the match.
    fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Text(text)] => Some(text),
            _ => None,
        }
    }

    fn expand_into(&self, value: &str, groups: &Groups<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Group(index) => out.push_str(groups.get(value, *index)),
            }
        }
    }
}

/// Splits the reference after a `$` into its name and the rest of the template.
fn split_reference(after_dollar: &str) -> Option<(&str, &str)> {
    static NAME: OnceLock<Regex> = OnceLock::new();
    let name_pattern = NAME.get_or_init(|| Regex::new(r"^[\p{L}\p{Nd}_]*").expect("valid"));
    let (braced, body) = match after_dollar.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, after_dollar),
    };
    let name_len = name_pattern.find(body).map_or(0, |found| found.end());
    if name_len == 0 {
        return None;
    }
    let (name, rest) = body.split_at(name_len);
    if braced {
        return Some((name, rest.strip_prefix('}')?));
    }
    Some((name, rest))
}

/// The group a reference names, if the regex has it.
fn group_index(name: &str, regex: &Regex) -> Option<usize> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        if name.len() > 1 && name.starts_with('0') {
            return None; // a name, and group names do not start with a digit
        }
        let index: usize = name.parse().ok()?;
        return (index < regex.captures_len()).then_some(index);
    }
    regex.capture_names().position(|group| group == Some(name))
}

/// MD5 (RFC 1321), which `hashmod` uses so that targets shard as in Prometheus.
mod md5 {
    const SHIFTS: [[u32; 4]; 4] = [
        [7, 12, 17, 22],
        [5, 9, 14, 20],
        [4, 11, 16, 23],
        [6, 10, 15, 21],
    ];

    /// `floor(abs(sin(i + 1)) * 2^32)`.
    const SINES: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];

    pub(super) fn digest(data: &[u8]) -> [u8; 16] {
        let mut state = [0x67452301u32, 0xefcdab89, 0x98badcfe, 0x10325476];
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            compress(&mut state, block);
        }
        // Padding: a 1 bit, zeros up to 56 bytes mod 64, then the bit length (little endian).
        let rest = blocks.remainder();
        let mut tail = [0u8; 128];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        let tail_len = if rest.len() < 56 { 64 } else { 128 };
        let bit_len = (data.len() as u64).wrapping_mul(8);
        tail[tail_len - 8..tail_len].copy_from_slice(&bit_len.to_le_bytes());
        for block in tail[..tail_len].chunks_exact(64) {
            compress(&mut state, block);
        }
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn compress(state: &mut [u32; 4], block: &[u8]) {
        let mut words = [0u32; 16];
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = *state;
        for step in 0..64 {
            let round = step / 16;
            let (mixed, word) = match round {
                0 => ((b & c) | (!b & d), step),
                1 => ((b & d) | (c & !d), (5 * step + 1) % 16),
                2 => (b ^ c ^ d, (3 * step + 5) % 16),
                _ => (c ^ (b | !d), (7 * step) % 16),
            };
            let sum = a
                .wrapping_add(mixed)
                .wrapping_add(SINES[step])
                .wrapping_add(words[word]);
            let rotated = b.wrapping_add(sum.rotate_left(SHIFTS[round][step % 4]));
            a = d;
            d = c;
            c = b;
            b = rotated;
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        labels.sort();
        labels
    }

    fn rules(yaml: &str) -> Vec<CompiledRelabel> {
        let configs: Vec<RelabelConfig> =
            serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        compile_all(&configs).unwrap()
    }

    /// Relabels `input` with the rules in `yaml`; `None` when dropped.
    fn run(input: &[(&str, &str)], yaml: &str) -> Option<Vec<(String, String)>> {
        let mut set = labels(input);
        relabel(&mut set, &rules(yaml)).then_some(set)
    }

    fn kept(input: &[(&str, &str)], yaml: &str) -> Vec<(String, String)> {
        run(input, yaml).unwrap_or_else(|| panic!("dropped by {yaml}"))
    }

    fn replace_value(value: &str, regex: &str, replacement: &str) -> Option<String> {
        let yaml = format!(
            "- source_labels: [src]\n  regex: {}\n  replacement: {}\n  target_label: out\n",
            yaml_string(regex),
            yaml_string(replacement)
        );
        let out = kept(&[("src", value), ("out", "before")], &yaml);
        let result = out.into_iter().find(|(name, _)| name == "out");
        result.map(|(_, value)| value)
    }

    fn yaml_string(text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }

    #[test]
    fn replace_examples() {
        // Copy a discovered label into a target label (default regex and replacement).
        let out = kept(
            &[("__meta_kubernetes_namespace", "prod"), ("job", "pods")],
            "- source_labels: [__meta_kubernetes_namespace]\n  target_label: namespace\n",
        );
        assert_eq!(
            out,
            labels(&[
                ("__meta_kubernetes_namespace", "prod"),
                ("job", "pods"),
                ("namespace", "prod")
            ])
        );

        // The classic address rewrite: two sources, default separator, two groups.
        let yaml = r#"
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  action: replace
  regex: ([^:]+)(?::\d+)?;(\d+)
  replacement: $1:$2
  target_label: __address__
"#;
        let out = kept(
            &[
                ("__address__", "10.1.2.3:8080"),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                    "9102",
                ),
            ],
            yaml,
        );
        assert_eq!(get(&out, "__address__"), "10.1.2.3:9102");
        let out = kept(&[("__address__", "10.1.2.3")], yaml);
        assert_eq!(
            get(&out, "__address__"),
            "10.1.2.3",
            "no port annotation: no match, unchanged"
        );

        // A constant replacement with no source labels.
        let out = kept(
            &[("a", "1")],
            "- target_label: env\n  replacement: production\n",
        );
        assert_eq!(out, labels(&[("a", "1"), ("env", "production")]));
        // …overwrites an existing value.
        let out = kept(
            &[("env", "dev")],
            "- target_label: env\n  replacement: production\n",
        );
        assert_eq!(out, labels(&[("env", "production")]));
    }

    #[test]
    fn replace_without_match_changes_nothing() {
        assert_eq!(
            replace_value("abc", "x(.*)", "$1"),
            Some("before".to_owned())
        );
        // Anchored at both ends: a match inside the value is not a match.
        assert_eq!(
            replace_value("xabcx", "abc", "hit"),
            Some("before".to_owned())
        );
        assert_eq!(replace_value("abc", ".*b.*", "hit"), Some("hit".to_owned()));
    }

    #[test]
    fn replace_with_empty_result_removes_target() {
        assert_eq!(replace_value("", "(.*)", "$1"), None);
        // `$1` in a regex without groups expands to nothing.
        assert_eq!(replace_value("foo", "foo", "$1"), None);
        assert_eq!(replace_value("foo", "foo", "$0"), Some("foo".to_owned()));
        // A group that did not take part in the match.
        assert_eq!(replace_value("b", "(a)?b", "$1"), None);
        assert_eq!(replace_value("b", "(a)?b", "[$1]"), Some("[]".to_owned()));
    }

    #[test]
    fn missing_source_labels_read_as_empty() {
        let yaml = "- source_labels: [missing, also_missing]\n  regex: ';'\n  target_label: out\n  replacement: both-empty\n";
        assert_eq!(
            kept(&[("a", "1")], yaml),
            labels(&[("a", "1"), ("out", "both-empty")])
        );
        // The empty regex matches only the empty value.
        let yaml =
            "- source_labels: [missing]\n  regex: ''\n  target_label: out\n  replacement: empty\n";
        assert_eq!(get(&kept(&[], yaml), "out"), "empty");
        assert_eq!(get(&kept(&[("missing", "x")], yaml), "out"), "");
    }

    #[test]
    fn custom_separator_joins_sources() {
        let yaml = "- source_labels: [a, missing, b]\n  separator: '::'\n  target_label: out\n";
        let out = kept(&[("a", "1"), ("b", "2")], yaml);
        assert_eq!(get(&out, "out"), "1::::2");
        let yaml = "- source_labels: [a, b]\n  separator: ''\n  regex: '(\\d)(\\d)'\n  replacement: '$2$1'\n  target_label: out\n";
        assert_eq!(get(&kept(&[("a", "1"), ("b", "2")], yaml), "out"), "21");
    }

    #[test]
    fn expansion_follows_go() {
        let value = "abcdefghijk";
        let regex = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)";
        assert_eq!(replace_value(value, regex, "$10").as_deref(), Some("j"));
        assert_eq!(replace_value(value, regex, "${1}0").as_deref(), Some("a0"));
        assert_eq!(replace_value(value, regex, "$11$12").as_deref(), Some("k"));
        // `$1x` is the group named `1x`, which does not exist.
        assert_eq!(replace_value(value, regex, "<$1x>").as_deref(), Some("<>"));
        assert_eq!(
            replace_value(value, regex, "<${1}x>").as_deref(),
            Some("<ax>")
        );
        // Leading zeros make a name, not a number.
        assert_eq!(replace_value(value, regex, "<$01>").as_deref(), Some("<>"));
        assert_eq!(
            replace_value(value, regex, "<$0>").as_deref(),
            Some("<abcdefghijk>")
        );
        // `$$` is a dollar; a `$` that starts no reference stays.
        assert_eq!(replace_value(value, regex, "$$1").as_deref(), Some("$1"));
        assert_eq!(replace_value(value, regex, "$").as_deref(), Some("$"));
        assert_eq!(replace_value(value, regex, "a$-b").as_deref(), Some("a$-b"));
        assert_eq!(replace_value(value, regex, "${1").as_deref(), Some("${1"));
        assert_eq!(replace_value(value, regex, "${}").as_deref(), Some("${}"));
        assert_eq!(
            replace_value(value, regex, "${ 1}").as_deref(),
            Some("${ 1}")
        );
        assert_eq!(replace_value(value, regex, "$$$1").as_deref(), Some("$a"));
        // Names run over Unicode letters and digits.
        assert_eq!(replace_value(value, regex, "<$1é>").as_deref(), Some("<>"));
        assert_eq!(replace_value(value, regex, "<$1١>").as_deref(), Some("<>"));
        assert_eq!(
            replace_value(value, regex, "<$1.>").as_deref(),
            Some("<a.>")
        );
        // Named groups, by name and by number.
        let regex = "(?P<host>[^:]+):(?P<port>\\d+)";
        assert_eq!(
            replace_value("h:80", regex, "$port/$host").as_deref(),
            Some("80/h")
        );
        assert_eq!(
            replace_value("h:80", regex, "${port}0 $2").as_deref(),
            Some("800 80")
        );
        assert_eq!(
            replace_value("h:80", regex, "[$nope][${nope}]").as_deref(),
            Some("[][]")
        );
        assert_eq!(
            replace_value("h:80", regex, "$3$99999999999999999999").as_deref(),
            None
        );
    }

    #[test]
    fn templated_target_label() {
        let yaml = "- source_labels: [kv]\n  regex: '(\\w+)=(.*)'\n  target_label: 'tag_$1'\n  replacement: '$2'\n";
        let out = kept(&[("kv", "team=db")], yaml);
        assert_eq!(get(&out, "tag_team"), "db");
        // An expanded name that is not a label name: the rule does nothing.
        let yaml = "- source_labels: [kv]\n  regex: '([^=]+)=(.*)'\n  target_label: '$1'\n  replacement: '$2'\n";
        assert_eq!(kept(&[("kv", "a-b=1")], yaml), labels(&[("kv", "a-b=1")]));
        assert_eq!(kept(&[("kv", "1a=1")], yaml), labels(&[("kv", "1a=1")]));
        assert_eq!(kept(&[("kv", "=1")], yaml), labels(&[("kv", "=1")]));
        assert_eq!(
            kept(&[("kv", "ab=1")], yaml),
            labels(&[("ab", "1"), ("kv", "ab=1")])
        );
        // A templated target with an empty value removes that label.
        assert_eq!(
            kept(&[("ab", "x"), ("kv", "ab=")], yaml),
            labels(&[("kv", "ab=")])
        );
    }

    #[test]
    fn regex_is_re2_with_dot_matching_newline() {
        // `\d` is ASCII-only, as in RE2.
        assert_eq!(
            replace_value("٣", "\\d", "digit"),
            Some("before".to_owned())
        );
        assert_eq!(replace_value("3", "\\d", "digit"), Some("digit".to_owned()));
        assert_eq!(replace_value("a\nb", "a.b", "hit"), Some("hit".to_owned()));
        assert_eq!(
            replace_value("a{,3}", "a{,3}", "literal brace").as_deref(),
            Some("literal brace")
        );
        let error = compile_all(&[RelabelConfig {
            regex: "(".to_owned(),
            ..RelabelConfig::default()
        }])
        .unwrap_err();
        assert!(
            error.starts_with("relabel rule 0 (replace): invalid regular expression \"(\""),
            "{error}"
        );
        let error = compile_all(&[
            RelabelConfig::default(),
            RelabelConfig {
                regex: "a{2000}".to_owned(),
                ..RelabelConfig::default()
            },
        ])
        .unwrap_err();
        assert!(
            error.starts_with("relabel rule 1 (replace): invalid regular expression"),
            "{error}"
        );
    }

    #[test]
    fn keep_and_drop() {
        let keep = "- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]\n  action: keep\n  regex: 'true'\n";
        assert!(run(
            &[(
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true"
            )],
            keep
        )
        .is_some());
        assert!(run(
            &[(
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "false"
            )],
            keep
        )
        .is_none());
        assert!(run(&[], keep).is_none(), "missing label reads as empty");

        let drop = "- source_labels: [__name__]\n  action: drop\n  regex: 'go_.*|process_.*'\n";
        assert!(run(&[("__name__", "go_goroutines")], drop).is_none());
        assert!(run(&[("__name__", "http_requests_total")], drop).is_some());
        assert!(
            run(&[("__name__", "my_go_thing")], drop).is_some(),
            "anchored"
        );

        // Several sources; a rule after a drop is not applied.
        let yaml = "- source_labels: [a, b]\n  separator: '/'\n  action: drop\n  regex: 'x/'\n- target_label: seen\n  replacement: yes\n";
        assert!(run(&[("a", "x")], yaml).is_none());
        assert_eq!(
            kept(&[("a", "x"), ("b", "y")], yaml),
            labels(&[("a", "x"), ("b", "y"), ("seen", "yes")])
        );
        // `keep` with the empty regex keeps exactly the label sets missing the source.
        let yaml = "- source_labels: [a]\n  action: keep\n  regex: ''\n";
        assert!(run(&[("b", "1")], yaml).is_some());
        assert!(run(&[("a", "1")], yaml).is_none());
        // Default regex keeps everything.
        assert!(run(&[], "- action: keep\n").is_some());
        assert!(run(&[("a", "1")], "- action: drop\n  source_labels: [a]\n").is_none());
    }

    #[test]
    fn keepequal_and_dropequal() {
        let keep = "- source_labels: [__meta_port]\n  target_label: __port\n  action: keepequal\n";
        assert!(run(&[("__meta_port", "80"), ("__port", "80")], keep).is_some());
        assert!(run(&[("__meta_port", "80"), ("__port", "81")], keep).is_none());
        assert!(run(&[], keep).is_some(), "both missing: both empty");
        assert!(run(&[("__port", "80")], keep).is_none());

        let drop = "- source_labels: [a, b]\n  target_label: c\n  action: dropequal\n";
        assert!(run(&[("a", "1"), ("b", "2"), ("c", "1;2")], drop).is_none());
        assert!(run(&[("a", "1"), ("b", "2"), ("c", "1")], drop).is_some());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Values Prometheus gives for the same rules.
        let cases: [(&str, u64, &str); 6] = [
            ("", 1 << 32, "3975692926"),
            ("10.0.0.1:9100", 10, "5"),
            ("10.0.0.1:9100", 1 << 40, "277082180413"),
            ("node-1;prod", 7, "5"),
            ("a", u64::MAX, "3585878926028121697"),
            ("héllo wörld", 1_000_003, "990225"),
        ];
        for (value, modulus, expected) in cases {
            let yaml = format!(
                "- source_labels: [v]\n  action: hashmod\n  modulus: {modulus}\n  target_label: __tmp_hash\n"
            );
            let out = kept(&[("v", value)], &yaml);
            assert_eq!(get(&out, "__tmp_hash"), expected, "{value:?} mod {modulus}");
        }
        // Sharding: keep one of 4 shards.
        let yaml = "- source_labels: [__address__]\n  modulus: 4\n  target_label: __tmp_hash\n  action: hashmod\n- source_labels: [__tmp_hash]\n  regex: '^1$'\n  action: keep\n";
        let kept_count = (0..100)
            .filter(|i| run(&[("__address__", &format!("10.0.0.{i}:9100"))], yaml).is_some())
            .count();
        assert!((10..=40).contains(&kept_count), "{kept_count}");
    }

    #[test]
    fn md5_rfc1321_test_suite() {
        let hex = |digest: [u8; 16]| {
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let suite = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, expected) in suite {
            assert_eq!(hex(md5::digest(input.as_bytes())), expected, "{input:?}");
        }
        // Padding boundaries: lengths 55, 56, 63, 64, 65 and 128 (md5sum of "x" repeated).
        for (len, expected) in [
            (55, "04364420e25c512fd958a70738aa8f72"),
            (56, "668a72d5ba17f08e62dabcafad6db14b"),
            (63, "7dc2ca208106a2f703567bdff99d8981"),
            (64, "c1bb4f81d892b2d57947682aeb252456"),
            (65, "1bc932052302d074bdec39795fe00cf6"),
            (128, "d69cb61a6ee87200676eb0d4b90edbcb"),
        ] {
            assert_eq!(
                hex(md5::digest("x".repeat(len).as_bytes())),
                expected,
                "{len}"
            );
        }
    }

    #[test]
    fn labelmap() {
        let yaml = "- action: labelmap\n  regex: __meta_kubernetes_pod_label_(.+)\n";
        let input = [
            ("__meta_kubernetes_pod_label_app", "api"),
            ("__meta_kubernetes_pod_label_tier", "backend"),
            ("__meta_kubernetes_pod_name", "api-7d9"),
        ];
        let mut expected = input.to_vec();
        expected.extend([("app", "api"), ("tier", "backend")]);
        assert_eq!(kept(&input, yaml), labels(&expected));

        // Replacement with text around the group; the original label stays.
        let yaml = "- action: labelmap\n  regex: 'team_(.*)'\n  replacement: 'owner_${1}_x'\n";
        assert_eq!(
            kept(&[("team_a", "1")], yaml),
            labels(&[("owner_a_x", "1"), ("team_a", "1")])
        );
        // Default regex and replacement: every label maps onto itself.
        assert_eq!(
            kept(&[("a", "1"), ("b", "2")], "- action: labelmap\n"),
            labels(&[("a", "1"), ("b", "2")])
        );
        // Overwrites an existing label.
        let yaml = "- action: labelmap\n  regex: __meta_(.+)\n";
        assert_eq!(
            kept(&[("__meta_job", "x"), ("job", "y")], yaml),
            labels(&[("__meta_job", "x"), ("job", "x")])
        );
        // Two labels mapped to one name: the later name wins.
        let yaml = "- action: labelmap\n  regex: '__meta_(?:pod|service)_label_(.+)'\n";
        let out = kept(
            &[
                ("__meta_pod_label_app", "from-pod"),
                ("__meta_service_label_app", "from-service"),
            ],
            yaml,
        );
        assert_eq!(get(&out, "app"), "from-service");
        // Labels are visited as they stand before the rule: a copy is not copied again.
        let yaml = "- action: labelmap\n  regex: '(.*)_x'\n  replacement: '${1}'\n";
        let out = kept(&[("a_x_x", "1")], yaml);
        assert_eq!(out, labels(&[("a_x", "1"), ("a_x_x", "1")]));
        // A matching label with an empty value removes the target.
        let yaml = "- action: labelmap\n  regex: 'src_(.*)'\n";
        assert_eq!(kept(&[("src_a", ""), ("a", "old")], yaml), labels(&[]));
    }

    #[test]
    fn labeldrop_and_labelkeep() {
        let drop = "- action: labeldrop\n  regex: 'pod_template_hash|controller_revision_hash'\n";
        let out = kept(
            &[
                ("app", "a"),
                ("pod_template_hash", "5f"),
                ("controller_revision_hash", "7"),
                ("pod_template_hash_x", "1"),
            ],
            drop,
        );
        assert_eq!(out, labels(&[("app", "a"), ("pod_template_hash_x", "1")]));

        let keep = "- action: labelkeep\n  regex: '__.*|job|instance'\n";
        let out = kept(
            &[
                ("__name__", "up"),
                ("job", "j"),
                ("instance", "i"),
                ("extra", "e"),
            ],
            keep,
        );
        assert_eq!(
            out,
            labels(&[("__name__", "up"), ("instance", "i"), ("job", "j")])
        );
        // Dropping every label leaves an empty set, which is not a drop.
        assert_eq!(
            kept(&[("a", "1")], "- action: labelkeep\n  regex: ''\n"),
            labels(&[])
        );
    }

    #[test]
    fn lowercase_and_uppercase() {
        let yaml = "- source_labels: [a, b]\n  target_label: lower\n  action: lowercase\n- source_labels: [a]\n  target_label: upper\n  action: uppercase\n";
        let out = kept(&[("a", "MiXeD-Ünïcode Σ"), ("b", "X")], yaml);
        assert_eq!(get(&out, "lower"), "mixed-ünïcode σ;x");
        assert_eq!(get(&out, "upper"), "MIXED-ÜNÏCODE Σ");
        // Simple (one character) case mapping, as Go.
        let upper = |value: &str| get(&kept(&[("a", value)], yaml), "upper").to_owned();
        let lower = |value: &str| get(&kept(&[("a", value)], yaml), "lower").to_owned();
        assert_eq!(upper("straße"), "STRAßE");
        assert_eq!(upper("ﬁ"), "ﬁ");
        assert_eq!(upper("ᾳ"), "ᾼ");
        assert_eq!(upper("ᾀ"), "ᾈ");
        assert_eq!(upper("ᾈ"), "ᾈ");
        assert_eq!(lower("İ"), "i;");
        assert_eq!(lower("ΟΔΟΣ"), "οδοσ;");
        // An empty result removes the target.
        let out = kept(&[("upper", "old")], yaml);
        assert_eq!(out, labels(&[("lower", ";")]));
    }

    #[test]
    fn empty_values_are_read_as_missing_and_removed() {
        let yaml = "- source_labels: [a]\n  regex: ''\n  target_label: a_was_empty\n  replacement: 'yes'\n";
        assert_eq!(
            kept(&[("a", ""), ("b", "1")], yaml),
            labels(&[("a_was_empty", "yes"), ("b", "1")])
        );
    }

    #[test]
    fn unsorted_input_is_sorted_first() {
        let mut set = vec![
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "3".to_owned()),
        ];
        assert!(relabel(
            &mut set,
            &rules("- source_labels: [b]\n  target_label: c\n")
        ));
        assert_eq!(set, labels(&[("a", "1"), ("b", "3"), ("c", "3")]));
    }

    #[test]
    fn compile_rejects_unusable_rules() {
        let error = compile_all(&[RelabelConfig {
            action: RelabelAction::HashMod,
            target_label: "t".to_owned(),
            ..RelabelConfig::default()
        }])
        .unwrap_err();
        assert_eq!(
            error,
            "relabel rule 0 (hashmod): hashmod action requires a non-zero modulus"
        );
        let error = compile_all(&[RelabelConfig {
            action: RelabelAction::Lowercase,
            ..RelabelConfig::default()
        }])
        .unwrap_err();
        assert_eq!(
            error,
            "relabel rule 0 (lowercase): lowercase action requires a target_label"
        );
        assert!(compile_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn kubernetes_pod_chain() {
        let yaml = r#"
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
  action: keep
  regex: true
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
  action: replace
  regex: (https?)
  target_label: __scheme__
- source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
  action: replace
  target_label: __metrics_path__
  regex: (.+)
- source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
  action: replace
  regex: ([^:]+)(?::\d+)?;(\d+)
  replacement: $1:$2
  target_label: __address__
- action: labelmap
  regex: __meta_kubernetes_pod_label_(.+)
- source_labels: [__meta_kubernetes_namespace]
  action: replace
  target_label: namespace
- source_labels: [__meta_kubernetes_pod_name]
  action: replace
  target_label: pod
- source_labels: [__meta_kubernetes_pod_phase]
  regex: Pending|Succeeded|Failed|Completed
  action: drop
- source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_pod_label_app]
  separator: /
  target_label: __tmp_key
- source_labels: [__tmp_key]
  modulus: 2
  target_label: __tmp_shard
  action: hashmod
- action: labeldrop
  regex: pod_template_hash
"#;
        let pod = [
            ("__address__", "10.244.1.7:8080"),
            ("__metrics_path__", "/metrics"),
            ("__scheme__", "http"),
            ("job", "kubernetes-pods"),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_pod_name", "cart-5f7b9-xk2p4"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_label_app", "cart"),
            ("__meta_kubernetes_pod_label_pod_template_hash", "5f7b9"),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                "9090",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_path",
                "/custom/metrics",
            ),
            ("__meta_kubernetes_pod_annotation_prometheus_io_scheme", ""),
        ];
        let out = kept(&pod, yaml);
        let visible: Vec<_> = out
            .iter()
            .filter(|(name, _)| !name.starts_with("__"))
            .cloned()
            .collect();
        assert_eq!(
            visible,
            labels(&[
                ("app", "cart"),
                ("job", "kubernetes-pods"),
                ("namespace", "shop"),
                ("pod", "cart-5f7b9-xk2p4")
            ])
        );
        assert_eq!(get(&out, "__address__"), "10.244.1.7:9090");
        assert_eq!(get(&out, "__metrics_path__"), "/custom/metrics");
        assert_eq!(
            get(&out, "__scheme__"),
            "http",
            "empty annotation: no match"
        );
        assert_eq!(get(&out, "__tmp_key"), "shop/cart");
        assert!(["0", "1"].contains(&get(&out, "__tmp_shard")));
        assert!(out.iter().all(|(_, value)| !value.is_empty()));

        let mut pending = pod.to_vec();
        pending.retain(|(name, _)| *name != "__meta_kubernetes_pod_phase");
        pending.push(("__meta_kubernetes_pod_phase", "Pending"));
        assert!(run(&pending, yaml).is_none());
        let mut unannotated = pod.to_vec();
        unannotated.retain(|(name, _)| !name.ends_with("prometheus_io_scrape"));
        assert!(run(&unannotated, yaml).is_none());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        const NAMES: &[&str] = &[
            "a",
            "b",
            "c",
            "__name__",
            "__meta_x_a",
            "__meta_x_b",
            "job",
            "x_1",
        ];
        const REGEXES: &[&str] = &[
            "(.*)",
            ".*",
            "",
            "a",
            "(a|b)",
            "(.)(.*)",
            "__meta_x_(.+)",
            "([a-z]+)_?(\\d*)",
            "(?P<head>.)(?P<tail>.*)",
            "(.*);(.*)",
            "x",
            "[^;]*",
            "(a)?b?",
        ];
        const TEMPLATES: &[&str] = &[
            "$1",
            "${1}",
            "$2",
            "$0",
            "$head",
            "${tail}x",
            "$$",
            "$",
            "x",
            "",
            "${1}_${2}",
            "$10",
            "${1",
            "$1x",
            "lit",
            "__tmp_$1",
            "${2}${1}",
        ];

        fn config_strategy() -> impl Strategy<Value = RelabelConfig> {
            let actions = prop::sample::select(vec![
                RelabelAction::Replace,
                RelabelAction::Keep,
                RelabelAction::Drop,
                RelabelAction::KeepEqual,
                RelabelAction::DropEqual,
                RelabelAction::HashMod,
                RelabelAction::LabelMap,
                RelabelAction::LabelDrop,
                RelabelAction::LabelKeep,
                RelabelAction::Lowercase,
                RelabelAction::Uppercase,
            ]);
            (
                actions,
                prop::collection::vec(prop::sample::select(NAMES), 0..3),
                prop::sample::select(vec![";", "", "/"]),
                prop::sample::select(TEMPLATES),
                prop::sample::select(REGEXES),
                1u64..20,
                prop::sample::select(TEMPLATES),
            )
                .prop_map(
                    |(action, sources, separator, target, regex, modulus, replacement)| {
                        let needs_target = matches!(
                            action,
                            RelabelAction::HashMod
                                | RelabelAction::Lowercase
                                | RelabelAction::Uppercase
                        );
                        let target = match target {
                            "" if needs_target => "t",
                            t if needs_target && t.contains('$') => "t",
                            t => t,
                        };
                        RelabelConfig {
                            action,
                            source_labels: sources.into_iter().map(str::to_owned).collect(),
                            separator: separator.to_owned(),
                            target_label: target.to_owned(),
                            regex: regex.to_owned(),
                            modulus,
                            replacement: replacement.to_owned(),
                        }
                    },
                )
        }

        fn labels_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
            prop::collection::btree_map(
                prop::sample::select(NAMES).prop_map(str::to_owned),
                "[ab;_1é]{0,4}",
                0..6,
            )
        }

        /// A plain model of the semantics: a map, the regex crate's own captures and
        /// expansion (which agree with Go's for the templates above), no fast paths.
        fn model(
            mut set: BTreeMap<String, String>,
            configs: &[RelabelConfig],
        ) -> Option<BTreeMap<String, String>> {
            for config in configs {
                let regex = compile_regex(&config.regex).unwrap();
                let value = config
                    .source_labels
                    .iter()
                    .map(|name| set.get(name).map_or("", String::as_str))
                    .collect::<Vec<_>>()
                    .join(&config.separator);
                let put = |set: &mut BTreeMap<String, String>, name: String, value: String| {
                    if value.is_empty() {
                        set.remove(&name);
                    } else {
                        set.insert(name, value);
                    }
                };
                match config.action {
                    RelabelAction::Replace => {
                        if let Some(captures) = regex.captures(&value) {
                            let mut target = String::new();
                            captures.expand(&config.target_label, &mut target);
                            if is_valid_label_name(&target) {
                                let mut result = String::new();
                                captures.expand(&config.replacement, &mut result);
                                put(&mut set, target, result);
                            }
                        }
                    }
                    RelabelAction::Keep if !regex.is_match(&value) => return None,
                    RelabelAction::Drop if regex.is_match(&value) => return None,
                    RelabelAction::KeepEqual
                        if set.get(&config.target_label).map_or("", String::as_str) != value =>
                    {
                        return None
                    }
                    RelabelAction::DropEqual
                        if set.get(&config.target_label).map_or("", String::as_str) == value =>
                    {
                        return None
                    }
                    RelabelAction::HashMod => {
                        let digest = md5::digest(value.as_bytes());
                        let number = digest[8..].iter().fold(0u64, |n, b| n << 8 | *b as u64);
                        put(
                            &mut set,
                            config.target_label.clone(),
                            (number % config.modulus).to_string(),
                        );
                    }
                    RelabelAction::LabelMap => {
                        for (name, value) in set.clone() {
                            if let Some(captures) = regex.captures(&name) {
                                let mut new_name = String::new();
                                captures.expand(&config.replacement, &mut new_name);
                                put(&mut set, new_name, value);
                            }
                        }
                    }
                    RelabelAction::LabelDrop => set.retain(|name, _| !regex.is_match(name)),
                    RelabelAction::LabelKeep => set.retain(|name, _| regex.is_match(name)),
                    RelabelAction::Lowercase => {
                        put(&mut set, config.target_label.clone(), value.to_lowercase())
                    }
                    RelabelAction::Uppercase => {
                        put(&mut set, config.target_label.clone(), value.to_uppercase())
                    }
                    _ => {}
                }
            }
            set.retain(|_, value| !value.is_empty());
            Some(set)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn sorted_unique_nonempty_and_as_modelled(
                input in labels_strategy(),
                configs in prop::collection::vec(config_strategy(), 0..6),
            ) {
                let compiled = compile_all(&configs).unwrap();
                let mut set: Vec<(String, String)> = input.clone().into_iter().collect();
                let keep = relabel(&mut set, &compiled);
                if keep {
                    prop_assert!(set.windows(2).all(|pair| pair[0].0 < pair[1].0), "{set:?}");
                    prop_assert!(set.iter().all(|(_, value)| !value.is_empty()));
                }
                // The regex crate's expansion agrees with Go's on every template above
                // (it differs on leading zeros and non-ASCII names, which are not used).
                let expected = model(input, &configs);
                let actual = keep.then(|| set.into_iter().collect::<BTreeMap<_, _>>());
                prop_assert_eq!(actual, expected);
            }

            #[test]
            fn arbitrary_rules_never_panic(
                names in prop::collection::vec("[a-z_]{1,3}", 0..5),
                values in prop::collection::vec(".{0,4}", 0..5),
                regex in "[a-z.*()|?$\\\\{},0-9]{0,6}",
                template in "[a-z$}{0-9_]{0,6}",
                action in 0usize..11,
                modulus in 1u64..u64::MAX,
            ) {
                let action = [
                    RelabelAction::Replace, RelabelAction::Keep, RelabelAction::Drop,
                    RelabelAction::KeepEqual, RelabelAction::DropEqual, RelabelAction::HashMod,
                    RelabelAction::LabelMap, RelabelAction::LabelDrop, RelabelAction::LabelKeep,
                    RelabelAction::Lowercase, RelabelAction::Uppercase,
                ][action];
                let config = RelabelConfig {
                    action,
                    source_labels: names.clone(),
                    separator: ";".to_owned(),
                    target_label: template.clone(),
                    regex,
                    modulus,
                    replacement: template,
                };
                let Ok(compiled) = compile_all(&[config]) else { return Ok(()); };
                let mut set: Vec<(String, String)> = names.into_iter().zip(values).collect();
                if relabel(&mut set, &compiled) {
                    prop_assert!(set.windows(2).all(|pair| pair[0].0 < pair[1].0), "{set:?}");
                    prop_assert!(set.iter().all(|(_, value)| !value.is_empty()));
                }
            }
        }
    }
}
