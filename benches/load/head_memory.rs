//! `--head-memory`: the heap bytes a series costs in the TSDB, phase by phase, measured in
//! this process (no server): the workload's label sets in a bare label index, then the
//! database fed one round at a time in remote-write-sized batches. Counts what the
//! allocator was asked for (with glibc's chunk overhead estimated beside it), and what the
//! allocator holds free, which is where fragmentation shows. Deterministic apart from the
//! free figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use sightline::metrics::tsdb::index::MemIndex;
use sightline::metrics::tsdb::{AppendSeries, Tsdb, TsdbOptions};

use crate::generator::{Generator, WorkloadShape};

/// The system allocator, counting live bytes while [`COUNTING`] is set.
pub struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicIsize = AtomicIsize::new(0);
static WITH_OVERHEAD: AtomicIsize = AtomicIsize::new(0);

/// What glibc's malloc takes for a request: an 8-byte header, 16-byte granules, 32 at least.
fn chunk_size(size: usize) -> isize {
    (size + 8).div_ceil(16).max(2) as isize * 16
}

fn count(freed: usize, allocated: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        REQUESTED.fetch_add(allocated as isize - freed as isize, Ordering::Relaxed);
        let overhead = |size| if size == 0 { 0 } else { chunk_size(size) };
        WITH_OVERHEAD.fetch_add(overhead(allocated) - overhead(freed), Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only reads
// the layouts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(0, layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(layout.size(), 0);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(layout.size(), new_size);
        System.realloc(ptr, layout, new_size)
    }
}

/// Live counted bytes: `(requested, with malloc overhead)`.
fn live() -> (isize, isize) {
    (
        REQUESTED.load(Ordering::Relaxed),
        WITH_OVERHEAD.load(Ordering::Relaxed),
    )
}

/// Bytes glibc's malloc holds free (in its bins, not returned to the system).
fn allocator_free() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let info = unsafe { libc::mallinfo2() };
        Some(info.fordblks)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

fn print_row(phase: &str, since: (isize, isize), series: usize) {
    let (requested, with_overhead) = live();
    let per_series = |bytes: isize| bytes as f64 / series as f64;
    let free = allocator_free().map_or("n/a".to_string(), |free| {
        format!("{:.1}", free as f64 / series as f64)
    });
    println!(
        "| {phase:<44} | {:>9.1} | {:>13.1} | {free:>14} |",
        per_series(requested - since.0),
        per_series(with_overhead - since.1),
    );
}

pub fn run(shape: WorkloadShape, rounds: usize, batch: usize) {
    let mut generator = Generator::new(shape);
    let series = generator.series_count();
    let label_sets: Vec<Vec<(String, String)>> = (0..series)
        .map(|index| {
            let mut labels = generator.labels(index).to_vec();
            labels.sort();
            labels
        })
        .collect();
    let borrowed: Vec<Vec<(&str, &str)>> = label_sets
        .iter()
        .map(|labels| {
            labels
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect()
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    println!("head memory: {series} series, {rounds} samples each, {batch} samples per append");
    println!("| phase                                        | B/series  | +malloc B/ser | malloc free B/s |");
    println!("|----------------------------------------------|-----------|---------------|-----------------|");
    COUNTING.store(true, Ordering::Relaxed);
    let start = live();
    {
        let mut index = MemIndex::new();
        for labels in &borrowed {
            index.get_or_create(labels).expect("valid labels");
        }
        print_row("label index alone", start, series);
    }
    let db = Tsdb::open(dir.path(), TsdbOptions::default()).expect("open the database");
    let start = live();
    let report_after = [
        1,
        rounds / 4,
        rounds / 2,
        rounds / 2 + 1,
        rounds * 3 / 4,
        rounds,
    ];
    for round in 1..=rounds {
        // The round's samples are counted while they exist; they are gone before a row.
        let samples: Vec<[(i64, f64); 1]> = generator
            .next_round_samples()
            .into_iter()
            .map(|(_, timestamp, value)| [(timestamp, value)])
            .collect();
        for start in (0..series).step_by(batch.max(1)) {
            let appends: Vec<AppendSeries<'_>> = (start..(start + batch).min(series))
                .map(|index| AppendSeries::new(&borrowed[index], &samples[index]))
                .collect();
            db.append(&appends).expect("append");
        }
        drop(samples);
        if report_after.contains(&round) {
            db.spill_head_chunks();
            print_row(
                &format!("database after {round} samples a series"),
                start,
                series,
            );
        }
    }
    COUNTING.store(false, Ordering::Relaxed);
}
