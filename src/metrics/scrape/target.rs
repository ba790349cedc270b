//! Turning discovered target groups into scrape targets, with Prometheus's label
//! semantics: `__address__`, `__scheme__`, `__metrics_path__`, `__param_*`,
//! `__scrape_interval__`/`__scrape_timeout__`, relabeling, a default `instance`, and the
//! `__`-prefixed labels removed from the final set.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::duration::PromDuration;
use crate::config::scrape::{GlobalConfig, ScrapeConfig};

use super::discovery::TargetGroup;
use super::relabel::{relabel, CompiledRelabel};

pub type LabelSet = Vec<(String, String)>;

/// A target to scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub scrape_pool: String,
    pub url: String,
    /// Final labels, sorted by name, attached to every scraped series.
    pub labels: LabelSet,
    /// Labels before relabeling, for `/api/v1/targets`.
    pub discovered_labels: LabelSet,
    pub interval: Duration,
    pub timeout: Duration,
}

/// A target relabeling dropped (or that had no usable address), with its labels before
/// relabeling.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTarget {
    pub discovered_labels: LabelSet,
    pub reason: Option<String>,
}

fn set_label(labels: &mut LabelSet, name: &str, value: &str) {
    match labels.binary_search_by(|(label, _)| label.as_str().cmp(name)) {
        Ok(position) => labels[position].1 = value.to_string(),
        Err(position) => labels.insert(position, (name.to_string(), value.to_string())),
    }
}

fn get_label<'a>(labels: &'a LabelSet, name: &str) -> Option<&'a str> {
    labels
        .binary_search_by(|(label, _)| label.as_str().cmp(name))
        .ok()
        .map(|position| labels[position].1.as_str())
}

/// Builds the targets of one scrape config from its discovered groups.
pub fn build_targets(
    config: &ScrapeConfig,
    global: &GlobalConfig,
    groups: &[TargetGroup],
    rules: &[CompiledRelabel],
) -> (Vec<Target>, Vec<DroppedTarget>) {
    let interval = config.effective_interval(global);
    let timeout = config.effective_timeout(global);
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    for group in groups {
        for address in &group.targets {
            let mut labels: LabelSet = Vec::new();
            for (name, value) in &group.labels {
                set_label(&mut labels, name, value);
            }
            set_label(&mut labels, "__address__", address);
            // Discovery may set these; the scrape config fills what it did not.
            let defaults: [(&str, String); 5] = [
                ("job", config.job_name.clone()),
                ("__scheme__", config.scheme.as_str().to_string()),
                ("__metrics_path__", config.metrics_path.clone()),
                ("__scrape_interval__", interval.to_string()),
                ("__scrape_timeout__", timeout.to_string()),
            ];
            for (name, value) in defaults {
                if get_label(&labels, name).is_none() {
                    set_label(&mut labels, name, &value);
                }
            }
            for (name, values) in &config.params {
                let label = format!("__param_{name}");
                if let (None, Some(first)) = (get_label(&labels, &label), values.first()) {
                    set_label(&mut labels, &label, first);
                }
            }
            let discovered = labels.clone();
            if !relabel(&mut labels, rules) {
                dropped.push(DroppedTarget {
                    discovered_labels: discovered,
                    reason: None,
                });
                continue;
            }
            match finish_target(config, labels, interval, timeout) {
                Ok(mut target) => {
                    target.discovered_labels = discovered;
                    active.push(target);
                }
                Err(reason) => dropped.push(DroppedTarget {
                    discovered_labels: discovered,
                    reason: Some(reason),
                }),
            }
        }
    }
    (active, dropped)
}

fn finish_target(
    config: &ScrapeConfig,
    mut labels: LabelSet,
    interval: PromDuration,
    timeout: PromDuration,
) -> Result<Target, String> {
    let address = get_label(&labels, "__address__")
        .filter(|address| !address.is_empty())
        .ok_or("no address after relabeling")?
        .to_string();
    if address.contains('/') {
        return Err(format!("address {address:?} must not contain a path"));
    }
    let parse_duration = |name: &str, default: PromDuration| -> Result<PromDuration, String> {
        match get_label(&labels, name) {
            None | Some("") => Ok(default),
            Some(text) => PromDuration::parse(text).map_err(|err| format!("{name}: {err}")),
        }
    };
    let interval = parse_duration("__scrape_interval__", interval)?;
    let timeout = parse_duration("__scrape_timeout__", timeout)?;
    if interval.is_zero() || timeout.is_zero() || timeout > interval {
        return Err(format!(
            "scrape timeout {timeout} must be positive and not above the interval {interval}"
        ));
    }
    let scheme = get_label(&labels, "__scheme__")
        .unwrap_or("http")
        .to_string();
    let path = get_label(&labels, "__metrics_path__")
        .unwrap_or("/metrics")
        .to_string();
    let mut params: BTreeMap<String, Vec<String>> = config.params.clone();
    for (name, value) in &labels {
        if let Some(param) = name.strip_prefix("__param_") {
            let values = params.entry(param.to_string()).or_default();
            if values.is_empty() {
                values.push(value.clone());
            } else {
                values[0] = value.clone();
            }
        }
    }
    let mut url = format!("{scheme}://{address}{path}");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            params
                .iter()
                .flat_map(|(name, values)| values.iter().map(move |value| (name, value))),
        )
        .finish();
    if !query.is_empty() {
        url.push(if path.contains('?') { '&' } else { '?' });
        url.push_str(&query);
    }
    if get_label(&labels, "instance").is_none() {
        set_label(&mut labels, "instance", &address);
    }
    labels.retain(|(name, value)| !name.starts_with("__") && !value.is_empty());
    Ok(Target {
        scrape_pool: config.job_name.clone(),
        url,
        labels,
        discovered_labels: Vec::new(),
        interval: interval.as_duration(),
        timeout: timeout.as_duration(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::scrape::relabel::compile_all;

    fn config(yaml: &str) -> ScrapeConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn group(targets: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn defaults_instance_url_and_hidden_labels() {
        let config = config("job_name: node\nparams:\n  module: [http_2xx]\n");
        let global = GlobalConfig::default();
        let (active, dropped) = build_targets(
            &config,
            &global,
            &[group(&["h:9100"], &[("env", "prod")])],
            &[],
        );
        assert!(dropped.is_empty());
        let target = &active[0];
        assert_eq!(target.url, "http://h:9100/metrics?module=http_2xx");
        let labels: Vec<(&str, &str)> = target
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            vec![("env", "prod"), ("instance", "h:9100"), ("job", "node")]
        );
        assert!(target
            .discovered_labels
            .iter()
            .any(|(n, v)| n == "__address__" && v == "h:9100"));
        assert_eq!(target.interval, Duration::from_secs(60));
    }

    #[test]
    fn relabeling_rewrites_address_params_and_drops() {
        // The blackbox-exporter pattern: the target becomes a parameter.
        let config = config(
            "job_name: blackbox\nmetrics_path: /probe\nscrape_interval: 15s\nrelabel_configs:\n\
             - source_labels: [__address__]\n  target_label: __param_target\n\
             - source_labels: [__param_target]\n  target_label: instance\n\
             - target_label: __address__\n  replacement: 127.0.0.1:9115\n\
             - source_labels: [instance]\n  regex: '.*skip.*'\n  action: drop\n",
        );
        let rules = compile_all(&config.relabel_configs).unwrap();
        let groups = [group(&["https://example.com", "https://skip.example"], &[])];
        let (active, dropped) = build_targets(&config, &GlobalConfig::default(), &groups, &rules);
        assert_eq!(active.len(), 1);
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            active[0].url,
            "http://127.0.0.1:9115/probe?target=https%3A%2F%2Fexample.com"
        );
        assert!(active[0]
            .labels
            .contains(&("instance".to_string(), "https://example.com".to_string())));
        assert_eq!(active[0].interval, Duration::from_secs(15));
    }
}
