//! What the evaluator needs from storage: series matching matchers with their samples in
//! a closed time range. The TSDB implements it; tests may use the TSDB directly.

use crate::metrics::tsdb::index::Matcher;
use crate::metrics::tsdb::{SeriesData, Tsdb};

pub trait Storage: Sync {
    /// Series matching all matchers with samples in `[mint, maxt]`, sorted by labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData>;
}

impl Storage for Tsdb {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        Tsdb::select(self, matchers, mint, maxt)
    }
}
