//! Which chunks the block writer codes relative to another chunk of the block (format
//! version 5, see `chunk::relative`): the finite buckets of a classic histogram and its
//! `_count`, relative to the histogram's `+Inf` bucket.
//!
//! Series arrive in label order, which puts the `+Inf` bucket first: `le="+Inf"` sorts
//! before every number, and `x_bucket` before `x_count`. The writer remembers the `+Inf`
//! bucket's chunks with their offsets, and a later series of the same histogram whose chunk
//! covers exactly the same time range tries the relative code, keeping it when smaller.

use std::collections::HashMap;

use crate::metrics::tsdb::chunk::XOR_FORMAT_VERSION;
use crate::metrics::tsdb::chunk::{encode_relative_chunk, is_decimal_version, FloatIter};

/// Bytes of remembered `+Inf` chunks beyond which they are forgotten: a huge block codes
/// fewer chunks relatively but never costs more memory.
const REMEMBERED_BYTES_MAX: usize = 64 << 20;

/// A histogram's labels as symbol references, without `le` and with the `_bucket` name.
pub(super) type HistogramKey = Vec<(u32, u32)>;

/// What a series is to the histograms of the block.
pub(super) enum Role {
    /// The `+Inf` bucket of a histogram: others may refer to its chunks.
    Reference(HistogramKey),
    /// A finite bucket or the `_count` of a histogram.
    Dependent(HistogramKey),
    Neither,
}

impl Role {
    /// The role of the series with `labels` (sorted by name) and their symbol references
    /// `refs`; `symbol` finds the reference of a string.
    pub(super) fn of<S: AsRef<str>>(
        labels: &[(S, S)],
        refs: &[(u32, u32)],
        symbol: impl Fn(&str) -> Option<u32>,
    ) -> Role {
        let find = |wanted: &str| labels.iter().position(|(name, _)| name.as_ref() == wanted);
        let Some(name_at) = find("__name__") else {
            return Role::Neither;
        };
        let name = labels[name_at].1.as_ref();
        match find("le") {
            Some(le_at) if name.ends_with("_bucket") => {
                let mut key = refs.to_vec();
                key.remove(le_at);
                if labels[le_at].1.as_ref() == "+Inf" {
                    Role::Reference(key)
                } else {
                    Role::Dependent(key)
                }
            }
            None => match name.strip_suffix("_count") {
                Some(base) => match symbol(&format!("{base}_bucket")) {
                    Some(bucket_name) => {
                        let mut key = refs.to_vec();
                        key[name_at].1 = bucket_name;
                        Role::Dependent(key)
                    }
                    None => Role::Neither,
                },
                None => Role::Neither,
            },
            Some(_) => Role::Neither,
        }
    }
}

struct ReferenceChunk {
    min_time: i64,
    max_time: i64,
    offset: u64,
    bytes: Vec<u8>,
}

/// The `+Inf` chunks written so far, by histogram.
#[derive(Default)]
pub(super) struct RelativeChunks {
    references: HashMap<HistogramKey, Vec<ReferenceChunk>>,
    bytes: usize,
}

impl RelativeChunks {
    /// Remembers a chunk of a `+Inf` bucket written at `offset`.
    pub(super) fn remember(
        &mut self,
        key: &HistogramKey,
        min_time: i64,
        max_time: i64,
        offset: u64,
        bytes: &[u8],
    ) {
        let float = bytes
            .first()
            .is_some_and(|version| *version == XOR_FORMAT_VERSION || is_decimal_version(*version));
        if !float {
            return;
        }
        if self.bytes + bytes.len() > REMEMBERED_BYTES_MAX {
            self.references.clear();
            self.bytes = 0;
        }
        self.bytes += bytes.len();
        self.references
            .entry(key.clone())
            .or_default()
            .push(ReferenceChunk {
                min_time,
                max_time,
                offset,
                bytes: bytes.to_vec(),
            });
    }

    /// The chunk `bytes` of a dependent series of histogram `key`, covering
    /// `[min_time, max_time]`, coded relative to the `+Inf` chunk of the same range, if
    /// there is one and that code is smaller.
    pub(super) fn encode(
        &self,
        key: &HistogramKey,
        min_time: i64,
        max_time: i64,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        let reference = self
            .references
            .get(key)?
            .iter()
            .find(|chunk| chunk.min_time == min_time && chunk.max_time == max_time)?;
        let own: Vec<(i64, f64)> = FloatIter::new(bytes).ok()?.collect();
        let other: Vec<(i64, f64)> = FloatIter::new(&reference.bytes).ok()?.collect();
        encode_relative_chunk(&own, &other, reference.offset)
            .filter(|relative| relative.len() < bytes.len())
    }
}
