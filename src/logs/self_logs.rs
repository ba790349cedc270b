//! Sightline's own log events into its log store, as the stream
//! `{job="sightline", level="<level>"}` with the event's target as structured metadata, so a
//! fresh install has logs to explore. A `tracing` layer formats each event into a line and
//! hands it over a bounded channel (dropping when full, never blocking the caller); a
//! forwarder thread appends batches. Events of the logs side itself are not captured, nor
//! events of shared code it calls inside one of its spans (the WAL writer during a flush),
//! so storing self logs can never feed back into itself.

use std::fmt::Write as _;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::store::{LogEntry, LogStore, DEFAULT_TENANT};

/// Events waiting for the forwarder; beyond this they are dropped.
const CHANNEL_CAPACITY: usize = 10_000;
/// Targets never captured: the logs side's own events.
const EXCLUDED_TARGET: &str = "sightline::logs";

pub struct SelfLogRecord {
    timestamp_ns: i64,
    level: Level,
    target: String,
    line: String,
}

static RECEIVER: OnceLock<Mutex<Option<Receiver<SelfLogRecord>>>> = OnceLock::new();

/// The layer to install in the subscriber; its receiving end is kept for
/// [`start_forwarding`].
pub fn layer() -> SelfLogLayer {
    let (sender, receiver) = sync_channel(CHANNEL_CAPACITY);
    let _ = RECEIVER.set(Mutex::new(Some(receiver)));
    SelfLogLayer { sender }
}

pub struct SelfLogLayer {
    sender: SyncSender<SelfLogRecord>,
}

struct LineVisitor {
    message: String,
    fields: String,
}

impl Visit for LineVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SelfLogLayer {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if metadata.target().starts_with(EXCLUDED_TARGET) {
            return;
        }
        let inside_logs_span = ctx.event_scope(event).is_some_and(|mut scope| {
            scope.any(|span| span.metadata().target().starts_with(EXCLUDED_TARGET))
        });
        if inside_logs_span {
            return;
        }
        let mut visitor = LineVisitor {
            message: String::new(),
            fields: String::new(),
        };
        event.record(&mut visitor);
        let timestamp_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as i64)
            .unwrap_or(0);
        let record = SelfLogRecord {
            timestamp_ns,
            level: *metadata.level(),
            target: metadata.target().to_string(),
            line: format!("{}{}", visitor.message, visitor.fields),
        };
        // Full or no forwarder: drop rather than block the code that logged.
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.sender.try_send(record)
        {}
    }
}

/// Starts appending captured events to `store` (once; later calls do nothing). With
/// `enabled` false the queue is dropped and nothing more is captured.
pub fn start_forwarding(store: Arc<LogStore>, enabled: bool) {
    let Some(receiver) = RECEIVER
        .get()
        .and_then(|slot| slot.lock().ok().and_then(|mut slot| slot.take()))
    else {
        return;
    };
    if !enabled {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("self-logs".into())
        .spawn(move || forward(receiver, store));
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the self-log forwarder");
    }
}

fn forward(receiver: Receiver<SelfLogRecord>, store: Arc<LogStore>) {
    loop {
        let first = match receiver.recv_timeout(Duration::from_millis(500)) {
            Ok(record) => record,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut by_level: Vec<(Level, Vec<LogEntry>)> = Vec::new();
        for record in std::iter::once(first).chain(receiver.try_iter()) {
            let entry = LogEntry {
                timestamp_ns: record.timestamp_ns,
                line: record.line,
                structured_metadata: vec![("target".to_string(), record.target)],
            };
            match by_level
                .iter_mut()
                .find(|(level, _)| *level == record.level)
            {
                Some((_, entries)) => entries.push(entry),
                None => by_level.push((record.level, vec![entry])),
            }
        }
        let batch = by_level
            .into_iter()
            .map(|(level, entries)| {
                let labels = vec![
                    ("job".to_string(), "sightline".to_string()),
                    ("level".to_string(), level.as_str().to_ascii_lowercase()),
                ];
                (labels, entries)
            })
            .collect();
        // An error here is the logs side's own and is not captured (see above).
        if let Err(err) = store.append(DEFAULT_TENANT, batch) {
            tracing::warn!(target: "sightline::logs::self_logs", error = %err, "self logs not stored");
        }
    }
}
