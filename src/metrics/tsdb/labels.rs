//! Label set rules every stored series obeys, whatever path it came in by.

use serde::{Deserialize, Serialize};

/// Limits on label sets, from `storage.tsdb.limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelLimits {
    pub max_labels_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 4096,
        }
    }
}

/// `{__name__="up", job="node"}` style text for error messages.
pub fn format_labels<S: AsRef<str>>(labels: &[(S, S)]) -> String {
    let name = labels
        .iter()
        .find(|(label, _)| label.as_ref() == "__name__")
        .map(|(_, value)| value.as_ref())
        .unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(label, _)| label.as_ref() != "__name__")
        .map(|(label, value)| format!("{}={:?}", label.as_ref(), value.as_ref()))
        .collect();
    format!("{name}{{{}}}", rest.join(", "))
}

pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a label set: a non-empty metric name, valid unique names sorted by name,
/// non-empty values, and the limits. The message names the offending label.
pub fn validate_labels<S: AsRef<str>>(
    labels: &[(S, S)],
    limits: &LabelLimits,
) -> Result<(), String> {
    if !labels
        .iter()
        .any(|(name, value)| name.as_ref() == "__name__" && !value.as_ref().is_empty())
    {
        return Err("series has no metric name (__name__)".to_string());
    }
    if labels.len() > limits.max_labels_per_series {
        return Err(format!(
            "series has {} labels, more than the limit of {} (storage.tsdb.limits.max_labels_per_series)",
            labels.len(),
            limits.max_labels_per_series
        ));
    }
    for (index, (name, value)) in labels.iter().enumerate() {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !is_valid_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        if value.is_empty() {
            return Err(format!("label {name} has an empty value"));
        }
        if name.len() > limits.max_label_name_length {
            return Err(format!(
                "label name {name:?} is {} bytes, longer than the limit of {} (storage.tsdb.limits.max_label_name_length)",
                name.len(),
                limits.max_label_name_length
            ));
        }
        if value.len() > limits.max_label_value_length {
            return Err(format!(
                "value of label {name} is {} bytes, longer than the limit of {} (storage.tsdb.limits.max_label_value_length)",
                value.len(),
                limits.max_label_value_length
            ));
        }
        if let Some((previous, _)) = index
            .checked_sub(1)
            .and_then(|previous| labels.get(previous))
        {
            let previous = previous.as_ref();
            if previous == name {
                return Err(format!("duplicate label name {name}"));
            }
            if previous > name {
                return Err(format!(
                    "labels are not sorted by name ({previous} before {name})"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rules_and_messages() {
        let limits = LabelLimits::default();
        assert!(validate_labels(&labels(&[("__name__", "up"), ("job", "x")]), &limits).is_ok());
        let cases = [
            (labels(&[("job", "x")]), "no metric name"),
            (
                labels(&[("__name__", "up"), ("1job", "x")]),
                "invalid label name \"1job\"",
            ),
            (
                labels(&[("__name__", "up"), ("job", "")]),
                "job has an empty value",
            ),
            (
                labels(&[("__name__", "up"), ("job", "a"), ("job", "b")]),
                "duplicate label name job",
            ),
            (
                labels(&[("__name__", "up"), ("b", "1"), ("a", "2")]),
                "not sorted",
            ),
        ];
        for (set, expected) in cases {
            let err = validate_labels(&set, &limits).unwrap_err();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        let tight = LabelLimits {
            max_labels_per_series: 1,
            ..LabelLimits::default()
        };
        assert!(
            validate_labels(&labels(&[("__name__", "up"), ("a", "1")]), &tight)
                .unwrap_err()
                .contains("max_labels_per_series")
        );
        assert_eq!(
            format_labels(&labels(&[("__name__", "up"), ("job", "x")])),
            "up{job=\"x\"}"
        );
    }
}
