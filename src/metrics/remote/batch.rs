//! The decoded form of one remote-write request: the series that passed validation, counts
//! of what they carried, and the series that were rejected with the reason for each.
//!
//! Nothing is copied per label: the batch keeps the decompressed body and refers to label
//! text by byte ranges of it ([`TextSpan`]), which are checked once when made. Samples of
//! all series sit in one flat list.

use std::fmt;
use std::iter::FusedIterator;

use super::decode::Protocol;
use super::validate::{is_label_name, render_series, CheckedLabel, SeriesProblem};
use crate::metrics::histogram::FloatHistogram;
use crate::metrics::tsdb::index::SeriesRef;
use crate::metrics::tsdb::SeriesKey;

/// Counts of elements in a request. In [`DecodedWrite::stats`] they cover the series that
/// passed validation; [`DecodedWrite::rejected_stats`] covers the rest.
///
/// Float samples are handed on in [`DecodedWrite::series`], native histograms in
/// [`DecodedWrite::histogram_series`]. Exemplars and metadata are counted here but not
/// stored, so a handler filling the 2.0 `X-Prometheus-Remote-Write-*-Written` headers must
/// not report them as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
    /// 1.0: `WriteRequest.metadata` entries; 2.0: series carrying non-empty metadata.
    pub metadata: u64,
}

impl WriteStats {
    fn add(&mut self, other: &WriteStats) {
        self.samples += other.samples;
        self.histograms += other.histograms;
        self.exemplars += other.exemplars;
        self.metadata += other.metadata;
    }
}

/// One series that broke a rule; the rest of the request is still decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedSeries {
    /// Position of the series in the request's `timeseries` list.
    pub index: usize,
    /// The label set as sent, e.g. `up{instance="a:9100", job="node"}` (long values cut).
    pub series: String,
    pub problem: SeriesProblem,
    /// What the series carried and was dropped with it.
    pub dropped: WriteStats,
}

impl fmt::Display for RejectedSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "series {}: {}", self.series, self.problem)
    }
}

/// Rejected series listed with their label set and reason; further ones are only counted,
/// so that a request of many bad series cannot make messages larger than itself.
pub const MAX_REJECTED_LISTED: usize = 100;

/// A series with owned strings, for callers that keep labels beyond the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedSeries {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

/// A byte range of a batch's body that holds valid UTF-8. Its fields are private to this
/// module and the only constructors, [`BatchBuilder::label_name_span`] and
/// [`BatchBuilder::utf8_span`], check the bytes; [`BatchBuilder::finish`] checks that the
/// body it is given is the one the spans were made in. That is what lets
/// [`DecodedSeries`] hand out `&str` without checking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TextSpan {
    start: u32,
    end: u32,
}

impl TextSpan {
    /// The byte range in the body.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The two spans of one accepted label.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabelSpans {
    pub name: TextSpan,
    pub value: TextSpan,
}

#[derive(Clone, Copy, Debug)]
struct SeriesEntry {
    labels_end: u32,
    samples_end: u32,
    key: Option<SeriesKey>,
    known: Option<SeriesRef>,
}

/// A decoded request. Label text is read from the decompressed body it keeps, so reading
/// labels allocates nothing.
pub struct DecodedWrite {
    pub protocol: Protocol,
    pub stats: WriteStats,
    /// The first [`MAX_REJECTED_LISTED`] rejected series, in request order.
    pub rejected: Vec<RejectedSeries>,
    /// How many series were rejected in all (may exceed `rejected.len()`).
    pub rejected_total: u64,
    rejected_dropped: WriteStats,
    body: Vec<u8>,
    labels: Vec<LabelSpans>,
    samples: Vec<(i64, f64)>,
    /// Aligned with `samples` when any sample of the request has a start timestamp
    /// (0 = unset, as on the wire).
    start_timestamps: Option<Vec<i64>>,
    series: Vec<SeriesEntry>,
    /// Accepted series with native histogram samples (rare next to float series, so
    /// their labels are owned).
    pub histogram_series: Vec<HistogramSeries>,
}

/// One series' native histogram samples in a request; labels sorted.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSeries {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, FloatHistogram)>,
}

impl DecodedWrite {
    /// Number of accepted series with at least one float sample.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The accepted series, in request order.
    pub fn series(&self) -> SeriesIter<'_> {
        SeriesIter {
            batch: self,
            next: 0,
            end: self.series.len(),
        }
    }

    pub fn get(&self, index: usize) -> Option<DecodedSeries<'_>> {
        let entry = self.series.get(index)?;
        let (labels_start, samples_start) = match index.checked_sub(1) {
            Some(previous) => {
                let previous = self.series[previous];
                (previous.labels_end, previous.samples_end)
            }
            None => (0, 0),
        };
        let label_range = labels_start as usize..entry.labels_end as usize;
        let sample_range = samples_start as usize..entry.samples_end as usize;
        Some(DecodedSeries {
            body: &self.body,
            key: entry.key,
            known: entry.known,
            labels: &self.labels[label_range],
            samples: &self.samples[sample_range.clone()],
            start_timestamps: self
                .start_timestamps
                .as_ref()
                .and_then(|starts| starts.get(sample_range)),
        })
    }

    /// Total float samples in accepted series (same as `stats.samples`).
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// What all rejected series carried (listed or not).
    pub fn rejected_stats(&self) -> WriteStats {
        self.rejected_dropped
    }

    /// One line for an error response naming the first `max_listed` rejected series, e.g.
    /// `2 series rejected (5 samples): series {job="a"}: missing metric name (label
    /// __name__); series …`. `None` when nothing was rejected.
    pub fn rejection_summary(&self, max_listed: usize) -> Option<String> {
        if self.rejected_total == 0 {
            return None;
        }
        let dropped = self.rejected_stats();
        let mut out = format!(
            "{} series rejected ({} samples, {} histograms)",
            self.rejected_total, dropped.samples, dropped.histograms
        );
        let listed = self.rejected.iter().take(max_listed);
        for (position, rejected) in listed.enumerate() {
            out.push_str(if position == 0 { ": " } else { "; " });
            out.push_str(&rejected.to_string());
        }
        let unlisted = self.rejected_total - self.rejected.len().min(max_listed) as u64;
        if unlisted > 0 {
            out.push_str(&format!("; and {unlisted} more"));
        }
        Some(out)
    }

    /// Every accepted series with owned strings.
    pub fn to_owned_series(&self) -> Vec<OwnedSeries> {
        self.series()
            .map(|series| series.to_owned_series())
            .collect()
    }
}

/// One accepted series, borrowed from its [`DecodedWrite`]. Labels are sorted by name,
/// unique, valid and have non-empty values; `__name__` is among them.
#[derive(Clone, Copy)]
pub struct DecodedSeries<'a> {
    body: &'a [u8],
    key: Option<SeriesKey>,
    known: Option<SeriesRef>,
    labels: &'a [LabelSpans],
    samples: &'a [(i64, f64)],
    start_timestamps: Option<&'a [i64]>,
}

impl<'a> DecodedSeries<'a> {
    fn text(&self, span: TextSpan) -> &'a str {
        let bytes = self
            .body
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default();
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: a `TextSpan` is only made by `BatchBuilder::label_name_span` (the bytes
        // match `[a-zA-Z_][a-zA-Z0-9_]*`, so they are ASCII) or `BatchBuilder::utf8_span` (the bytes passed `str::from_utf8`), over the
        // body the builder was created for; `BatchBuilder::finish` asserts that the body
        // stored here is that same allocation with the same length, and `body` is private
        // and never modified afterwards. So `bytes` is exactly a range that was checked to
        // be valid UTF-8 (`get` returns an empty slice rather than anything else).
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The fingerprint of the series' labels as sent, when the decoder was asked for keys.
    pub fn key(&self) -> Option<SeriesKey> {
        self.key
    }

    /// The stored series this one is, when the decoder's lookup found it by key. Its labels
    /// were then skipped: [`Self::labels`] is empty.
    pub fn known(&self) -> Option<SeriesRef> {
        self.known
    }

    /// `(name, value)` pairs sorted by name (none for a [`Self::known`] series).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + Clone + 'a {
        let series = *self;
        self.labels
            .iter()
            .map(move |label| (series.text(label.name), series.text(label.value)))
    }

    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let index = self
            .labels
            .binary_search_by(|label| self.text(label.name).cmp(name))
            .ok()?;
        Some(self.text(self.labels[index].value))
    }

    /// The `__name__` value (always present in an accepted series).
    pub fn metric_name(&self) -> &'a str {
        self.get("__name__").unwrap_or_default()
    }

    /// `(timestamp ms, value)` in the order sent (senders send them in time order).
    /// Stale markers keep their exact NaN bit pattern.
    pub fn samples(&self) -> &'a [(i64, f64)] {
        self.samples
    }

    /// Start ("created") timestamps in ms aligned with [`Self::samples`], 0 where unset;
    /// `None` when no sample of the request carried one (always for 1.0).
    pub fn start_timestamps(&self) -> Option<&'a [i64]> {
        self.start_timestamps
    }

    pub fn to_owned_series(&self) -> OwnedSeries {
        OwnedSeries {
            labels: self
                .labels()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            samples: self.samples.to_vec(),
        }
    }
}

impl fmt::Debug for DecodedSeries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedSeries")
            .field("labels", &self.labels().collect::<Vec<_>>())
            .field("samples", &self.samples)
            .field("start_timestamps", &self.start_timestamps)
            .finish()
    }
}

impl fmt::Debug for DecodedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedWrite")
            .field("protocol", &self.protocol)
            .field("stats", &self.stats)
            .field("series", &self.series().collect::<Vec<_>>())
            .field("rejected", &self.rejected)
            .finish()
    }
}

impl fmt::Display for DecodedSeries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_series(self.labels()))
    }
}

/// Iterator over the accepted series of a [`DecodedWrite`].
#[derive(Clone, Debug)]
pub struct SeriesIter<'a> {
    batch: &'a DecodedWrite,
    next: usize,
    end: usize,
}

impl<'a> Iterator for SeriesIter<'a> {
    type Item = DecodedSeries<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let series = self.batch.get(self.next);
        self.next += 1;
        series
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.end - self.next;
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for SeriesIter<'_> {}
impl FusedIterator for SeriesIter<'_> {}

/// Builds a [`DecodedWrite`] one series at a time while the decoder walks the body. A
/// series is opened, fed samples, then committed with its checked labels or rejected, so a
/// rejected series leaves nothing behind.
pub(crate) struct BatchBuilder {
    protocol: Protocol,
    stats: WriteStats,
    rejected: Vec<RejectedSeries>,
    rejected_total: u64,
    rejected_dropped: WriteStats,
    labels: Vec<LabelSpans>,
    samples: Vec<(i64, f64)>,
    /// Aligned with `samples` once a start timestamp was seen; empty and unused before.
    start_timestamps: Vec<i64>,
    has_start_timestamps: bool,
    series: Vec<SeriesEntry>,
    /// Address and length of the body being decoded: spans are offsets from here.
    body_address: usize,
    body_len: usize,
    samples_mark: usize,
    /// The open series' key, if the decoder computed one.
    open_key: Option<SeriesKey>,
    /// Histogram samples of the open series.
    open_histograms: Vec<(i64, FloatHistogram)>,
    histogram_series: Vec<HistogramSeries>,
}

impl BatchBuilder {
    /// A builder for decoding `body`, which must be at most 4 GiB (offsets are `u32`;
    /// `decode_protobuf` checks this). Capacities are guessed from the body size so that
    /// typical requests never reallocate.
    pub fn new(protocol: Protocol, body: &[u8], bytes_per_label: usize) -> Self {
        debug_assert!(body.len() <= u32::MAX as usize);
        let label_guess = body.len() / bytes_per_label.max(1);
        BatchBuilder {
            protocol,
            stats: WriteStats::default(),
            rejected: Vec::new(),
            rejected_total: 0,
            rejected_dropped: WriteStats::default(),
            labels: Vec::with_capacity(label_guess),
            samples: Vec::with_capacity(label_guess / 6),
            start_timestamps: Vec::new(),
            has_start_timestamps: false,
            series: Vec::with_capacity(label_guess / 6),
            body_address: body.as_ptr() as usize,
            body_len: body.len(),
            samples_mark: 0,
            open_key: None,
            open_histograms: Vec::new(),
            histogram_series: Vec::new(),
        }
    }

    /// Where `piece` lies in the body, if it does.
    #[inline(always)]
    fn offsets(&self, piece: &[u8]) -> Option<(u32, u32)> {
        let start = (piece.as_ptr() as usize).checked_sub(self.body_address)?;
        let end = start.checked_add(piece.len())?;
        if end > self.body_len {
            return None;
        }
        // `end <= body_len <= u32::MAX`.
        Some((start as u32, end as u32))
    }

    /// A span for `piece` (a slice of the body) if it is a valid label name, which
    /// implies ASCII.
    #[inline(always)]
    pub fn label_name_span(&self, piece: &[u8]) -> Option<TextSpan> {
        if !is_label_name(piece) {
            return None;
        }
        debug_assert!(piece.is_ascii());
        let (start, end) = self.offsets(piece)?;
        Some(TextSpan { start, end })
    }

    /// A span for `piece` (a slice of the body) if it is valid UTF-8.
    #[inline(always)]
    pub fn utf8_span(&self, piece: &[u8]) -> Option<TextSpan> {
        if !piece.is_ascii() && std::str::from_utf8(piece).is_err() {
            return None;
        }
        let (start, end) = self.offsets(piece)?;
        Some(TextSpan { start, end })
    }

    /// Starts a series: remembers where to roll back to.
    #[inline]
    pub fn open_series(&mut self) {
        self.samples_mark = self.samples.len();
        self.open_key = None;
        self.open_histograms.clear();
    }

    /// Records the open series' key, handed on with it if it is kept.
    pub fn set_series_key(&mut self, key: SeriesKey) {
        self.open_key = Some(key);
    }

    pub fn push_histogram(&mut self, timestamp: i64, histogram: FloatHistogram) {
        self.open_histograms.push((timestamp, histogram));
    }

    #[inline]
    pub fn push_sample(&mut self, timestamp: i64, value: f64, start_timestamp: i64) {
        if start_timestamp != 0 {
            self.track_start_timestamps();
        }
        self.samples.push((timestamp, value));
        if self.has_start_timestamps {
            self.start_timestamps.push(start_timestamp);
        }
    }

    /// From the first start timestamp on, keeps one per sample (0 for the earlier ones).
    fn track_start_timestamps(&mut self) {
        if !self.has_start_timestamps {
            self.has_start_timestamps = true;
            self.start_timestamps.resize(self.samples.len(), 0);
        }
    }

    /// Samples pushed since [`Self::open_series`].
    fn open_samples(&self) -> usize {
        self.samples.len() - self.samples_mark
    }

    /// Sets the start timestamp of the open series' samples that have none (2.0 senders
    /// before rc.4 sent one per series).
    pub fn fill_start_timestamps(&mut self, start_timestamp: i64) {
        if start_timestamp == 0 || self.open_samples() == 0 {
            return;
        }
        self.track_start_timestamps();
        for slot in &mut self.start_timestamps[self.samples_mark..] {
            if *slot == 0 {
                *slot = start_timestamp;
            }
        }
    }

    /// Keeps the open series with `labels` (checked and sorted): its float samples in
    /// the series list, its histogram samples in the histogram series.
    #[inline]
    pub fn commit_series(&mut self, labels: &[CheckedLabel<'_>], counts: WriteStats) {
        self.stats.add(&counts);
        if !self.open_histograms.is_empty() {
            // Checked labels are valid UTF-8.
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            self.histogram_series.push(HistogramSeries {
                labels: labels
                    .iter()
                    .map(|label| (text(label.name), text(label.value)))
                    .collect(),
                samples: std::mem::take(&mut self.open_histograms),
            });
        }
        if self.open_samples() == 0 {
            return;
        }
        self.labels.extend(labels.iter().map(|label| label.spans));
        self.series.push(SeriesEntry {
            labels_end: self.labels.len() as u32,
            samples_end: self.samples.len() as u32,
            key: self.open_key,
            known: None,
        });
    }

    /// Keeps the open series, a stored one found by its key, without labels. Its histogram
    /// samples are not kept here: the decoder looks up only series without any.
    pub fn commit_known_series(&mut self, series_ref: SeriesRef, counts: WriteStats) {
        debug_assert!(self.open_histograms.is_empty());
        self.stats.add(&counts);
        if self.open_samples() == 0 {
            return;
        }
        self.series.push(SeriesEntry {
            labels_end: self.labels.len() as u32,
            samples_end: self.samples.len() as u32,
            key: self.open_key,
            known: Some(series_ref),
        });
    }

    /// Drops the open series and records why; `render` names the series and runs only
    /// while fewer than [`MAX_REJECTED_LISTED`] are listed.
    pub fn reject_series(
        &mut self,
        index: usize,
        render: impl FnOnce() -> String,
        problem: SeriesProblem,
        dropped: WriteStats,
    ) {
        self.samples.truncate(self.samples_mark);
        self.open_histograms.clear();
        if self.has_start_timestamps {
            self.start_timestamps.truncate(self.samples_mark);
        }
        self.rejected_total += 1;
        self.rejected_dropped.add(&dropped);
        if self.rejected.len() < MAX_REJECTED_LISTED {
            self.rejected.push(RejectedSeries {
                index,
                series: render(),
                problem,
                dropped,
            });
        }
    }

    pub fn add_metadata(&mut self, count: u64) {
        self.stats.metadata += count;
    }

    /// The batch, keeping `body`, which must be the very buffer this builder was created
    /// for: the spans point into it.
    ///
    /// # Panics
    /// If `body` is another buffer (a bug in the decoder, not something input can cause).
    pub fn finish(self, body: Vec<u8>) -> DecodedWrite {
        assert!(
            body.as_ptr() as usize == self.body_address && body.len() == self.body_len,
            "batch finished with a body other than the one it was decoded from"
        );
        debug_assert!(
            !self.has_start_timestamps || self.start_timestamps.len() == self.samples.len()
        );
        DecodedWrite {
            protocol: self.protocol,
            stats: self.stats,
            rejected: self.rejected,
            rejected_total: self.rejected_total,
            rejected_dropped: self.rejected_dropped,
            body,
            labels: self.labels,
            samples: self.samples,
            start_timestamps: self.has_start_timestamps.then_some(self.start_timestamps),
            histogram_series: self.histogram_series,
            series: self.series,
        }
    }
}
