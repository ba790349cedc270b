//! `/loki/api/v1/tail`: a websocket that first sends the newest `limit` matching entries
//! since `start`, then every matching entry as it is pushed. Entries are held back
//! `delay_for` seconds (at most 5) and sent in time order, so slightly late loggers still
//! arrive sorted; entries a slow reader could not take are reported in `dropped_entries`.
//! Tailers are limited by `logs.limits.max_concurrent_tail_requests` and closed after
//! `logs.limits.tail_max_duration`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::labels::time_param;
use super::query::{limit, parse_query, write_stream_list};
use super::{now_ns, store, tenant, LogsState};
use crate::api_error::{ApiError, ErrorKind};
use crate::json_text;
use crate::logs::logql::{Expr, LogExpr, Pipeline};
use crate::logs::query::{run_log_query, Direction, StreamResult};
use crate::logs::store::{LiveSubscription, LogStore, StreamId};
use crate::metrics::api::params::{collect_params, param};
use crate::metrics::tsdb::index::Matcher;

/// Loki refuses a longer `delay_for`.
const MAX_DELAY_SECONDS: u64 = 5;
/// Appends queued for one tailer before further ones count as dropped.
const QUEUED_APPENDS: usize = 1024;
/// How often held-back entries are checked for release.
const RELEASE_TICK: Duration = Duration::from_millis(100);

type Labels = Vec<(String, String)>;

struct TailRequest {
    expr: LogExpr,
    matchers: Vec<Matcher>,
    pipeline: Pipeline,
    delay: Duration,
    limit: usize,
    start_ns: i64,
}

fn parse_request(params: &[(String, String)]) -> Result<TailRequest, ApiError> {
    let Expr::Log(expr) = parse_query(params)? else {
        return Err(ApiError::bad_data(
            "tail supports log queries only, not metric queries",
        ));
    };
    let delay_seconds = match param(params, "delay_for") {
        None | Some("") => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::bad_data(format!("invalid delay_for {text:?}")))?,
    };
    if delay_seconds > MAX_DELAY_SECONDS {
        return Err(ApiError::bad_data(format!(
            "delay_for can't be greater than {MAX_DELAY_SECONDS}"
        )));
    }
    let matchers = crate::logs::query::store_matchers(&expr.matchers)
        .map_err(|err| ApiError::bad_data(err.to_string()))?;
    let pipeline =
        Pipeline::new(&expr.stages).map_err(|err| ApiError::bad_data(err.to_string()))?;
    Ok(TailRequest {
        matchers,
        pipeline,
        delay: Duration::from_secs(delay_seconds),
        limit: limit(params)?,
        start_ns: time_param(params, "start", now_ns() - 3_600 * 1_000_000_000)?,
        expr,
    })
}

pub async fn tail(
    State(state): State<Arc<LogsState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let params = collect_params(query.as_deref(), &headers, &axum::body::Bytes::new());
    let request = match parse_request(&params) {
        Ok(request) => request,
        Err(err) => return err.into_response(),
    };
    let store = match store(&state) {
        Ok(store) => store,
        Err(err) => return err.into_response(),
    };
    let slot = TailerSlot::take(state.clone());
    let active = slot.active;
    if active > state.tail_limits.max_concurrent {
        return ApiError::new(
            ErrorKind::TooManyRequests,
            format!(
                "max concurrent tail requests limit exceeded, count > limit ({active} > {})",
                state.tail_limits.max_concurrent
            ),
        )
        .into_response();
    }
    let tenant = tenant(&headers);
    let max_duration = state.tail_limits.max_duration;
    // The slot moves into the callback, so it is given back however the socket ends, and
    // also when the upgrade fails and the callback never runs.
    upgrade.on_upgrade(move |socket| async move {
        let _slot = slot;
        let tailer = Tailer::new(store, &tenant, request);
        tailer.run(socket, max_duration).await;
    })
}

/// One of the `max_concurrent_tail_requests` places, held while a tailer lives.
struct TailerSlot {
    state: Arc<LogsState>,
    /// Tailers open counting this one.
    active: usize,
}

impl TailerSlot {
    fn take(state: Arc<LogsState>) -> TailerSlot {
        let active = state.active_tailers.fetch_add(1, Ordering::AcqRel) + 1;
        TailerSlot { state, active }
    }
}

impl Drop for TailerSlot {
    fn drop(&mut self) {
        self.state.active_tailers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An entry waiting for its `delay_for` to pass.
struct Held {
    release_at: Instant,
    timestamp_ns: i64,
    labels: Labels,
    line: String,
}

struct Tailer {
    store: Arc<LogStore>,
    tenant: String,
    request: TailRequest,
    subscription: LiveSubscription,
    /// Whether a stream matches the selector, and its labels if so.
    streams: HashMap<StreamId, Option<Arc<Labels>>>,
    /// Entries already sent with the history, not to be sent again when they arrive live.
    sent_with_history: HashSet<(i64, String)>,
    held: Vec<Held>,
}

impl Tailer {
    fn new(store: Arc<LogStore>, tenant: &str, request: TailRequest) -> Tailer {
        // Subscribe before reading the history, so nothing falls between the two.
        let subscription = store.subscribe_live(tenant, QUEUED_APPENDS);
        Tailer {
            store,
            tenant: tenant.to_string(),
            request,
            subscription,
            streams: HashMap::new(),
            sent_with_history: HashSet::new(),
            held: Vec::new(),
        }
    }

    async fn run(mut self, mut socket: WebSocket, max_duration: Duration) {
        let deadline = Instant::now() + max_duration;
        match self.history().await {
            Ok(Some(message)) => {
                if socket.send(Message::Text(message.into())).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(message) => {
                close(&mut socket, 1011, &message).await;
                return;
            }
        }
        let mut tick = tokio::time::interval(RELEASE_TICK);
        loop {
            tokio::select! {
                batch = self.subscription.batches.recv() => match batch {
                    Some(batch) => self.hold(&batch),
                    None => break,
                },
                _ = tick.tick() => {
                    if let Some(message) = self.release(Instant::now()) {
                        if socket.send(Message::Text(message.into())).await.is_err() {
                            return;
                        }
                    }
                    if Instant::now() >= deadline {
                        close(&mut socket, 1000, "tail_max_duration reached").await;
                        return;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    /// The newest `limit` entries since `start`, oldest first, as one message.
    async fn history(&mut self) -> Result<Option<String>, String> {
        let store = self.store.clone();
        let tenant = self.tenant.clone();
        let expr = self.request.expr.clone();
        let (start, limit) = (self.request.start_ns, self.request.limit);
        let end = now_ns() + 1;
        let streams = tokio::task::spawn_blocking(move || {
            run_log_query(
                &store,
                &tenant,
                &expr,
                start,
                end,
                limit,
                Direction::Backward,
            )
        })
        .await
        .map_err(|err| err.to_string())?
        .map_err(|err| err.to_string())?;
        if streams.is_empty() {
            return Ok(None);
        }
        let streams: Vec<StreamResult> = streams
            .into_iter()
            .map(|mut stream| {
                stream.entries.reverse();
                for (timestamp, line) in &stream.entries {
                    self.sent_with_history.insert((*timestamp, line.clone()));
                }
                stream
            })
            .collect();
        Ok(Some(render(&streams, &[])))
    }

    fn stream_labels(&mut self, stream: StreamId) -> Option<Arc<Labels>> {
        let store = &self.store;
        let matchers = &self.request.matchers;
        self.streams
            .entry(stream)
            .or_insert_with(|| {
                let info = store.stream_info(stream)?;
                matchers
                    .iter()
                    .all(|matcher| {
                        let value = info
                            .labels
                            .iter()
                            .find(|(name, _)| name == matcher.name())
                            .map_or("", |(_, value)| value.as_str());
                        matcher.matches(value)
                    })
                    .then_some(info.labels)
            })
            .clone()
    }

    /// Runs a pushed batch through the selector and pipeline and holds what passes.
    fn hold(&mut self, batch: &crate::logs::store::LiveBatch) {
        let release_at = Instant::now() + self.request.delay;
        for (stream, entries) in &batch.streams {
            let Some(labels) = self.stream_labels(*stream) else {
                continue;
            };
            for entry in entries {
                let Some((line, labels)) = self.request.pipeline.process_at(
                    entry.timestamp_ns,
                    &labels,
                    &entry.structured_metadata,
                    &entry.line,
                ) else {
                    continue;
                };
                if !self.sent_with_history.is_empty()
                    && self
                        .sent_with_history
                        .remove(&(entry.timestamp_ns, line.clone()))
                {
                    continue;
                }
                self.held.push(Held {
                    release_at,
                    timestamp_ns: entry.timestamp_ns,
                    labels,
                    line,
                });
            }
        }
    }

    /// Entries whose delay has passed, in time order, with the entries dropped meanwhile.
    fn release(&mut self, now: Instant) -> Option<String> {
        let dropped = self.subscription.take_dropped();
        let (ready, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.release_at <= now);
        self.held = waiting;
        if ready.is_empty() && dropped.is_empty() {
            return None;
        }
        let mut ready = ready;
        ready.sort_by_key(|held| held.timestamp_ns);
        let mut streams: Vec<StreamResult> = Vec::new();
        let mut by_labels: HashMap<Labels, usize> = HashMap::new();
        for held in ready {
            let index = *by_labels.entry(held.labels.clone()).or_insert_with(|| {
                streams.push(StreamResult {
                    labels: held.labels,
                    entries: Vec::new(),
                });
                streams.len() - 1
            });
            streams[index].entries.push((held.timestamp_ns, held.line));
        }
        let dropped: Vec<(Arc<Labels>, i64)> = dropped
            .into_iter()
            .filter_map(|entry| {
                let labels = self.stream_labels(entry.stream)?;
                Some((labels, entry.timestamp_ns))
            })
            .collect();
        if streams.is_empty() && dropped.is_empty() {
            return None;
        }
        Some(render(&streams, &dropped))
    }
}

/// `{"streams":[…],"dropped_entries":[{"labels":{…},"timestamp":"<ns>"}]}`, the second key
/// only when something was dropped.
fn render(streams: &[StreamResult], dropped: &[(Arc<Labels>, i64)]) -> String {
    let mut out = String::from("{\"streams\":[");
    write_stream_list(&mut out, streams);
    out.push(']');
    if !dropped.is_empty() {
        out.push_str(",\"dropped_entries\":[");
        for (index, (labels, timestamp)) in dropped.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            json_text::write_labels(&mut out, labels);
            let _ = write!(out, ",\"timestamp\":\"{timestamp}\"}}");
        }
        out.push(']');
    }
    out.push('}');
    out
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        })))
        .await;
}
