//! What a decoded push holds: streams of entries, and the merging of streams that a
//! request lists more than once.

use std::collections::HashMap;

/// One log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushedEntry {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    pub line: String,
    /// Name/value pairs attached to this line only, in the order sent.
    pub structured_metadata: Vec<(String, String)>,
}

/// One stream of a push request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushedStream {
    /// Sorted by name, empty values dropped. After [`decode_push`](super::decode_push) a
    /// name may still be invalid, too long or given twice; after
    /// [`validate`](super::validate) names are valid and unique.
    pub labels: Vec<(String, String)>,
    /// In the order sent (not sorted by time).
    pub entries: Vec<PushedEntry>,
}

/// Collects streams in order of first appearance; a label set seen again gets its entries
/// appended to the first stream with that set.
#[derive(Default)]
pub(super) struct StreamMerger {
    streams: Vec<PushedStream>,
    index: HashMap<Vec<(String, String)>, usize>,
}

impl StreamMerger {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        StreamMerger {
            streams: Vec::with_capacity(capacity),
            index: HashMap::with_capacity(capacity),
        }
    }

    /// `labels` must already be normalized (sorted, empty values dropped).
    pub(super) fn push(&mut self, labels: Vec<(String, String)>, entries: Vec<PushedEntry>) {
        if let Some(&position) = self.index.get(&labels) {
            self.streams[position].entries.extend(entries);
            return;
        }
        self.index.insert(labels.clone(), self.streams.len());
        self.streams.push(PushedStream { labels, entries });
    }

    pub(super) fn finish(self) -> Vec<PushedStream> {
        self.streams
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(timestamp_ns: i64) -> PushedEntry {
        PushedEntry {
            timestamp_ns,
            line: format!("line {timestamp_ns}"),
            structured_metadata: vec![],
        }
    }

    #[test]
    fn same_label_sets_merge_in_order() {
        let a = vec![("app".to_string(), "a".to_string())];
        let b = vec![("app".to_string(), "b".to_string())];
        let mut merger = StreamMerger::with_capacity(3);
        merger.push(a.clone(), vec![entry(3), entry(1)]);
        merger.push(b.clone(), vec![entry(2)]);
        merger.push(a.clone(), vec![entry(0)]);
        let streams = merger.finish();
        assert_eq!(
            streams,
            vec![
                PushedStream {
                    labels: a,
                    entries: vec![entry(3), entry(1), entry(0)],
                },
                PushedStream {
                    labels: b,
                    entries: vec![entry(2)],
                },
            ]
        );
    }
}
