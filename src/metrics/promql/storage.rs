//! What the evaluator needs from storage: series matching matchers with their samples in
//! a closed time range. The TSDB implements it; tests may use the TSDB directly.

use crate::metrics::tsdb::index::Matcher;
use crate::metrics::tsdb::{SeriesData, Tsdb};

pub trait Storage: Sync {
    /// Series matching all matchers with samples in `[mint, maxt]`, sorted by labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData>;

    /// Like [`Storage::select`], for a caller that only uses each series' newest sample
    /// in the range: the storage may leave older samples out.
    fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        self.select(matchers, mint, maxt)
    }
}

impl Storage for Tsdb {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        Tsdb::select(self, matchers, mint, maxt)
    }

    fn select_newest(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesData> {
        Tsdb::select_newest(self, matchers, mint, maxt)
    }
}
