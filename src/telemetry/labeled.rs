//! Counters and histograms keyed by a small set of label values (e.g. handler and code).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::exposition::TextWriter;
use super::histogram::Histogram;

/// A counter family with fixed label names; one lock per increment, fine for request rates.
pub struct LabeledCounter<const N: usize> {
    label_names: [&'static str; N],
    values: Mutex<BTreeMap<[String; N], u64>>,
}

impl<const N: usize> LabeledCounter<N> {
    pub fn new(label_names: [&'static str; N]) -> Self {
        LabeledCounter {
            label_names,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn inc(&self, label_values: [&str; N]) {
        self.add(label_values, 1);
    }

    pub fn add(&self, label_values: [&str; N], delta: u64) {
        let key = label_values.map(str::to_string);
        let mut values = self
            .values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *values.entry(key).or_insert(0) += delta;
    }

    pub fn get(&self, label_values: [&str; N]) -> u64 {
        let key = label_values.map(str::to_string);
        let values = self
            .values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        values.get(&key).copied().unwrap_or(0)
    }

    pub fn write(&self, out: &mut TextWriter, name: &str) {
        let values = self
            .values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (label_values, count) in values.iter() {
            let labels: Vec<(&str, &str)> = self
                .label_names
                .iter()
                .zip(label_values.iter())
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            out.sample(name, &labels, *count as f64);
        }
    }
}

/// A histogram family with fixed label names.
pub struct LabeledHistogram<const N: usize> {
    label_names: [&'static str; N],
    upper_bounds: &'static [f64],
    series: Mutex<BTreeMap<[String; N], Arc<Histogram>>>,
}

impl<const N: usize> LabeledHistogram<N> {
    pub fn new(label_names: [&'static str; N], upper_bounds: &'static [f64]) -> Self {
        LabeledHistogram {
            label_names,
            upper_bounds,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn observe(&self, label_values: [&str; N], value: f64) {
        let key = label_values.map(str::to_string);
        let histogram = {
            let mut series = self
                .series
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            series
                .entry(key)
                .or_insert_with(|| Arc::new(Histogram::new(self.upper_bounds)))
                .clone()
        };
        histogram.observe(value);
    }

    pub fn write(&self, out: &mut TextWriter, name: &str) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (label_values, histogram) in series.iter() {
            let labels: Vec<(&str, &str)> = self
                .label_names
                .iter()
                .zip(label_values.iter())
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            histogram.write(out, name, &labels);
        }
    }
}
