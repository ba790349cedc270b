//! Loki's push validation: which streams and entries a decoded push may store, and
//! messages for the rest worded as Loki words them (clients and people grep for
//! "timestamp too old" or "entry too far behind").
//!
//! A stream is refused as a whole, once, for the first of: no labels; more label names
//! than the limit; then per label in name order: a name outside `[a-zA-Z_][a-zA-Z0-9_]*`,
//! a name or value longer than its limit, a name given twice. An entry of an accepted
//! stream is refused for the first of: older than `now - reject_old_samples_max_age`,
//! newer than `now + creation_grace_period`, a line longer than `max_line_size`. Streams
//! without entries are dropped silently. What passes keeps its order.
//!
//! "Entry too far behind" (older than the stream's newest stored entry minus the
//! out-of-order window) needs the store's state, so it is not checked here; the store can
//! word it with [`too_far_behind_message`].

use super::labels::{cut, is_valid_label_name, render_labels_shown};
use super::limits::PushLimits;
use super::stream::{PushedEntry, PushedStream};

/// At most this many messages are kept in [`Validated::rejections`].
pub const MAX_LISTED_REJECTIONS: usize = 10;
/// How much of one name, value or stream label a message shows.
const MAX_SHOWN_BYTES: usize = 128;

/// The outcome of [`validate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validated {
    /// What to store: streams with valid, unique labels (sorted by name) and their
    /// accepted entries, in the order sent. No stream is empty.
    pub streams: Vec<PushedStream>,
    /// Entries refused, counting every entry of a refused stream.
    pub rejected_entries: usize,
    /// The first [`MAX_LISTED_REJECTIONS`] messages, one per refused stream or entry.
    pub rejections: Vec<String>,
    /// Messages not listed because of the cap.
    pub unlisted_rejections: usize,
}

impl Validated {
    pub fn accepted_entries(&self) -> usize {
        self.streams.iter().map(|stream| stream.entries.len()).sum()
    }

    /// The messages, one a line, and `(and N more)` when some were not listed; `None`
    /// when nothing was refused. The body of the handler's 400 answer.
    pub fn rejection_summary(&self) -> Option<String> {
        if self.rejections.is_empty() {
            return None;
        }
        let mut out = self.rejections.join("\n");
        if self.unlisted_rejections > 0 {
            out.push_str(&format!("\n(and {} more)", self.unlisted_rejections));
        }
        Some(out)
    }

    fn reject(&mut self, entries: usize, message: impl FnOnce() -> String) {
        self.rejected_entries += entries;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push(message());
        } else {
            self.unlisted_rejections += 1;
        }
    }
}

/// Applies the stream and entry rules to a decoded push at time `now_ns` (Unix
/// nanoseconds). Streams must have labels sorted by name, as [`decode_push`] gives them.
///
/// [`decode_push`]: super::decode_push
pub fn validate(streams: Vec<PushedStream>, limits: &PushLimits, now_ns: i64) -> Validated {
    let mut out = Validated {
        streams: Vec::with_capacity(streams.len()),
        ..Validated::default()
    };
    let oldest_ns = limits
        .reject_old_samples_max_age_ns
        .map(|max_age| now_ns.saturating_sub(max_age));
    let newest_ns = now_ns.saturating_add(limits.creation_grace_period_ns);
    for PushedStream {
        labels,
        mut entries,
    } in streams
    {
        if entries.is_empty() {
            continue;
        }
        debug_assert!(labels.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        if let Some(problem) = label_problem(&labels, limits) {
            out.reject(entries.len(), || problem.message(&labels));
            continue;
        }
        let mut shown_labels = None;
        entries.retain(|entry| {
            let Some(problem) = entry_problem(entry, limits, oldest_ns, newest_ns) else {
                return true;
            };
            out.reject(1, || {
                let stream = shown_labels.get_or_insert_with(|| render(&labels));
                problem.message(stream)
            });
            false
        });
        if !entries.is_empty() {
            out.streams.push(PushedStream { labels, entries });
        }
    }
    out
}

fn render(labels: &[(String, String)]) -> String {
    render_labels_shown(labels, MAX_SHOWN_BYTES)
}

/// The first rule a stream's label set breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelProblem {
    Missing,
    TooMany { count: usize, limit: usize },
    InvalidName(usize),
    NameTooLong { index: usize, limit: usize },
    ValueTooLong { index: usize, limit: usize },
    DuplicateName(usize),
}

fn label_problem(labels: &[(String, String)], limits: &PushLimits) -> Option<LabelProblem> {
    if labels.is_empty() {
        return Some(LabelProblem::Missing);
    }
    if labels.len() > limits.max_label_names_per_series {
        return Some(LabelProblem::TooMany {
            count: labels.len(),
            limit: limits.max_label_names_per_series,
        });
    }
    for (index, (name, value)) in labels.iter().enumerate() {
        if !is_valid_label_name(name) {
            return Some(LabelProblem::InvalidName(index));
        }
        if name.len() > limits.max_label_name_length {
            return Some(LabelProblem::NameTooLong {
                index,
                limit: limits.max_label_name_length,
            });
        }
        if value.len() > limits.max_label_value_length {
            return Some(LabelProblem::ValueTooLong {
                index,
                limit: limits.max_label_value_length,
            });
        }
        if index > 0 && labels[index - 1].0 == *name {
            return Some(LabelProblem::DuplicateName(index));
        }
    }
    None
}

impl LabelProblem {
    fn message(&self, labels: &[(String, String)]) -> String {
        let stream = render(labels);
        let name = |index: usize| cut(&labels[index].0, MAX_SHOWN_BYTES).into_owned();
        match *self {
            LabelProblem::Missing => "error at least one label pair is required per stream".into(),
            LabelProblem::TooMany { count, limit } => {
                format!("entry for stream '{stream}' has {count} label names; limit {limit}")
            }
            LabelProblem::InvalidName(index) => format!(
                "stream '{stream}' has invalid label name: '{}' (must match [a-zA-Z_][a-zA-Z0-9_]*)",
                name(index)
            ),
            LabelProblem::NameTooLong { index, limit } => format!(
                "stream '{stream}' has label name too long: '{}' ({} bytes; limit {limit})",
                name(index),
                labels[index].0.len()
            ),
            LabelProblem::ValueTooLong { index, limit } => format!(
                "stream '{stream}' has label value too long: '{}' ({} bytes; limit {limit})",
                cut(&labels[index].1, MAX_SHOWN_BYTES),
                labels[index].1.len()
            ),
            LabelProblem::DuplicateName(index) => {
                format!("stream '{stream}' has duplicate label name: '{}'", name(index))
            }
        }
    }
}

/// The first rule an entry breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryProblem {
    TooOld { timestamp_ns: i64, oldest_ns: i64 },
    TooNew { timestamp_ns: i64, newest_ns: i64 },
    LineTooLong { length: usize, limit: usize },
}

fn entry_problem(
    entry: &PushedEntry,
    limits: &PushLimits,
    oldest_ns: Option<i64>,
    newest_ns: i64,
) -> Option<EntryProblem> {
    let timestamp_ns = entry.timestamp_ns;
    if let Some(oldest_ns) = oldest_ns.filter(|oldest| timestamp_ns < *oldest) {
        return Some(EntryProblem::TooOld {
            timestamp_ns,
            oldest_ns,
        });
    }
    if timestamp_ns > newest_ns {
        return Some(EntryProblem::TooNew {
            timestamp_ns,
            newest_ns,
        });
    }
    if limits.max_line_size > 0 && entry.line.len() > limits.max_line_size {
        return Some(EntryProblem::LineTooLong {
            length: entry.line.len(),
            limit: limits.max_line_size,
        });
    }
    None
}

impl EntryProblem {
    fn message(&self, stream: &str) -> String {
        match *self {
            EntryProblem::TooOld {
                timestamp_ns,
                oldest_ns,
            } => format!(
                "entry for stream '{stream}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
                rfc3339_seconds(timestamp_ns),
                rfc3339_seconds(oldest_ns)
            ),
            EntryProblem::TooNew {
                timestamp_ns,
                newest_ns,
            } => format!(
                "entry for stream '{stream}' has timestamp too new: {}, newest acceptable timestamp is: {}",
                rfc3339_seconds(timestamp_ns),
                rfc3339_seconds(newest_ns)
            ),
            EntryProblem::LineTooLong { length, limit } => format!(
                "Max entry size '{limit}' bytes exceeded for stream '{stream}' while adding an entry with length '{length}' bytes"
            ),
        }
    }
}

/// Loki's message for an entry older than its stream's out-of-order window allows, for
/// the store to use: `entry too far behind, entry timestamp is: …, oldest acceptable
/// timestamp is: …`.
pub fn too_far_behind_message(timestamp_ns: i64, oldest_acceptable_ns: i64) -> String {
    format!(
        "entry too far behind, entry timestamp is: {}, oldest acceptable timestamp is: {}",
        rfc3339_seconds(timestamp_ns),
        rfc3339_seconds(oldest_acceptable_ns)
    )
}

/// `2006-01-02T15:04:05Z`: RFC 3339 to the second (sub-seconds dropped), as Loki prints
/// times in these messages.
pub fn rfc3339_seconds(timestamp_ns: i64) -> String {
    let text = crate::time_format::rfc3339_millis(timestamp_ns.div_euclid(1_000_000));
    match text.rsplit_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}
