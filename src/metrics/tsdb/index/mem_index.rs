//! The in-memory series index of the head: label sets ↔ series references, postings per
//! label pair, and selection by label matchers.
//!
//! Layout:
//! * every label name and value is interned once in a [`SymbolTable`];
//! * a series is a run of `(name id, value id)` pairs in the label store, found through
//!   `locations[series_ref]`;
//! * `by_hash` maps a seeded hash of the label strings to candidate series; candidates are
//!   compared label by label, so colliding hashes only cost a comparison;
//! * `postings[name][value]` is the sorted list of series carrying that pair.
//!
//! [`MemIndex::get_or_create`] hands out references in increasing order and never reuses
//! them, so appending to a postings list keeps it sorted; callers that choose references
//! themselves ([`MemIndex::insert_with_ref`]) should do the same. Empty label values are
//! treated as absent labels, as in Prometheus: `{a="1", b=""}` is the series `{a="1"}`.
//!
//! Selection evaluates each matcher either through postings (union of the selected values'
//! lists, then intersect or subtract) or, once the candidate set is small, by reading the
//! candidates' labels; a rough cost model picks the cheaper of the two per matcher.
//!
//! Not synchronized: the TSDB wraps the index in a lock.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::id_table::{tag_of, HashSeed, IdTable, IntKeyHash, MAX_ID};
use super::label_store::{LabelStore, Location, MAX_LABELS};
use super::matcher::Matcher;
use super::postings;
use super::symbols::SymbolTable;
use super::{IndexError, SeriesRef};

type IntMap<K, V> = HashMap<K, V, IntKeyHash>;

/// Bytes of removed label runs beyond which (and beyond the live ones) the index is rebuilt.
const COMPACT_MIN_DEAD_BYTES: usize = 1 << 16;
/// Series below which [`MemIndex::sort_by_labels`] compares strings directly.
const RANKED_SORT_MIN: usize = 64;

/// Marks "no value id" in statistics tuples.
const NO_ID: u32 = u32::MAX;

/// Costs in "postings entries touched by a union or intersection" (about a nanosecond):
/// checking one candidate series by reading its labels,
const FILTER_COST_FACTOR: usize = 8;
/// testing one label value against a string fast-path pattern,
const SCAN_COST_FAST: usize = 4;
/// and against a pattern that runs the regex engine.
const SCAN_COST_REGEX: usize = 40;

#[derive(Debug, Default, Clone)]
struct NameEntry {
    /// value id → sorted series refs; lists are never empty.
    values: IntMap<u32, Vec<SeriesRef>>,
    /// Number of series carrying this label name (sum of the lists' lengths).
    series: usize,
}

/// In-memory series index. See the module documentation.
#[derive(Debug, Clone)]
pub struct MemIndex {
    symbols: SymbolTable,
    labels: LabelStore,
    /// Indexed by series ref; [`Location::REMOVED`] once removed.
    locations: Vec<Location>,
    by_hash: IdTable,
    seed: HashSeed,
    /// name id → its values and their postings.
    postings: IntMap<u32, NameEntry>,
    live_series: usize,
    live_bytes: usize,
    dead_bytes: usize,
    /// All ones; tests clear bits to force hash collisions.
    tag_mask: u32,
}

impl Default for MemIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// Label counts in the `/api/v1/status/tsdb` shape: the top entries of each statistic,
/// largest first (ties by name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardinalityStats {
    pub num_series: usize,
    /// Distinct `name=value` pairs.
    pub num_label_pairs: usize,
    /// `seriesCountByMetricName`: series per `__name__` value.
    pub series_count_by_metric_name: Vec<StatCount>,
    /// `labelValueCountByLabelName`: distinct values per label name.
    pub label_value_count_by_label_name: Vec<StatCount>,
    /// `memoryInBytesByLabelName`: summed byte length of a label name's distinct values.
    pub memory_in_bytes_by_label_name: Vec<StatCount>,
    /// `seriesCountByLabelValuePair`: series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<StatCount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatCount {
    pub name: String,
    pub value: u64,
}

/// How a matcher is evaluated against postings (see [`MemIndex::select`]).
struct Plan<'m> {
    matcher: &'m Matcher,
    /// Label name id; `None` when no series has the label.
    name: Option<u32>,
    /// `true`: the series carrying a *selected* value are the result (the matcher rejects
    /// `""`). `false`: the series carrying a selected value are removed from the result (the
    /// matcher accepts `""`, so series without the label pass).
    include: bool,
    values: ValueChoice,
    /// Lower bound of the work (in postings entries) to evaluate the plan through postings:
    /// exact for listed values, the value scan for patterns.
    min_cost: usize,
    /// Upper bound of that work; plans run cheapest first.
    max_cost: usize,
}

/// Which values of the label a plan selects.
enum ValueChoice {
    Nothing,
    /// Exactly these value ids (those present in the index).
    Listed(Vec<u32>),
    /// Every value but these ids.
    AllBut(Vec<u32>),
    All,
    /// Those for which `matcher.matches(value) == include`.
    Scan,
}

impl MemIndex {
    pub fn new() -> Self {
        MemIndex {
            symbols: SymbolTable::new(),
            labels: LabelStore::default(),
            locations: Vec::new(),
            by_hash: IdTable::new(),
            seed: HashSeed::random(),
            postings: IntMap::default(),
            live_series: 0,
            live_bytes: 0,
            dead_bytes: 0,
            tag_mask: u32::MAX,
        }
    }

    /// Number of live series.
    pub fn num_series(&self) -> usize {
        self.live_series
    }

    /// Whether `series` exists (was created and not removed).
    pub fn contains_ref(&self, series: SeriesRef) -> bool {
        self.location(series).is_some()
    }

    /// Returns the series with exactly these labels, creating it if needed; the flag tells
    /// whether it was created. A new series gets the reference after the highest one used
    /// so far.
    ///
    /// `labels` must be sorted by name with unique, non-empty names. Labels with an empty
    /// value are ignored (an empty value means "no such label").
    pub fn get_or_create(
        &mut self,
        labels: &[(&str, &str)],
    ) -> Result<(SeriesRef, bool), IndexError> {
        let count = validate_labels(labels)?;
        let tag = self.tag(self.hash_labels(labels));
        if let Some(series) = self.find(tag, labels) {
            return Ok((series, false));
        }
        let series = match u32::try_from(self.locations.len()) {
            Ok(next) if next <= MAX_ID => next,
            _ => {
                return Err(IndexError::CapacityExceeded {
                    what: "series references",
                })
            }
        };
        self.insert_new(series, tag, labels, count)?;
        Ok((series, true))
    }

    /// Adds a series under a reference chosen by the caller (the head hands out references
    /// itself, and WAL replay restores logged ones). Same label conventions as
    /// [`MemIndex::get_or_create`]. Fails if the reference is taken or the labels are
    /// already indexed. References below the highest one used make the insertion into each
    /// postings list O(list length) instead of O(1).
    pub fn insert_with_ref(
        &mut self,
        series: SeriesRef,
        labels: &[(&str, &str)],
    ) -> Result<(), IndexError> {
        let count = validate_labels(labels)?;
        if series > MAX_ID {
            return Err(IndexError::CapacityExceeded {
                what: "series references",
            });
        }
        if self.contains_ref(series) {
            return Err(IndexError::RefInUse { series });
        }
        let tag = self.tag(self.hash_labels(labels));
        if let Some(existing) = self.find(tag, labels) {
            return Err(IndexError::DuplicateSeries { existing });
        }
        self.insert_new(series, tag, labels, count)
    }

    /// Stores a series known to be absent, under a free reference.
    fn insert_new(
        &mut self,
        series: SeriesRef,
        tag: u32,
        labels: &[(&str, &str)],
        count: usize,
    ) -> Result<(), IndexError> {
        let mut pairs = Vec::with_capacity(count * 2);
        for &(name, value) in labels.iter().filter(|(_, value)| !value.is_empty()) {
            pairs.push(self.symbols.intern(name));
            pairs.push(self.symbols.intern(value));
        }
        let (location, run_bytes) = self
            .labels
            .push(pairs.chunks_exact(2).map(|pair| (pair[0], pair[1])))?;
        let slot = series as usize;
        if slot >= self.locations.len() {
            self.locations.resize(slot + 1, Location::REMOVED);
        }
        self.locations[slot] = location;
        self.by_hash.insert(tag, series);
        for pair in pairs.chunks_exact(2) {
            let entry = self.postings.entry(pair[0]).or_default();
            entry.series += 1;
            let list = entry.values.entry(pair[1]).or_default();
            match list.last() {
                Some(&last) if last > series => {
                    let position = list.partition_point(|&existing| existing < series);
                    list.insert(position, series);
                }
                _ => list.push(series),
            }
        }
        self.live_series += 1;
        self.live_bytes += run_bytes;
        debug_assert_eq!(self.by_hash.len(), self.live_series);
        Ok(())
    }

    /// The series with exactly these labels (same conventions as
    /// [`MemIndex::get_or_create`]; unsorted input is never found).
    pub fn get(&self, labels: &[(&str, &str)]) -> Option<SeriesRef> {
        let tag = self.tag(self.hash_labels(labels));
        self.find(tag, labels)
    }

    /// [`MemIndex::get`] for many label sets at once, in order. The memory each lookup
    /// reads (hash slot, series location, label run) is requested a few sets ahead, so
    /// that the cache misses of a large batch overlap instead of queueing.
    pub fn get_many(&self, label_sets: &[&[(&str, &str)]]) -> Vec<Option<SeriesRef>> {
        // Distances ahead of the lookup at which each level is requested.
        const SLOT_AHEAD: usize = 12;
        const LOCATION_AHEAD: usize = 8;
        const LABELS_AHEAD: usize = 4;
        let tags: Vec<u32> = label_sets
            .iter()
            .map(|labels| self.tag(self.hash_labels(labels)))
            .collect();
        let candidate = |at: usize| {
            tags.get(at)
                .and_then(|tag| self.by_hash.first_candidate(*tag))
        };
        for &tag in tags.iter().take(SLOT_AHEAD) {
            self.by_hash.prefetch(tag);
        }
        let mut found = Vec::with_capacity(label_sets.len());
        for (at, (&tag, labels)) in tags.iter().zip(label_sets).enumerate() {
            if let Some(&ahead) = tags.get(at + SLOT_AHEAD) {
                self.by_hash.prefetch(ahead);
            }
            if let Some(series) = candidate(at + LOCATION_AHEAD) {
                crate::prefetch::prefetch_at(&self.locations, series as usize);
            }
            if let Some(location) = candidate(at + LABELS_AHEAD).and_then(|s| self.location(s)) {
                self.labels.prefetch(location);
            }
            found.push(self.find(tag, labels));
        }
        found
    }

    /// The labels of `series` as owned strings, sorted by name; empty if it does not exist.
    pub fn labels_owned(&self, series: SeriesRef) -> Vec<(String, String)> {
        match self.labels(series) {
            Some(labels) => labels.map(|(n, v)| (n.to_owned(), v.to_owned())).collect(),
            None => Vec::new(),
        }
    }

    /// The labels of `series`, sorted by name; `None` if it does not exist.
    pub fn labels(&self, series: SeriesRef) -> Option<impl Iterator<Item = (&str, &str)> + '_> {
        let pairs = self.labels.get(self.location(series)?);
        Some(pairs.map(|(name, value)| (self.symbols.resolve(name), self.symbols.resolve(value))))
    }

    /// Sorts `refs` by their label sets, in the order of `Vec<(String, String)>`. Many
    /// series are ordered by comparing symbol ranks instead of strings: the distinct
    /// symbols of these series are sorted once, which is far cheaper than comparing label
    /// strings `n log n` times.
    pub fn sort_by_labels(&self, refs: &mut [SeriesRef]) {
        if refs.len() < RANKED_SORT_MIN {
            refs.sort_by(|a, b| {
                let left = self.labels(*a).into_iter().flatten();
                let right = self.labels(*b).into_iter().flatten();
                left.cmp(right)
            });
            return;
        }
        // Every run's ids in one list; `ends[i]` is where the run of `refs[i]` ends.
        let mut ids: Vec<u32> = Vec::new();
        let mut ends: Vec<usize> = Vec::with_capacity(refs.len());
        for series in refs.iter() {
            if let Some(location) = self.location(*series) {
                ids.extend(self.labels.get(location).flat_map(|(n, v)| [n, v]));
            }
            ends.push(ids.len());
        }
        let mut symbols: Vec<u32> = ids.clone();
        symbols.sort_unstable();
        symbols.dedup();
        // One interned string per id, so sorting ids by string gives each a distinct rank.
        symbols.sort_unstable_by(|a, b| self.symbols.resolve(*a).cmp(self.symbols.resolve(*b)));
        let mut rank: IntMap<u32, u32> = IntMap::default();
        rank.extend(
            symbols
                .iter()
                .enumerate()
                .map(|(rank, id)| (*id, rank as u32)),
        );
        let ranks: Vec<u32> = ids.iter().map(|id| rank[id]).collect();
        let mut spans: Vec<(usize, usize, SeriesRef)> = Vec::with_capacity(refs.len());
        let mut start = 0;
        for (&end, series) in ends.iter().zip(refs.iter()) {
            spans.push((start, end, *series));
            start = end;
        }
        spans.sort_by(|a, b| ranks[a.0..a.1].cmp(&ranks[b.0..b.1]));
        for (slot, (_, _, series)) in refs.iter_mut().zip(spans) {
            *slot = series;
        }
    }

    /// Series matching all `matchers`, in increasing reference order. No matchers select
    /// every series.
    ///
    /// Prometheus semantics: a label that a series lacks has the value `""`, so a matcher
    /// that accepts `""` (`a=""`, `a!="x"`, `a=~"|x"`, `a!~"x"`) also selects series without
    /// the label.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        self.select_with(matchers, FILTER_COST_FACTOR)
    }

    /// [`MemIndex::select`] with a given cost of filtering a candidate by its labels, in
    /// postings entries: 0 always filters when it can, `usize::MAX` never does.
    fn select_with(&self, matchers: &[Matcher], filter_cost: usize) -> Vec<SeriesRef> {
        let mut includes = Vec::new();
        let mut excludes = Vec::new();
        for matcher in matchers {
            let plan = self.plan(matcher);
            match (&plan.values, plan.include) {
                // Nothing to remove: the matcher accepts every series.
                (ValueChoice::Nothing, false) => {}
                // Nothing to select from: no series can match.
                (ValueChoice::Nothing, true) => return Vec::new(),
                (_, true) => includes.push(plan),
                (_, false) => excludes.push(plan),
            }
        }
        includes.sort_by_key(|plan| plan.max_cost);
        excludes.sort_by_key(|plan| plan.max_cost);

        let mut rest = includes.iter();
        let mut result: Vec<SeriesRef> = match rest.next() {
            Some(first) => {
                let lists = self.selected_lists(first);
                postings::union_disjoint(&lists)
            }
            None => self.all_series(),
        };
        for plan in rest.chain(&excludes) {
            if result.is_empty() {
                break;
            }
            // Read the candidates' labels when that is cheaper than the postings: first
            // against what the postings cost at least, then against their exact size.
            let filter = result.len().saturating_mul(filter_cost);
            if filter < plan.min_cost {
                self.retain_satisfying(&mut result, plan);
                continue;
            }
            let lists = self.selected_lists(plan);
            let postings_size: usize = lists.iter().map(|list| list.len()).sum();
            if filter < postings_size {
                self.retain_satisfying(&mut result, plan);
                continue;
            }
            let selected: Cow<'_, [SeriesRef]> = match lists.as_slice() {
                [only] => Cow::Borrowed(only),
                _ => Cow::Owned(postings::union_disjoint(&lists)),
            };
            result = if plan.include {
                postings::intersect(&result, &selected)
            } else {
                postings::subtract(&result, &selected)
            };
        }
        result
    }

    /// Label names, sorted: of all series, or of the given ones (unknown refs are skipped).
    pub fn label_names(&self, refs: Option<&[SeriesRef]>) -> Vec<String> {
        let ids: Vec<u32> = match refs {
            None => self.postings.keys().copied().collect(),
            Some(refs) => {
                let mut ids = HashSet::with_hasher(IntKeyHash);
                for &series in refs {
                    if let Some(location) = self.location(series) {
                        ids.extend(self.labels.get(location).map(|(name, _)| name));
                    }
                }
                ids.into_iter().collect()
            }
        };
        self.sorted_strings(ids)
    }

    /// Values of label `name`, sorted: over all series, or over the given ones.
    pub fn label_values(&self, name: &str, refs: Option<&[SeriesRef]>) -> Vec<String> {
        let Some(name_id) = self.symbols.lookup(name) else {
            return Vec::new();
        };
        let ids: Vec<u32> = match refs {
            None => match self.postings.get(&name_id) {
                Some(entry) => entry.values.keys().copied().collect(),
                None => Vec::new(),
            },
            Some(refs) => {
                let mut ids = HashSet::with_hasher(IntKeyHash);
                for &series in refs {
                    if let Some(value) = self.value_id_of(series, name_id) {
                        ids.insert(value);
                    }
                }
                ids.into_iter().collect()
            }
        };
        self.sorted_strings(ids)
    }

    /// Removes series (unknown or already removed refs are ignored) and their postings.
    /// Their references are not reused.
    pub fn remove(&mut self, refs: &[SeriesRef]) {
        let mut refs = refs.to_vec();
        refs.sort_unstable();
        refs.dedup();
        let mut removed_by_pair: HashMap<(u32, u32), Vec<SeriesRef>> = HashMap::new();
        for series in refs {
            let Some(location) = self.location(series) else {
                continue;
            };
            let mut hasher = self.seed.hasher();
            for (name, value) in self.labels.get(location) {
                hasher.write_pair(
                    self.symbols.resolve(name).as_bytes(),
                    self.symbols.resolve(value).as_bytes(),
                );
                // Refs are visited in increasing order, so each list stays sorted.
                removed_by_pair
                    .entry((name, value))
                    .or_default()
                    .push(series);
            }
            let run_bytes = self.labels.run_len(location);
            let removed = self.by_hash.remove(self.tag(hasher.finish()), series);
            debug_assert!(removed, "live series {series} missing from the hash table");
            self.locations[series as usize] = Location::REMOVED;
            self.live_series -= 1;
            self.live_bytes -= run_bytes;
            self.dead_bytes += run_bytes;
        }
        for ((name, value), removed) in removed_by_pair {
            let Some(entry) = self.postings.get_mut(&name) else {
                debug_assert!(false, "postings of a live label are missing");
                continue;
            };
            if let Some(list) = entry.values.get_mut(&value) {
                let remaining = postings::subtract(list, &removed);
                entry.series -= list.len() - remaining.len();
                if remaining.is_empty() {
                    entry.values.remove(&value);
                } else {
                    *list = remaining;
                }
            }
            if entry.values.is_empty() {
                self.postings.remove(&name);
            }
        }
        if self.dead_bytes >= COMPACT_MIN_DEAD_BYTES && self.dead_bytes > self.live_bytes {
            self.compact();
        }
    }

    /// Approximate heap bytes held by the index.
    pub fn memory_bytes_estimate(&self) -> usize {
        let outer_entry = std::mem::size_of::<(u32, NameEntry)>() + 1;
        let inner_entry = std::mem::size_of::<(u32, Vec<SeriesRef>)>() + 1;
        let postings: usize = self
            .postings
            .values()
            .map(|entry| {
                entry.values.capacity() * inner_entry
                    + entry
                        .values
                        .values()
                        .map(|list| list.capacity() * 4)
                        .sum::<usize>()
            })
            .sum();
        self.symbols.memory_bytes()
            + self.labels.memory_bytes()
            + self.locations.capacity() * std::mem::size_of::<Location>()
            + self.by_hash.memory_bytes()
            + self.postings.capacity() * outer_entry
            + postings
    }

    /// Cardinality statistics with at most `limit` entries per list.
    pub fn cardinality_stats(&self, limit: usize) -> CardinalityStats {
        let mut value_counts = Vec::with_capacity(self.postings.len());
        let mut value_bytes = Vec::with_capacity(self.postings.len());
        let mut pairs = Vec::new();
        for (&name, entry) in &self.postings {
            value_counts.push((entry.values.len() as u64, name, NO_ID));
            let bytes: usize = entry
                .values
                .keys()
                .map(|&value| self.symbols.resolve(value).len())
                .sum();
            value_bytes.push((bytes as u64, name, NO_ID));
            pairs.extend(
                entry
                    .values
                    .iter()
                    .map(|(&value, list)| (list.len() as u64, name, value)),
            );
        }
        let num_label_pairs = pairs.len();
        let metric_names = match self
            .symbols
            .lookup("__name__")
            .and_then(|n| self.postings.get(&n))
        {
            Some(entry) => entry
                .values
                .iter()
                .map(|(&value, list)| (list.len() as u64, value, NO_ID))
                .collect(),
            None => Vec::new(),
        };
        CardinalityStats {
            num_series: self.live_series,
            num_label_pairs,
            series_count_by_metric_name: self.top_counts(metric_names, limit),
            label_value_count_by_label_name: self.top_counts(value_counts, limit),
            memory_in_bytes_by_label_name: self.top_counts(value_bytes, limit),
            series_count_by_label_value_pair: self.top_counts(pairs, limit),
        }
    }

    fn location(&self, series: SeriesRef) -> Option<Location> {
        let location = *self.locations.get(series as usize)?;
        (location != Location::REMOVED).then_some(location)
    }

    fn tag(&self, hash: u64) -> u32 {
        tag_of(hash) & self.tag_mask
    }

    fn hash_labels(&self, labels: &[(&str, &str)]) -> u64 {
        let mut hasher = self.seed.hasher();
        for (name, value) in labels.iter().filter(|(_, value)| !value.is_empty()) {
            hasher.write_pair(name.as_bytes(), value.as_bytes());
        }
        hasher.finish()
    }

    fn find(&self, tag: u32, labels: &[(&str, &str)]) -> Option<SeriesRef> {
        self.by_hash
            .find(tag, |series| self.has_labels(series, labels))
    }

    /// Whether the stored labels of `series` equal `labels` (empty values skipped).
    fn has_labels(&self, series: SeriesRef, labels: &[(&str, &str)]) -> bool {
        let Some(location) = self.location(series) else {
            return false;
        };
        let mut stored = self.labels.get(location);
        for &(name, value) in labels.iter().filter(|(_, value)| !value.is_empty()) {
            let Some((name_id, value_id)) = stored.next() else {
                return false;
            };
            if !self.symbols.is(name_id, name) || !self.symbols.is(value_id, value) {
                return false;
            }
        }
        stored.next().is_none()
    }

    fn value_id_of(&self, series: SeriesRef, name: u32) -> Option<u32> {
        let mut pairs = self.labels.get(self.location(series)?);
        pairs
            .find(|(name_id, _)| *name_id == name)
            .map(|(_, value_id)| value_id)
    }

    fn all_series(&self) -> Vec<SeriesRef> {
        let mut out = Vec::with_capacity(self.live_series);
        for (series, location) in self.locations.iter().enumerate() {
            if *location != Location::REMOVED {
                // `locations` never holds more than MAX_ID + 1 entries.
                out.push(series as SeriesRef);
            }
        }
        out
    }

    fn sorted_strings(&self, ids: Vec<u32>) -> Vec<String> {
        let mut strings: Vec<String> = ids
            .into_iter()
            .map(|id| self.symbols.resolve(id).to_owned())
            .collect();
        strings.sort_unstable();
        strings
    }

    /// The `limit` items with the largest counts, largest first, ties ordered by name.
    /// Items are `(count, name id, value id)`; with value id [`NO_ID`] the entry is named
    /// by the name alone, otherwise `name=value`.
    fn top_counts(&self, mut items: Vec<(u64, u32, u32)>, limit: usize) -> Vec<StatCount> {
        let key = |&(_, name, value): &(u64, u32, u32)| {
            let value = if value == NO_ID {
                ""
            } else {
                self.symbols.resolve(value)
            };
            (self.symbols.resolve(name), value)
        };
        let order = |a: &(u64, u32, u32), b: &(u64, u32, u32)| {
            b.0.cmp(&a.0).then_with(|| key(a).cmp(&key(b)))
        };
        if limit == 0 {
            return Vec::new();
        }
        if items.len() > limit {
            items.select_nth_unstable_by(limit - 1, order);
            items.truncate(limit);
        }
        items.sort_unstable_by(order);
        items
            .iter()
            .map(|item| {
                let (name, value) = key(item);
                let name = if item.2 == NO_ID {
                    name.to_owned()
                } else {
                    format!("{name}={value}")
                };
                StatCount {
                    name,
                    value: item.0,
                }
            })
            .collect()
    }

    /// Ids of the values in `values` that the index knows.
    fn known_ids(&self, values: &[String]) -> Vec<u32> {
        let mut ids: Vec<u32> = values
            .iter()
            .filter_map(|v| self.symbols.lookup(v))
            .collect();
        ids.sort_unstable();
        ids
    }

    fn plan<'m>(&self, matcher: &'m Matcher) -> Plan<'m> {
        let include = !matcher.matches_empty();
        let name = self
            .symbols
            .lookup(matcher.name())
            .filter(|id| self.postings.contains_key(id));
        let Some(name_id) = name else {
            // No series has the label: every series has the value "".
            return Plan {
                matcher,
                name: None,
                include,
                values: ValueChoice::Nothing,
                min_cost: 0,
                max_cost: 0,
            };
        };
        // Selected values are those where `matches(value) == include`. With a finite pattern
        // set S: positive operators accept S, negative ones accept everything but S.
        let positive = !matcher.op().is_negative();
        let values = if let Some(set) = matcher.pattern_set() {
            let ids = self.known_ids(set);
            if positive == include {
                ValueChoice::Listed(ids)
            } else {
                ValueChoice::AllBut(ids)
            }
        } else if matcher.pattern_matches_everything() {
            if positive == include {
                ValueChoice::All
            } else {
                ValueChoice::Nothing
            }
        } else {
            ValueChoice::Scan
        };
        let entry = &self.postings[&name_id];
        let (min_cost, max_cost) = match &values {
            ValueChoice::Nothing => (0, 0),
            ValueChoice::Listed(ids) => {
                let size = ids
                    .iter()
                    .filter_map(|id| entry.values.get(id))
                    .map(Vec::len)
                    .sum();
                (size, size)
            }
            ValueChoice::AllBut(_) | ValueChoice::All => (entry.series, entry.series),
            ValueChoice::Scan => {
                let per_value = if matcher.uses_regex_engine() {
                    SCAN_COST_REGEX
                } else {
                    SCAN_COST_FAST
                };
                let scan = entry.values.len() * per_value;
                (scan, scan + entry.series)
            }
        };
        // None of the listed values exists: nothing is selected.
        let values = if matches!(values, ValueChoice::Listed(_)) && max_cost == 0 {
            ValueChoice::Nothing
        } else {
            values
        };
        Plan {
            matcher,
            name,
            include,
            values,
            min_cost,
            max_cost,
        }
    }

    /// The postings lists of the values a plan selects; pairwise disjoint.
    fn selected_lists(&self, plan: &Plan<'_>) -> Vec<&[SeriesRef]> {
        let Some(entry) = plan.name.and_then(|name| self.postings.get(&name)) else {
            return Vec::new();
        };
        match &plan.values {
            ValueChoice::Nothing => Vec::new(),
            ValueChoice::Listed(ids) => ids
                .iter()
                .filter_map(|id| entry.values.get(id))
                .map(Vec::as_slice)
                .collect(),
            ValueChoice::AllBut(ids) => entry
                .values
                .iter()
                .filter(|(id, _)| ids.binary_search(id).is_err())
                .map(|(_, list)| list.as_slice())
                .collect(),
            ValueChoice::All => entry.values.values().map(Vec::as_slice).collect(),
            ValueChoice::Scan => entry
                .values
                .iter()
                .filter(|(&id, _)| plan.matcher.matches(self.symbols.resolve(id)) == plan.include)
                .map(|(_, list)| list.as_slice())
                .collect(),
        }
    }

    /// Keeps the candidates that satisfy the plan's matcher, reading their labels.
    fn retain_satisfying(&self, candidates: &mut Vec<SeriesRef>, plan: &Plan<'_>) {
        let Some(name) = plan.name else {
            candidates.retain(|_| plan.matcher.matches_empty());
            return;
        };
        let matcher = plan.matcher;
        let negative = matcher.op().is_negative();
        let set_ids = matcher.pattern_set().map(|set| self.known_ids(set));
        // Regex engine results are remembered per value; string fast paths are cheaper
        // than the lookup.
        let memoize = matcher.uses_regex_engine();
        let mut decided: IntMap<u32, bool> = IntMap::default();
        candidates.retain(|&series| match self.value_id_of(series, name) {
            None => matcher.matches_empty(),
            Some(value) => match &set_ids {
                Some(ids) => ids.binary_search(&value).is_ok() != negative,
                None if !memoize => matcher.matches(self.symbols.resolve(value)),
                None => *decided
                    .entry(value)
                    .or_insert_with(|| matcher.matches(self.symbols.resolve(value))),
            },
        });
    }

    /// Rebuilds label storage and the symbol table from the live series, dropping the
    /// space and the strings only removed series used. References are unchanged.
    fn compact(&mut self) {
        let mut symbols = SymbolTable::new();
        let mut remap = vec![u32::MAX; self.symbols.len()];
        let mut labels = LabelStore::default();
        let mut pairs = Vec::new();
        // Remapped ids may take fewer bytes.
        let mut live_bytes = 0;
        for index in 0..self.locations.len() {
            let location = self.locations[index];
            if location == Location::REMOVED {
                continue;
            }
            pairs.clear();
            for (name, value) in self.labels.get(location) {
                for old in [name, value] {
                    let new = &mut remap[old as usize];
                    if *new == u32::MAX {
                        *new = symbols.intern(self.symbols.resolve(old));
                    }
                    pairs.push(*new);
                }
            }
            match labels.push(pairs.chunks_exact(2).map(|pair| (pair[0], pair[1]))) {
                Ok((new_location, run_bytes)) => {
                    self.locations[index] = new_location;
                    live_bytes += run_bytes;
                }
                // Cannot happen: the live runs fitted before. Keep the old state intact.
                Err(_) => return,
            }
        }
        let old_postings = std::mem::take(&mut self.postings);
        let mut postings = IntMap::default();
        postings.reserve(old_postings.len());
        for (name, entry) in old_postings {
            let mut values = IntMap::default();
            values.reserve(entry.values.len());
            for (value, list) in entry.values {
                values.insert(remap[value as usize], list);
            }
            postings.insert(
                remap[name as usize],
                NameEntry {
                    values,
                    series: entry.series,
                },
            );
        }
        self.postings = postings;
        self.symbols = symbols;
        self.labels = labels;
        self.live_bytes = live_bytes;
        self.dead_bytes = 0;
    }
}

/// Checks the input conventions; returns the number of labels with a non-empty value.
fn validate_labels(labels: &[(&str, &str)]) -> Result<usize, IndexError> {
    let mut count = 0;
    let mut previous: Option<&str> = None;
    for &(name, value) in labels {
        if name.is_empty() {
            return Err(IndexError::EmptyLabelName);
        }
        if let Some(previous) = previous {
            if previous == name {
                return Err(IndexError::DuplicateLabelName {
                    name: name.to_owned(),
                });
            }
            if previous > name {
                return Err(IndexError::UnsortedLabels {
                    previous: previous.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        previous = Some(name);
        if !value.is_empty() {
            count += 1;
        }
    }
    if count == 0 {
        return Err(IndexError::EmptyLabelSet);
    }
    if count > MAX_LABELS {
        return Err(IndexError::TooManyLabels {
            count,
            limit: MAX_LABELS,
        });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tsdb::index::MatchOp;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type LabelSet = Vec<(String, String)>;

    fn add(index: &mut MemIndex, labels: &[(&str, &str)]) -> SeriesRef {
        index
            .get_or_create(labels)
            .unwrap_or_else(|e| panic!("{labels:?}: {e}"))
            .0
    }

    fn labels_of(index: &MemIndex, series: SeriesRef) -> LabelSet {
        index
            .labels(series)
            .map(|labels| labels.map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
            .unwrap_or_default()
    }

    fn m(name: &str, op: &str, value: &str) -> Matcher {
        let op = match op {
            "=" => MatchOp::Equal,
            "!=" => MatchOp::NotEqual,
            "=~" => MatchOp::RegexMatch,
            "!~" => MatchOp::RegexNoMatch,
            other => panic!("unknown operator {other}"),
        };
        Matcher::new(op, name, value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks select under every evaluation strategy against the brute-force filter.
    fn select_all_ways(index: &MemIndex, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let expected = brute_force(index, matchers);
        for filter_cost in [0, FILTER_COST_FACTOR, usize::MAX] {
            assert_eq!(
                index.select_with(matchers, filter_cost),
                expected,
                "matchers {matchers:?}, filter cost {filter_cost}"
            );
        }
        expected
    }

    fn brute_force(index: &MemIndex, matchers: &[Matcher]) -> Vec<SeriesRef> {
        (0..index.locations.len() as SeriesRef)
            .filter(|&series| index.contains_ref(series))
            .filter(|&series| {
                let labels = labels_of(index, series);
                matchers.iter().all(|matcher| {
                    let value = labels
                        .iter()
                        .find(|(name, _)| name == matcher.name())
                        .map_or("", |(_, value)| value.as_str());
                    matcher.matches(value)
                })
            })
            .collect()
    }

    #[test]
    fn get_or_create_and_get() {
        let mut index = MemIndex::new();
        let labels = [("__name__", "up"), ("instance", "a:9100"), ("job", "node")];
        let (first, created) = index.get_or_create(&labels).unwrap();
        assert!(created);
        assert_eq!(index.get_or_create(&labels).unwrap(), (first, false));
        assert_eq!(index.get(&labels), Some(first));
        assert_eq!(index.get(&labels[..2]), None);
        assert_eq!(
            index.get(&[("__name__", "up"), ("instance", "a:9100"), ("job", "nod")]),
            None
        );
        let (second, created) = index.get_or_create(&labels[..2]).unwrap();
        assert!(created && second != first);
        assert_eq!(index.num_series(), 2);
        assert_eq!(
            labels_of(&index, first),
            labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<LabelSet>()
        );
        assert!(index.labels(99).is_none());
    }

    #[test]
    fn sort_by_labels_orders_like_owned_label_sets() {
        let mut index = MemIndex::new();
        let names = ["b", "a", "ab", "", "a\u{0}", "zz", "é", "A", "0"];
        let mut refs = Vec::new();
        for (position, first) in names.iter().enumerate() {
            for (other, second) in names.iter().enumerate() {
                let last = (position * names.len() + other).to_string();
                let mut labels = vec![("__name__", *first), ("x", *second)];
                if (position + other) % 3 == 0 {
                    labels.push(("y", *first));
                }
                if other % 4 == 0 {
                    labels.push(("z", &last));
                }
                if let Ok((series, _)) = index.get_or_create(&labels[other % 2..]) {
                    refs.push(series);
                }
            }
        }
        // A removed series has no labels and sorts first.
        index.remove(&refs[..1]);
        for count in [refs.len(), RANKED_SORT_MIN - 1] {
            let mut sorted = refs[..count.min(refs.len())].to_vec();
            sorted.reverse();
            index.sort_by_labels(&mut sorted);
            let mut expected = refs[..count.min(refs.len())].to_vec();
            expected.sort_by_key(|series| labels_of(&index, *series));
            let sorted_labels: Vec<LabelSet> =
                sorted.iter().map(|r| labels_of(&index, *r)).collect();
            let expected_labels: Vec<LabelSet> =
                expected.iter().map(|r| labels_of(&index, *r)).collect();
            assert_eq!(sorted_labels, expected_labels, "{count} series");
        }
        assert!(
            refs.len() >= RANKED_SORT_MIN,
            "the ranked path is covered: {}",
            refs.len()
        );
    }

    #[test]
    fn insert_with_ref_accepts_any_free_reference() {
        let mut index = MemIndex::new();
        index.insert_with_ref(10, &[("job", "a")]).unwrap();
        index.insert_with_ref(3, &[("job", "b")]).unwrap();
        index
            .insert_with_ref(7, &[("job", "a"), ("x", "1")])
            .unwrap();
        assert_eq!(
            index.insert_with_ref(3, &[("job", "c")]),
            Err(IndexError::RefInUse { series: 3 })
        );
        assert_eq!(
            index.insert_with_ref(4, &[("job", "a")]),
            Err(IndexError::DuplicateSeries { existing: 10 })
        );
        assert_eq!(
            index.insert_with_ref(u32::MAX, &[("job", "z")]),
            Err(IndexError::CapacityExceeded {
                what: "series references"
            })
        );
        assert!(index.contains_ref(3) && !index.contains_ref(4) && !index.contains_ref(11));
        assert_eq!(
            index.labels_owned(7),
            vec![
                ("job".to_owned(), "a".to_owned()),
                ("x".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(index.labels_owned(4), Vec::new());
        assert_eq!(
            select_all_ways(&index, &[m("job", "=~", "a|b")]),
            vec![3, 7, 10]
        );
        assert_eq!(select_all_ways(&index, &[m("x", "=", "")]), vec![3, 10]);
        assert_eq!(index.get_or_create(&[("job", "d")]).unwrap(), (11, true));
        index.remove(&[7]);
        assert_eq!(select_all_ways(&index, &[m("job", "=", "a")]), vec![10]);
    }

    #[test]
    fn empty_values_are_absent_labels() {
        let mut index = MemIndex::new();
        let series = add(&mut index, &[("a", "1"), ("b", "")]);
        assert_eq!(index.get(&[("a", "1")]), Some(series));
        assert_eq!(
            index.get_or_create(&[("a", "1"), ("c", "")]).unwrap(),
            (series, false)
        );
        assert_eq!(
            labels_of(&index, series),
            vec![("a".to_owned(), "1".to_owned())]
        );
        assert_eq!(index.label_names(None), vec!["a"]);
    }

    #[test]
    fn invalid_label_sets_are_rejected() {
        let mut index = MemIndex::new();
        let cases: [(&[(&str, &str)], IndexError); 5] = [
            (
                &[("b", "1"), ("a", "1")],
                IndexError::UnsortedLabels {
                    previous: "b".into(),
                    name: "a".into(),
                },
            ),
            (
                &[("a", "1"), ("a", "2")],
                IndexError::DuplicateLabelName { name: "a".into() },
            ),
            (
                &[("a", ""), ("a", "2")],
                IndexError::DuplicateLabelName { name: "a".into() },
            ),
            (&[("", "1")], IndexError::EmptyLabelName),
            (&[("a", "")], IndexError::EmptyLabelSet),
        ];
        for (labels, expected) in cases {
            assert_eq!(index.get_or_create(labels), Err(expected), "{labels:?}");
        }
        assert_eq!(index.get_or_create(&[]), Err(IndexError::EmptyLabelSet));
        assert_eq!(index.num_series(), 0);
        assert_eq!(
            IndexError::UnsortedLabels {
                previous: "b".into(),
                name: "a".into()
            }
            .to_string(),
            "label names are not sorted: \"b\" comes before \"a\""
        );
    }

    #[test]
    fn hash_collisions_are_resolved_by_comparing_labels() {
        let mut index = MemIndex::new();
        index.tag_mask = 0; // every label set gets the same tag
        let sets: Vec<[(String, String); 2]> = (0..300)
            .map(|i| {
                [
                    ("a".to_owned(), format!("{}", i % 17)),
                    ("b".to_owned(), format!("{i}")),
                ]
            })
            .collect();
        let mut refs = Vec::new();
        for set in &sets {
            let labels: Vec<(&str, &str)> =
                set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            refs.push(add(&mut index, &labels));
        }
        for (set, series) in sets.iter().zip(&refs) {
            let labels: Vec<(&str, &str)> =
                set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            assert_eq!(index.get(&labels), Some(*series));
            assert_eq!(index.get_or_create(&labels).unwrap(), (*series, false));
        }
        index.remove(&refs[..150]);
        assert_eq!(index.get(&[("a", "0"), ("b", "0")]), None);
        assert_eq!(index.get(&[("a", "14"), ("b", "150")]), Some(refs[150]));
        let owned: Vec<Vec<(&str, &str)>> = sets
            .iter()
            .map(|set| set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        let batch: Vec<&[(&str, &str)]> = owned.iter().map(Vec::as_slice).collect();
        let expected: Vec<Option<SeriesRef>> =
            (0..300).map(|i| (i >= 150).then_some(refs[i])).collect();
        assert_eq!(index.get_many(&batch), expected);
    }

    #[test]
    fn get_many_agrees_with_get() {
        let mut index = MemIndex::new();
        let sets: Vec<Vec<(String, String)>> = (0..5_000)
            .map(|i| {
                vec![
                    ("__name__".to_owned(), format!("metric_{}", i % 13)),
                    ("instance".to_owned(), format!("host-{}", i / 13)),
                    (
                        "z".to_owned(),
                        if i % 3 == 0 {
                            String::new()
                        } else {
                            "1".into()
                        },
                    ),
                ]
            })
            .collect();
        let borrowed: Vec<Vec<(&str, &str)>> = sets
            .iter()
            .map(|set| set.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
            .collect();
        // Every other set is stored; the batch asks for all, in a shuffled order, twice.
        for labels in borrowed.iter().step_by(2) {
            add(&mut index, labels);
        }
        let mut batch: Vec<&[(&str, &str)]> = borrowed.iter().map(Vec::as_slice).collect();
        batch.reverse();
        batch.rotate_left(1_234);
        batch.extend(batch.clone());
        let expected: Vec<Option<SeriesRef>> = batch.iter().map(|l| index.get(l)).collect();
        assert_eq!(
            expected.iter().filter(|found| found.is_some()).count(),
            5_000
        );
        assert_eq!(index.get_many(&batch), expected);
        assert_eq!(index.get_many(&[]), Vec::new());
    }

    fn semantics_index() -> (MemIndex, BTreeMap<&'static str, SeriesRef>) {
        let mut index = MemIndex::new();
        let series: [(&str, &[(&str, &str)]); 9] = [
            ("plain", &[("__name__", "http_requests_total")]),
            (
                "rep-a",
                &[("__name__", "http_requests_total"), ("replica", "rep-a")],
            ),
            (
                "rep-b",
                &[("__name__", "http_requests_total"), ("replica", "rep-b")],
            ),
            (
                "dev",
                &[
                    ("__name__", "http_requests_total"),
                    ("environment", "development"),
                ],
            ),
            (
                "api",
                &[("__name__", "up"), ("instance", "1"), ("job", "api-server")],
            ),
            (
                "node",
                &[("__name__", "up"), ("instance", "2"), ("job", "node")],
            ),
            (
                "zurich",
                &[("__name__", "temperature_°c"), ("city", "Zürich")],
            ),
            ("multiline", &[("__name__", "up"), ("job", "line1\nline2")]),
            ("tokyo", &[("__name__", "temperature_°c"), ("city", "東京")]),
        ];
        let mut names = BTreeMap::new();
        for (name, labels) in series {
            names.insert(name, add(&mut index, labels));
        }
        (index, names)
    }

    #[test]
    fn select_semantics_table() {
        let (index, ids) = semantics_index();
        let all = [
            "plain",
            "rep-a",
            "rep-b",
            "dev",
            "api",
            "node",
            "zurich",
            "multiline",
            "tokyo",
        ];
        let cases: Vec<(Vec<Matcher>, Vec<&str>)> = vec![
            (vec![], all.to_vec()),
            (
                vec![m("__name__", "=", "http_requests_total")],
                vec!["plain", "rep-a", "rep-b", "dev"],
            ),
            // Documented example: `environment=""` selects series without the label.
            (
                vec![
                    m("__name__", "=", "http_requests_total"),
                    m("environment", "=", ""),
                ],
                vec!["plain", "rep-a", "rep-b"],
            ),
            (
                vec![m("replica", "!=", "rep-a"), m("replica", "=~", "rep.*")],
                vec!["rep-b"],
            ),
            (
                vec![m("replica", "!=", "rep-a")],
                all.iter().copied().filter(|s| *s != "rep-a").collect(),
            ),
            (vec![m("replica", "!=", "")], vec!["rep-a", "rep-b"]),
            (
                vec![m("replica", "=~", "|rep-a")],
                all.iter().copied().filter(|s| *s != "rep-b").collect(),
            ),
            (
                vec![m("replica", "=~", "rep-a|rep-b")],
                vec!["rep-a", "rep-b"],
            ),
            (vec![m("replica", "=~", "(rep-a|nope)")], vec!["rep-a"]),
            (
                vec![m("replica", "!~", "rep-a|rep-b")],
                all.iter()
                    .copied()
                    .filter(|s| !s.starts_with("rep"))
                    .collect(),
            ),
            (
                vec![m("replica", "!~", ".+")],
                all.iter()
                    .copied()
                    .filter(|s| !s.starts_with("rep"))
                    .collect(),
            ),
            (vec![m("replica", "=~", ".+")], vec!["rep-a", "rep-b"]),
            (vec![m("replica", "=~", ".*")], all.to_vec()),
            (vec![m("replica", "!~", ".*")], vec![]),
            (vec![m("replica", "=", "rep-c")], vec![]),
            (vec![m("replica", "!=", "rep-c")], all.to_vec()),
            (vec![m("missing", "=", "")], all.to_vec()),
            (vec![m("missing", "!=", "x")], all.to_vec()),
            (vec![m("missing", "=", "x")], vec![]),
            (vec![m("missing", "=~", ".+")], vec![]),
            (vec![m("missing", "!~", ".*")], vec![]),
            (vec![m("job", "=~", ".+-server")], vec!["api"]),
            (
                vec![m("job", "=~", ".+-server"), m("job", "!~", "api-.+")],
                vec![],
            ),
            (
                vec![m("job", "!~", "api-.+"), m("__name__", "=", "up")],
                vec!["node", "multiline"],
            ),
            (vec![m("job", "=~", "line1.line2")], vec!["multiline"]),
            (vec![m("job", "=~", "line1.*")], vec!["multiline"]),
            (vec![m("job", "=~", "(?i)API-SERVER")], vec!["api"]),
            (vec![m("job", "=~", "a.*|n.*")], vec!["api", "node"]),
            (vec![m("instance", "=~", "\\d")], vec!["api", "node"]),
            (vec![m("city", "=", "Zürich")], vec!["zurich"]),
            (vec![m("city", "=~", "東.")], vec!["tokyo"]),
            (vec![m("city", "=~", "..")], vec!["tokyo"]),
            (vec![m("city", "=~", "Z.rich")], vec!["zurich"]),
            (
                vec![
                    m("city", "!~", "Z.*"),
                    m("__name__", "=~", "temperature_.*"),
                ],
                vec!["tokyo"],
            ),
            (vec![m("__name__", "=~", ".*_°c")], vec!["zurich", "tokyo"]),
            (
                vec![m("__name__", "=~", "up|temperature_°c"), m("job", "=", "")],
                vec!["zurich", "tokyo"],
            ),
            (
                vec![
                    m("__name__", "!=", "up"),
                    m("__name__", "!=", "http_requests_total"),
                ],
                vec!["zurich", "tokyo"],
            ),
            (vec![m("__name__", "=~", "UP")], vec![]),
        ];
        for (matchers, expected) in cases {
            let mut expected: Vec<SeriesRef> = expected.iter().map(|name| ids[name]).collect();
            expected.sort_unstable();
            assert_eq!(select_all_ways(&index, &matchers), expected, "{matchers:?}");
        }
    }

    #[test]
    fn label_names_and_values() {
        let (index, ids) = semantics_index();
        assert_eq!(
            index.label_names(None),
            vec![
                "__name__",
                "city",
                "environment",
                "instance",
                "job",
                "replica"
            ]
        );
        assert_eq!(
            index.label_names(Some(&[ids["api"], ids["rep-a"], 999])),
            vec!["__name__", "instance", "job", "replica"]
        );
        assert_eq!(index.label_names(Some(&[])), Vec::<String>::new());
        assert_eq!(index.label_values("replica", None), vec!["rep-a", "rep-b"]);
        assert_eq!(index.label_values("city", None), vec!["Zürich", "東京"]);
        assert_eq!(
            index.label_values("job", Some(&[ids["node"], ids["plain"]])),
            vec!["node"]
        );
        assert_eq!(index.label_values("missing", None), Vec::<String>::new());
        assert_eq!(
            index.label_values("__name__", None),
            vec!["http_requests_total", "temperature_°c", "up"]
        );
    }

    #[test]
    fn remove_cleans_postings_names_and_values() {
        let (mut index, ids) = semantics_index();
        index.remove(&[ids["rep-a"], ids["rep-b"], ids["rep-a"], 12345]);
        assert_eq!(index.num_series(), 7);
        assert!(!index.contains_ref(ids["rep-a"]));
        assert!(index.labels(ids["rep-b"]).is_none());
        assert!(!index.label_names(None).contains(&"replica".to_owned()));
        assert_eq!(index.label_values("replica", None), Vec::<String>::new());
        assert_eq!(
            select_all_ways(&index, &[m("replica", "=~", ".+")]),
            Vec::<SeriesRef>::new()
        );
        assert_eq!(
            select_all_ways(&index, &[m("__name__", "=", "http_requests_total")]).len(),
            2
        );
        assert_eq!(
            index.get(&[("__name__", "http_requests_total"), ("replica", "rep-a")]),
            None
        );
        let (again, created) = index
            .get_or_create(&[("__name__", "http_requests_total"), ("replica", "rep-a")])
            .unwrap();
        assert!(created && again > ids["tokyo"], "references are not reused");
        assert_eq!(index.label_values("replica", None), vec!["rep-a"]);
    }

    #[test]
    fn compaction_after_mass_removal_keeps_everything_consistent() {
        let mut index = MemIndex::new();
        let mut refs = Vec::new();
        for i in 0..30_000u32 {
            let instance = format!("host-{i}");
            let labels = [
                ("__name__", "m"),
                ("instance", instance.as_str()),
                ("job", "j"),
                ("k", if i % 2 == 0 { "even" } else { "odd" }),
            ];
            refs.push(add(&mut index, &labels));
        }
        let before = index.memory_bytes_estimate();
        let symbols_before = index.symbols.len();
        let removed: Vec<SeriesRef> = refs.iter().copied().filter(|r| r % 10 != 0).collect();
        index.remove(&removed);
        assert!(
            index.symbols.len() < symbols_before / 2,
            "symbols of removed series dropped"
        );
        assert!(index.memory_bytes_estimate() < before);
        assert_eq!(index.num_series(), 3_000);
        for (i, &series) in refs.iter().enumerate() {
            let instance = format!("host-{i}");
            let labels = [
                ("__name__", "m"),
                ("instance", instance.as_str()),
                ("job", "j"),
                ("k", if i % 2 == 0 { "even" } else { "odd" }),
            ];
            let expected = (i % 10 == 0).then_some(series);
            assert_eq!(index.get(&labels), expected);
        }
        assert_eq!(select_all_ways(&index, &[m("k", "=", "even")]).len(), 3_000);
        assert_eq!(
            select_all_ways(&index, &[m("instance", "=~", "host-1.*")]).len(),
            1_111
        );
        assert_eq!(index.label_values("k", None), vec!["even"]);
        let (new, created) = index.get_or_create(&[("instance", "host-1")]).unwrap();
        assert!(created && new as usize == refs.len());
    }

    #[test]
    fn cardinality_statistics() {
        let (index, _) = semantics_index();
        let stats = index.cardinality_stats(2);
        assert_eq!(stats.num_series, 9);
        let entry = |name: &str, value: u64| StatCount {
            name: name.to_owned(),
            value,
        };
        assert_eq!(
            stats.series_count_by_metric_name,
            vec![entry("http_requests_total", 4), entry("up", 3)]
        );
        assert_eq!(
            stats.label_value_count_by_label_name,
            vec![entry("__name__", 3), entry("job", 3)]
        );
        assert_eq!(
            stats.memory_in_bytes_by_label_name,
            vec![entry("__name__", 19 + 15 + 2), entry("job", 10 + 4 + 11)]
        );
        assert_eq!(
            stats.series_count_by_label_value_pair,
            vec![
                entry("__name__=http_requests_total", 4),
                entry("__name__=up", 3)
            ]
        );
        assert_eq!(stats.num_label_pairs, 3 + 2 + 1 + 2 + 3 + 2);
        assert!(index
            .cardinality_stats(0)
            .series_count_by_metric_name
            .is_empty());
        assert_eq!(
            index
                .cardinality_stats(100)
                .label_value_count_by_label_name
                .len(),
            6
        );
    }

    #[test]
    fn memory_estimate_grows_with_series() {
        let mut index = MemIndex::new();
        let empty = index.memory_bytes_estimate();
        for i in 0..1000 {
            let value = i.to_string();
            add(&mut index, &[("__name__", "x"), ("id", value.as_str())]);
        }
        assert!(index.memory_bytes_estimate() > empty + 1000 * 8);
    }

    const NAMES: [&str; 4] = ["__name__", "a", "b", "c"];
    const VALUES: [&str; 7] = ["", "x", "y", "xy", "é", "x\ny", "yx"];
    const PATTERNS: [&str; 16] = [
        "", "x", "y", "x|y", "|x", "x.*", ".*y", ".*x.*", ".+", ".*", "é|xy", "x.y", "[xy]+",
        "(x|y)x?", "\\w+", "yx|",
    ];

    fn label_set_strategy() -> impl Strategy<Value = Vec<(usize, usize)>> {
        proptest::collection::vec((0..NAMES.len(), 0..VALUES.len()), 0..4)
    }

    fn matcher_strategy() -> impl Strategy<Value = Matcher> {
        (0..NAMES.len() + 1, 0..4usize, 0..PATTERNS.len()).prop_map(|(name, op, pattern)| {
            let name = NAMES.get(name).copied().unwrap_or("missing");
            let op = [
                MatchOp::Equal,
                MatchOp::NotEqual,
                MatchOp::RegexMatch,
                MatchOp::RegexNoMatch,
            ][op];
            Matcher::new(op, name, PATTERNS[pattern]).unwrap_or_else(|e| panic!("{e}"))
        })
    }

    fn queries_strategy(max_queries: usize) -> impl Strategy<Value = Vec<Vec<Matcher>>> {
        proptest::collection::vec(
            proptest::collection::vec(matcher_strategy(), 0..4),
            1..max_queries,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn explicit_out_of_order_refs_keep_postings_sorted(
            sets in proptest::collection::vec(label_set_strategy(), 0..30),
            refs in Just((0u32..60).collect::<Vec<_>>()).prop_shuffle(),
            queries in queries_strategy(6),
        ) {
            let mut index = MemIndex::new();
            for (set, series) in sets.iter().zip(refs) {
                let mut labels: BTreeMap<&str, &str> = BTreeMap::new();
                for &(name, value) in set {
                    labels.insert(NAMES[name], VALUES[value]);
                }
                let labels: Vec<(&str, &str)> = labels.into_iter().collect();
                let existing = index.get(&labels);
                match index.insert_with_ref(series, &labels) {
                    Ok(()) => prop_assert_eq!(index.get(&labels), Some(series)),
                    Err(IndexError::DuplicateSeries { existing: found }) => {
                        prop_assert_eq!(Some(found), existing)
                    }
                    Err(error) => prop_assert_eq!(error, IndexError::EmptyLabelSet),
                }
            }
            for entry in index.postings.values() {
                for list in entry.values.values() {
                    prop_assert!(postings::is_strictly_increasing(list));
                }
            }
            for matchers in &queries {
                select_all_ways(&index, matchers);
            }
        }

        #[test]
        fn select_agrees_with_brute_force(
            sets in proptest::collection::vec(label_set_strategy(), 0..40),
            removals in proptest::collection::vec(0u32..40, 0..10),
            queries in queries_strategy(8),
        ) {
            let mut index = MemIndex::new();
            let mut reference: BTreeMap<Vec<(String, String)>, SeriesRef> = BTreeMap::new();
            for set in &sets {
                let mut labels: BTreeMap<&str, &str> = BTreeMap::new();
                for &(name, value) in set {
                    labels.insert(NAMES[name], VALUES[value]);
                }
                let labels: Vec<(&str, &str)> = labels.into_iter().collect();
                let key: Vec<(String, String)> = labels
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                match index.get_or_create(&labels) {
                    Ok((series, created)) => {
                        prop_assert_eq!(created, !reference.contains_key(&key));
                        prop_assert_eq!(*reference.entry(key.clone()).or_insert(series), series);
                        prop_assert_eq!(labels_of(&index, series), key);
                    }
                    Err(error) => {
                        prop_assert_eq!(error, IndexError::EmptyLabelSet);
                        prop_assert!(key.is_empty());
                    }
                }
            }
            index.remove(&removals);
            reference.retain(|_, series| !removals.contains(series));
            prop_assert_eq!(index.num_series(), reference.len());
            for (key, series) in &reference {
                let labels: Vec<(&str, &str)> =
                    key.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                prop_assert_eq!(index.get(&labels), Some(*series));
            }
            let live: Vec<SeriesRef> = reference.values().copied().collect();
            let mut names: Vec<String> =
                reference.keys().flatten().map(|(n, _)| n.clone()).collect();
            names.sort();
            names.dedup();
            prop_assert_eq!(index.label_names(None), names.clone());
            prop_assert_eq!(index.label_names(Some(&live)), names);
            for name in NAMES {
                let mut values: Vec<String> = reference
                    .keys()
                    .flatten()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .collect();
                values.sort();
                values.dedup();
                prop_assert_eq!(index.label_values(name, None), values.clone());
                prop_assert_eq!(index.label_values(name, Some(&live)), values);
            }
            for matchers in &queries {
                select_all_ways(&index, matchers);
            }
        }
    }
}
