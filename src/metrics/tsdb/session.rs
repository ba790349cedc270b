//! [`AppendSession`]: appends that may name series by reference, found by key.
//!
//! A session holds the append gate shared from its creation to its end. The
//! head cut removes series only while holding the gate exclusively, and empties the key
//! cache when it does, so a reference found in a session stays valid for the session's
//! appends.

use std::sync::RwLockReadGuard;

use super::db::{AppendHistogramSeries, AppendReport, AppendSeries, Tsdb};
use super::error::TsdbError;
use super::index::SeriesRef;
use super::series_key::SeriesKey;

/// See the module documentation. Keep it short-lived (one request): the head cut waits
/// for it.
pub struct AppendSession<'a> {
    db: &'a Tsdb,
    _gate: RwLockReadGuard<'a, ()>,
}

impl Tsdb {
    pub fn append_session(&self) -> AppendSession<'_> {
        AppendSession {
            db: self,
            _gate: self
                .append_gate
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }
}

impl AppendSession<'_> {
    /// The stored series with each key, in order; pass them on as
    /// [`AppendSeries::known`].
    pub fn known_series(&self, keys: &[SeriesKey]) -> Vec<Option<SeriesRef>> {
        self.db
            .known_keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .find_many(keys)
    }

    /// See [`Tsdb::append`].
    pub fn append(&self, batch: &[AppendSeries<'_>]) -> Result<AppendReport, TsdbError> {
        self.db.append_gated(batch)
    }

    /// See [`Tsdb::append_histograms`].
    pub fn append_histograms(
        &self,
        batch: &[AppendHistogramSeries<'_>],
    ) -> Result<AppendReport, TsdbError> {
        self.db.append_histograms_gated(batch)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::duration::PromDuration;
    use crate::metrics::tsdb::{AppendSeries, SeriesKey, Tsdb, TsdbOptions};

    const HOUR: i64 = 3_600_000;

    fn options() -> TsdbOptions {
        TsdbOptions {
            wal_fsync: false,
            block_range: PromDuration::from_millis(HOUR as u64),
            compaction_ranges: vec![],
            retention_time: PromDuration::from_millis(0),
            ..TsdbOptions::default()
        }
    }

    fn samples_of(db: &Tsdb, instance: &str) -> Vec<(i64, f64)> {
        let matcher = crate::metrics::tsdb::index::Matcher::new(
            crate::metrics::tsdb::index::MatchOp::Equal,
            "instance",
            instance,
        )
        .unwrap();
        let mut found = db.select(&[matcher], i64::MIN, i64::MAX);
        assert!(found.len() <= 1);
        found.pop().map(|series| series.samples).unwrap_or_default()
    }

    fn keyed<'a>(
        labels: &'a [(&'a str, &'a str)],
        samples: &'a [(i64, f64)],
        key: SeriesKey,
    ) -> AppendSeries<'a> {
        AppendSeries {
            key: Some(key),
            ..AppendSeries::new(labels, samples)
        }
    }

    #[test]
    fn series_found_by_key_are_appended_by_reference_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), options()).unwrap();
        let labels_a = [("__name__", "up"), ("instance", "a")];
        let labels_b = [("__name__", "up"), ("instance", "b")];
        let (key_a, key_b) = (SeriesKey::of(b"a"), SeriesKey::of(b"b"));

        let session = db.append_session();
        assert_eq!(session.known_series(&[key_a, key_b]), [None, None]);
        let report = session
            .append(&[
                keyed(&labels_a, &[(1_000, 1.0)], key_a),
                // A series refused by validation is not remembered.
                keyed(&[("instance", "no-name")], &[(1_000, 1.0)], key_b),
            ])
            .unwrap();
        assert_eq!((report.samples_stored, report.samples_rejected), (1, 1));
        let found = session.known_series(&[key_a, key_b]);
        assert!(found[0].is_some());
        assert_eq!(found[1], None);
        drop(session);

        // Appends by reference, without labels, reach the same series; a refused sample
        // is reported with the series' labels from the index.
        let session = db.append_session();
        let known = session.known_series(&[key_a])[0];
        let by_ref = |samples| AppendSeries {
            key: Some(key_a),
            known,
            ..AppendSeries::new(&[], samples)
        };
        let report = session
            .append(&[by_ref(&[(2_000, 2.0), (3_000, 3.0)])])
            .unwrap();
        assert_eq!(report.samples_stored, 2);
        let report = session.append(&[by_ref(&[(3_000, 4.0)])]).unwrap();
        assert_eq!(report.samples_rejected, 1);
        assert!(
            report.errors[0].contains(r#"up{instance="a"}"#),
            "{:?}",
            report.errors
        );
        // Labels and reference side by side in one batch.
        let report = session
            .append(&[
                by_ref(&[(4_000, 4.0)]),
                keyed(&labels_b, &[(4_000, 40.0)], key_b),
            ])
            .unwrap();
        assert_eq!(report.samples_stored, 2);
        assert!(session.known_series(&[key_b])[0].is_some());
        drop(session);
        let expected_a = vec![(1_000, 1.0), (2_000, 2.0), (3_000, 3.0), (4_000, 4.0)];
        assert_eq!(samples_of(&db, "a"), expected_a);

        // The WAL holds what was appended by reference; the keys are not kept.
        drop(db);
        let db = Tsdb::open(dir.path(), options()).unwrap();
        assert_eq!(samples_of(&db, "a"), expected_a);
        assert_eq!(samples_of(&db, "b"), [(4_000, 40.0)]);
        assert_eq!(db.append_session().known_series(&[key_a]), [None]);
    }

    #[test]
    fn keys_stay_bounded_when_a_sender_encodes_series_in_ever_new_ways() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), options()).unwrap();
        let instances: Vec<String> = (0..10).map(|i| format!("host-{i}")).collect();
        for round in 0..300i64 {
            let labels: Vec<[(&str, &str); 2]> = instances
                .iter()
                .map(|instance| [("__name__", "up"), ("instance", instance.as_str())])
                .collect();
            let samples = [(round * 1_000, 1.0)];
            let batch: Vec<AppendSeries<'_>> = labels
                .iter()
                .enumerate()
                .map(|(i, labels)| {
                    keyed(
                        labels,
                        &samples,
                        SeriesKey::of(format!("{round}/{i}").as_bytes()),
                    )
                })
                .collect();
            assert_eq!(db.append(&batch).unwrap().samples_stored, 10);
            let keys = db.known_keys.read().unwrap().len();
            assert!(keys <= 2 * 10 + 1024, "{keys} keys after round {round}");
        }
        // The newest encoding of each series is still found.
        let newest: Vec<SeriesKey> = (0..10)
            .map(|i| SeriesKey::of(format!("299/{i}").as_bytes()))
            .collect();
        let found = db.append_session().known_series(&newest);
        assert!(found.iter().all(Option::is_some), "{found:?}");
        assert_eq!(db.num_series(), 10);
    }

    #[test]
    fn a_head_cut_that_removes_series_forgets_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), options()).unwrap();
        let old = [("__name__", "up"), ("instance", "old")];
        let live = [("__name__", "up"), ("instance", "live")];
        let (key_old, key_live) = (SeriesKey::of(b"old"), SeriesKey::of(b"live"));
        db.append(&[
            keyed(&old, &[(60_000, 1.0)], key_old),
            keyed(&live, &[(60_000, 1.0)], key_live),
        ])
        .unwrap();
        db.append(&[keyed(&live, &[(3 * HOUR, 2.0)], key_live)])
            .unwrap();
        let report = db.maintain(3 * HOUR).unwrap();
        assert_eq!(report.series_removed, 1);
        let session = db.append_session();
        assert_eq!(session.known_series(&[key_old, key_live]), [None, None]);
        // Both come back by label: the live one as itself, the old one as a new series.
        let report = session
            .append(&[
                keyed(&old, &[(3 * HOUR, 5.0)], key_old),
                keyed(&live, &[(3 * HOUR + 1, 3.0)], key_live),
            ])
            .unwrap();
        assert_eq!((report.samples_stored, report.series_created), (2, 1));
        assert!(session
            .known_series(&[key_old, key_live])
            .iter()
            .all(Option::is_some));
        drop(session);
        assert_eq!(samples_of(&db, "live").len(), 3);
    }
}
