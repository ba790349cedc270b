//! The live feed behind tailing: every durable append is offered to the subscribers of its
//! tenant. Each subscriber has a bounded queue; when it is full (a slow reader) the
//! entries are not queued but remembered as dropped (stream and timestamp), so the reader
//! can be told what it missed, as Loki's tail reports `dropped_entries`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::entry::LogEntry;
use super::streams::StreamId;

/// Entries of one append for one tenant, as stored.
#[derive(Debug)]
pub struct LiveBatch {
    pub streams: Vec<(StreamId, Vec<LogEntry>)>,
}

/// An entry a subscriber missed because its queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedEntry {
    pub stream: StreamId,
    pub timestamp_ns: i64,
}

/// At most this many dropped entries are remembered between two reads of them.
const MAX_REMEMBERED_DROPS: usize = 1000;

struct Subscriber {
    tenant: String,
    sender: mpsc::Sender<Arc<LiveBatch>>,
    dropped: Arc<Mutex<Vec<DroppedEntry>>>,
}

#[derive(Default)]
pub struct LiveFeed {
    subscribers: Mutex<Vec<Subscriber>>,
    /// Lets an append skip building a batch when nobody listens.
    count: AtomicUsize,
}

/// A subscriber's end: batches in arrival order, and what was dropped.
pub struct LiveSubscription {
    pub batches: mpsc::Receiver<Arc<LiveBatch>>,
    dropped: Arc<Mutex<Vec<DroppedEntry>>>,
}

impl LiveSubscription {
    /// Dropped entries since the last call.
    pub fn take_dropped(&self) -> Vec<DroppedEntry> {
        std::mem::take(
            &mut *self
                .dropped
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

impl LiveFeed {
    /// Subscribes to the appends of `tenant`, queueing up to `capacity` batches.
    pub fn subscribe(&self, tenant: &str, capacity: usize) -> LiveSubscription {
        let (sender, batches) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.push(Subscriber {
            tenant: tenant.to_string(),
            sender,
            dropped: dropped.clone(),
        });
        self.count.store(subscribers.len(), Ordering::Release);
        LiveSubscription { batches, dropped }
    }

    pub fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Offers a stored batch to the tenant's subscribers; subscribers that went away are
    /// forgotten.
    pub fn publish(&self, tenant: &str, batch: LiveBatch) {
        let batch = Arc::new(batch);
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        subscribers.retain(|subscriber| {
            if subscriber.tenant != tenant {
                return !subscriber.sender.is_closed();
            }
            match subscriber.sender.try_send(batch.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let mut dropped = subscriber
                        .dropped
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let room = MAX_REMEMBERED_DROPS.saturating_sub(dropped.len());
                    dropped.extend(
                        batch
                            .streams
                            .iter()
                            .flat_map(|(stream, entries)| {
                                entries.iter().map(|entry| DroppedEntry {
                                    stream: *stream,
                                    timestamp_ns: entry.timestamp_ns,
                                })
                            })
                            .take(room),
                    );
                    true
                }
            }
        });
        self.count.store(subscribers.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(stream: StreamId, timestamps: &[i64]) -> LiveBatch {
        LiveBatch {
            streams: vec![(
                stream,
                timestamps
                    .iter()
                    .map(|&timestamp_ns| LogEntry {
                        timestamp_ns,
                        line: format!("line {timestamp_ns}"),
                        structured_metadata: Vec::new(),
                    })
                    .collect(),
            )],
        }
    }

    #[test]
    fn a_full_queue_turns_entries_into_dropped_ones() {
        let feed = LiveFeed::default();
        let mut subscription = feed.subscribe("fake", 1);
        feed.publish("fake", batch(7, &[1, 2]));
        feed.publish("fake", batch(7, &[3]));
        feed.publish("other", batch(8, &[4]));
        let first = subscription.batches.try_recv().unwrap();
        assert_eq!(first.streams[0].1.len(), 2);
        assert!(subscription.batches.try_recv().is_err());
        assert_eq!(
            subscription.take_dropped(),
            vec![DroppedEntry {
                stream: 7,
                timestamp_ns: 3
            }]
        );
        assert!(subscription.take_dropped().is_empty());
    }

    #[test]
    fn closed_subscribers_are_forgotten() {
        let feed = LiveFeed::default();
        let subscription = feed.subscribe("fake", 4);
        assert!(feed.has_subscribers());
        drop(subscription);
        feed.publish("fake", batch(1, &[1]));
        assert!(!feed.has_subscribers());
    }
}
