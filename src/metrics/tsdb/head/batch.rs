//! Appending a whole request at once: its series are visited stripe by stripe, taking each
//! stripe's lock once, and each series' memory is requested a few series ahead of its turn
//! (see [`crate::prefetch`]). Counters and the head's time range are updated once per
//! batch rather than once per series, so concurrent appenders do not bounce their cache
//! lines between cores.

use std::sync::atomic::Ordering;

use super::{newest_of, spill_slots, AppendOutcome, Head, SeriesRef, Stripe, STRIPES};
use crate::prefetch::{prefetch, prefetch_at};

/// One series of a batch and its samples, in timestamp order as sent.
pub type SeriesSamples<'a> = (SeriesRef, &'a [(i64, f64)]);

/// How far ahead of the series being appended its successors' memory is requested.
const AHEAD: usize = 8;

/// What [`Head::check_many`] found for a batch.
#[derive(Debug, Default)]
pub struct BatchCheck {
    /// One outcome per sample, in batch order (series after series).
    pub outcomes: Vec<AppendOutcome>,
    /// Per series: whether its definition still has to be written to the WAL.
    pub unlogged: Vec<bool>,
}

/// Batch positions grouped by stripe, in batch order within each stripe.
struct StripeGroups {
    order: Vec<u32>,
    /// `order[bounds[s]..bounds[s + 1]]` lives in stripe `s`.
    bounds: [u32; STRIPES + 1],
}

impl StripeGroups {
    fn new(refs: impl Iterator<Item = SeriesRef> + Clone) -> StripeGroups {
        let mut bounds = [0u32; STRIPES + 1];
        for series_ref in refs.clone() {
            bounds[series_ref as usize % STRIPES + 1] += 1;
        }
        for stripe in 0..STRIPES {
            bounds[stripe + 1] += bounds[stripe];
        }
        let mut next = bounds;
        let mut order = vec![0u32; bounds[STRIPES] as usize];
        for (position, series_ref) in refs.enumerate() {
            let stripe = series_ref as usize % STRIPES;
            order[next[stripe] as usize] = position as u32;
            next[stripe] += 1;
        }
        StripeGroups { order, bounds }
    }

    /// `(stripe, positions)` for every stripe the batch touches.
    fn iter(&self) -> impl Iterator<Item = (usize, &[u32])> {
        (0..STRIPES).filter_map(|stripe| {
            let range = self.bounds[stripe] as usize..self.bounds[stripe + 1] as usize;
            (!range.is_empty()).then(|| (stripe, &self.order[range]))
        })
    }
}

fn slot_of(series_ref: SeriesRef) -> usize {
    series_ref as usize / STRIPES
}

impl Head {
    /// What appending each sample of `batch` would do, without changing anything (for
    /// error reports before the WAL write), and which series are not logged yet.
    pub fn check_many(&self, batch: &[SeriesSamples<'_>]) -> BatchCheck {
        let mut starts = Vec::with_capacity(batch.len());
        let mut total = 0;
        for (_, samples) in batch {
            starts.push(total);
            total += samples.len();
        }
        let mut check = BatchCheck {
            outcomes: vec![AppendOutcome::Appended; total],
            unlogged: vec![false; batch.len()],
        };
        let min_valid_time = self.min_valid_time();
        let groups = StripeGroups::new(batch.iter().map(|(series_ref, _)| *series_ref));
        for (stripe, positions) in groups.iter() {
            let stripe = self.lock_stripe(stripe);
            for (at, &position) in positions.iter().enumerate() {
                if let Some(&ahead) = positions.get(at + AHEAD) {
                    prefetch_at(&stripe.slots, slot_of(batch[ahead as usize].0));
                }
                let position = position as usize;
                let (series_ref, samples) = batch[position];
                let slot = slot_of(series_ref);
                let outcomes = &mut check.outcomes[starts[position]..][..samples.len()];
                self.check_in(&stripe, slot, samples, min_valid_time, outcomes);
                // Appends hold the database's append gate, so no series disappears from
                // the stripe while a batch is under way: the slot state alone tells.
                check.unlogged[position] = stripe.slots.get(slot).is_some_and(|s| !s.is_logged());
            }
        }
        check
    }

    /// Judges `samples` of the series in `slot` of `stripe` against what it holds.
    fn check_in(
        &self,
        stripe: &Stripe,
        slot: usize,
        samples: &[(i64, f64)],
        min_valid_time: i64,
        outcomes: &mut [AppendOutcome],
    ) {
        let known = stripe
            .slots
            .get(slot)
            .map_or(i64::MIN, |state| state.newest);
        // Within one batch, samples after an accepted newer one are judged against it.
        let mut newest = (known != i64::MIN).then_some(known);
        for ((timestamp, value), outcome) in samples.iter().zip(outcomes) {
            if *timestamp < min_valid_time {
                *outcome = AppendOutcome::OutOfBounds;
                continue;
            }
            *outcome = match newest {
                Some(last) if *timestamp > last => AppendOutcome::Appended,
                None => AppendOutcome::Appended,
                _ => match stripe.series.get(slot) {
                    Some(Some(series)) => {
                        series.check(*timestamp, *value, self.out_of_order_window_ms)
                    }
                    _ => AppendOutcome::Appended,
                },
            };
            if *outcome == AppendOutcome::Appended && newest.is_none_or(|last| last != i64::MAX) {
                newest = Some(*timestamp);
            }
        }
    }

    /// Applies the samples of `batch` (after they are durable, or while replaying the WAL).
    pub fn apply_many(&self, batch: &[SeriesSamples<'_>]) {
        let min_valid_time = self.min_valid_time();
        let mut tally = Tally::default();
        let groups = StripeGroups::new(batch.iter().map(|(series_ref, _)| *series_ref));
        let mut to_spill: Vec<usize> = Vec::new();
        let mut spill_buffer = Vec::new();
        for (stripe, positions) in groups.iter() {
            let mut stripe = self.lock_stripe(stripe);
            to_spill.clear();
            for (at, &position) in positions.iter().enumerate() {
                // The series record first, then (once it is loaded) its open chunk.
                if let Some(&ahead) = positions.get(at + AHEAD) {
                    prefetch_at(&stripe.series, slot_of(batch[ahead as usize].0));
                }
                if let Some(&ahead) = positions.get(at + AHEAD / 2) {
                    if let Some(Some(series)) = stripe.series.get(slot_of(batch[ahead as usize].0))
                    {
                        series.append_lines().into_iter().for_each(prefetch);
                    }
                }
                let (series_ref, samples) = batch[position as usize];
                if self.apply_in(&mut stripe, series_ref, samples, min_valid_time, &mut tally) {
                    to_spill.push(slot_of(series_ref));
                }
            }
            // The chunks this batch closed, and open chunks' settled bytes, go to disk now,
            // while their bytes are warm.
            if let (Some(spill), false) = (&self.spill, to_spill.is_empty()) {
                // A series listed twice in the batch would be written twice.
                to_spill.sort_unstable();
                to_spill.dedup();
                spill_slots(
                    spill,
                    &mut stripe,
                    to_spill.iter().copied(),
                    &mut spill_buffer,
                );
            }
        }
        tally.publish(self);
    }

    /// Appends one series' samples; true when it has something for the spill file.
    fn apply_in(
        &self,
        stripe: &mut Stripe,
        series_ref: SeriesRef,
        samples: &[(i64, f64)],
        min_valid_time: i64,
        tally: &mut Tally,
    ) -> bool {
        let slot = slot_of(series_ref);
        let Some(Some(series)) = stripe.series.get_mut(slot) else {
            tracing::warn!(series_ref, "samples for an unknown series dropped");
            return false;
        };
        let closed_before = series.closed_chunks();
        for (timestamp, value) in samples {
            // Already persisted in a block (WAL replay after a head cut): skipped silently.
            if *timestamp < min_valid_time {
                continue;
            }
            let outcome = series.append(
                *timestamp,
                *value,
                self.out_of_order_window_ms,
                self.chunk_range_ms,
            );
            tally.add(outcome, *timestamp);
        }
        let to_spill = series.closed_chunks() != closed_before || series.open_chunk_wants_spill();
        stripe.slots[slot].newest = newest_of(series);
        to_spill
    }
}

/// What a batch did, published to the head's atomics once.
#[derive(Default)]
struct Tally {
    appended: u64,
    min_time: Option<i64>,
    max_time: i64,
    out_of_order_accepted: u64,
    duplicates: u64,
    too_old: u64,
    conflicting: u64,
    out_of_bounds: u64,
}

impl Tally {
    fn add(&mut self, outcome: AppendOutcome, timestamp: i64) {
        match outcome {
            AppendOutcome::Appended | AppendOutcome::OutOfOrderAccepted => {
                self.appended += 1;
                self.min_time = Some(self.min_time.map_or(timestamp, |t| t.min(timestamp)));
                self.max_time = self.max_time.max(timestamp);
                if outcome == AppendOutcome::OutOfOrderAccepted {
                    self.out_of_order_accepted += 1;
                }
            }
            AppendOutcome::Duplicate => self.duplicates += 1,
            AppendOutcome::TooOld => self.too_old += 1,
            AppendOutcome::ConflictingValue => self.conflicting += 1,
            AppendOutcome::OutOfBounds => self.out_of_bounds += 1,
        }
    }

    fn publish(&self, head: &Head) {
        if let Some(min_time) = self.min_time {
            head.min_time.fetch_min(min_time, Ordering::AcqRel);
            head.max_time.fetch_max(self.max_time, Ordering::AcqRel);
        }
        let counters = &head.counters;
        for (counter, delta) in [
            (&counters.samples_appended, self.appended),
            (&counters.out_of_order_accepted, self.out_of_order_accepted),
            (&counters.duplicates, self.duplicates),
            (&counters.too_old, self.too_old),
            (&counters.conflicting, self.conflicting),
            (&counters.out_of_bounds, self.out_of_bounds),
        ] {
            if delta > 0 {
                counter.fetch_add(delta, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::open_chunk;
    use super::*;
    use crate::metrics::tsdb::index::{MatchOp, Matcher};

    #[test]
    fn stripe_groups_hold_every_position_once_in_batch_order() {
        let refs: Vec<SeriesRef> = vec![5, 69, 5, 0, 64, 133, 1000, 3];
        let groups = StripeGroups::new(refs.iter().copied());
        let mut seen = Vec::new();
        for (stripe, positions) in groups.iter() {
            assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
            for &position in positions {
                assert_eq!(refs[position as usize] as usize % STRIPES, stripe);
                seen.push(position);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..refs.len() as u32).collect::<Vec<_>>());
    }

    fn samples_of(head: &Head, name: &str) -> Vec<(i64, f64)> {
        let matcher = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
        let mut selected = head.select(&[matcher], i64::MIN, i64::MAX, false);
        assert_eq!(selected.len(), 1);
        selected.pop().unwrap().samples
    }

    /// Values that take several bytes a sample in XOR, so open chunks fill up quickly.
    fn noisy(series: usize, step: i64) -> f64 {
        let mixed = (series as u64 + 1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(step as u64)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (mixed >> 11) as f64 / 1024.0
    }

    #[test]
    fn open_chunks_keep_only_their_tail_on_the_heap_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut head = Head::new(60_000, 7_200_000);
        head.spill_chunks_to(dir.path()).unwrap();
        let names: Vec<String> = (0..70).map(|i| format!("m{i}")).collect();
        let refs: Vec<SeriesRef> = names
            .iter()
            .map(|name| head.get_or_create(&[("__name__", name)]).unwrap().0)
            .collect();
        let at = |step: i64| 1_000_000 + step * 15_000;
        let expected = |series: usize, steps: std::ops::Range<i64>| -> Vec<(i64, u64)> {
            steps
                .map(|step| (at(step), noisy(series, step).to_bits()))
                .collect()
        };
        let read = |head: &Head, series: usize| -> Vec<(i64, u64)> {
            let samples = samples_of(head, &names[series]);
            samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
        };
        let mut largest_tail = 0;
        for step in 0..300 {
            let samples: Vec<[(i64, f64); 1]> = (0..names.len())
                .map(|series| [(at(step), noisy(series, step))])
                .collect();
            let batch: Vec<SeriesSamples<'_>> = refs
                .iter()
                .zip(&samples)
                .map(|(series_ref, samples)| (*series_ref, &samples[..]))
                .collect();
            head.apply_many(&batch);
            for stripe in head.stripes.iter() {
                let stripe = stripe.lock().unwrap();
                for series in stripe.series.iter().flatten() {
                    let (len, capacity) = series.open_chunk().heap_len();
                    largest_tail = largest_tail.max(len);
                    assert!(capacity <= open_chunk::TAIL_CAPACITY, "{capacity} bytes");
                }
            }
            // Mid-chunk, on a chunk edge and right after one.
            if [5, 61, 119, 120, 121, 200].contains(&step) {
                for series in [0, 33, 69] {
                    assert_eq!(read(&head, series), expected(series, 0..step + 1));
                }
            }
        }
        assert!(
            largest_tail < open_chunk::SETTLED_BYTES_TO_SPILL + 24,
            "open chunk tails stay small: {largest_tail} bytes"
        );
        let spilled = head.spilled_bytes();
        assert!(spilled > head.sample_bytes() * 9 / 10, "{spilled}");
        for series in 0..names.len() {
            assert_eq!(read(&head, series), expected(series, 0..300));
        }
        // Cutting a spilled open chunk in the middle keeps its newer samples.
        head.drop_before(at(250));
        for series in [0, 33, 69] {
            assert_eq!(read(&head, series), expected(series, 250..300));
        }
    }

    #[test]
    fn batches_judge_and_apply_like_single_series_appends() {
        let head = Head::new(60_000, 7_200_000);
        let names: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        let refs: Vec<SeriesRef> = names
            .iter()
            .map(|name| head.get_or_create(&[("__name__", name)]).unwrap().0)
            .collect();
        let first: Vec<Vec<(i64, f64)>> = (0..300)
            .map(|i| vec![(100_000, i as f64), (115_000, i as f64 + 1.0)])
            .collect();
        let batch: Vec<SeriesSamples<'_>> = refs
            .iter()
            .zip(&first)
            .map(|(series_ref, samples)| (*series_ref, samples.as_slice()))
            .collect();
        let check = head.check_many(&batch);
        assert!(check.outcomes.iter().all(|o| *o == AppendOutcome::Appended));
        assert!(check.unlogged.iter().all(|unlogged| *unlogged));
        head.apply_many(&batch);

        // Series 7 twice in one batch (judged against what is stored, applied in order),
        // an out-of-order sample, a duplicate, a conflicting value, one too old.
        let later = [(130_000, 9.0)];
        let ooo = [(107_000, 1.5)];
        let duplicate = [(115_000, 2.0)];
        let conflict = [(115_000, 99.0)];
        let too_old = [(10_000, 1.0)];
        let second: Vec<SeriesSamples<'_>> = vec![
            (refs[7], &later),
            (refs[1], &ooo),
            (refs[1], &duplicate),
            (refs[2], &conflict),
            (refs[3], &too_old),
            (refs[7], &[(145_000, 10.0)]),
        ];
        let check = head.check_many(&second);
        assert_eq!(
            check.outcomes,
            vec![
                AppendOutcome::Appended,
                AppendOutcome::OutOfOrderAccepted,
                AppendOutcome::Duplicate,
                AppendOutcome::ConflictingValue,
                AppendOutcome::TooOld,
                AppendOutcome::Appended,
            ]
        );
        assert!(check.unlogged.iter().all(|unlogged| !unlogged));
        head.apply_many(&[second[0], second[1], second[5]]);
        assert_eq!(
            samples_of(&head, "m7"),
            vec![
                (100_000, 7.0),
                (115_000, 8.0),
                (130_000, 9.0),
                (145_000, 10.0)
            ]
        );
        assert_eq!(
            samples_of(&head, "m1"),
            vec![(100_000, 1.0), (107_000, 1.5), (115_000, 2.0)]
        );
        assert_eq!(head.time_range(), Some((100_000, 145_000)));
        let counters = &head.counters;
        assert_eq!(counters.samples_appended.load(Ordering::Relaxed), 603);
        assert_eq!(counters.out_of_order_accepted.load(Ordering::Relaxed), 1);
    }
}
