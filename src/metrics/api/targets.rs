//! `/api/v1/targets` and `/api/v1/metadata`, from the scrape manager's state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::params::param;
use super::MetricsState;
use crate::time_format::rfc3339_millis;

fn label_object(labels: &[(String, String)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub async fn targets(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query.as_deref());
    let wanted = param(&params, "state")
        .unwrap_or("any")
        .to_ascii_lowercase();
    let pool_filter = param(&params, "scrapePool").map(str::to_string);
    let Some(manager) = state.scrape.get() else {
        return Json(json!({"status": "success", "data": {"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}}})).into_response();
    };
    let in_pool = |pool: &str| pool_filter.as_deref().is_none_or(|wanted| wanted == pool);
    let active: Vec<Value> = if wanted == "any" || wanted == "active" {
        manager
            .active_targets()
            .into_iter()
            .filter(|target| in_pool(&target.scrape_pool))
            .map(|target| {
                let last_scrape = if target.health.last_scrape_ms == 0 {
                    "0001-01-01T00:00:00Z".to_string()
                } else {
                    rfc3339_millis(target.health.last_scrape_ms)
                };
                json!({
                    "discoveredLabels": label_object(&target.discovered_labels),
                    "labels": label_object(&target.labels),
                    "scrapePool": target.scrape_pool,
                    "scrapeUrl": target.url,
                    "globalUrl": target.url,
                    "lastError": target.health.last_error,
                    "lastScrape": last_scrape,
                    "lastScrapeDuration": target.health.last_duration_seconds,
                    "health": target.health.health.as_str(),
                    "scrapeInterval": crate::config::duration::PromDuration(std::time::Duration::from_secs_f64(target.interval_seconds)).to_string(),
                    "scrapeTimeout": crate::config::duration::PromDuration(std::time::Duration::from_secs_f64(target.timeout_seconds)).to_string(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut dropped_counts: BTreeMap<String, u64> = BTreeMap::new();
    let dropped: Vec<Value> = if wanted == "any" || wanted == "dropped" {
        manager
            .dropped_targets()
            .into_iter()
            .filter(|(pool, _)| in_pool(pool))
            .map(|(pool, target)| {
                *dropped_counts.entry(pool).or_default() += 1;
                json!({ "discoveredLabels": label_object(&target.discovered_labels) })
            })
            .collect()
    } else {
        Vec::new()
    };
    Json(json!({
        "status": "success",
        "data": { "activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": dropped_counts },
    }))
    .into_response()
}

/// `{"metric": [{"type", "help", "unit"}]}` across all targets, deduplicated.
pub async fn metadata(
    State(state): State<Arc<MetricsState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query.as_deref());
    let metric = param(&params, "metric").map(str::to_string);
    let limit = param(&params, "limit")
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|n| *n >= 0);
    let mut families: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if let Some(manager) = state.scrape.get() {
        for target in manager.active_targets() {
            for (family, (kind, help, unit)) in target.health.metadata {
                if metric.as_deref().is_some_and(|wanted| wanted != family) {
                    continue;
                }
                let entry = json!({"type": kind, "help": help, "unit": unit});
                let entries = families.entry(family).or_default();
                if !entries.contains(&entry) {
                    entries.push(entry);
                }
            }
        }
    }
    if let Some(limit) = limit.filter(|limit| *limit > 0) {
        let keep: Vec<String> = families.keys().take(limit as usize).cloned().collect();
        families.retain(|family, _| keep.contains(family));
    }
    Json(json!({"status": "success", "data": families})).into_response()
}
