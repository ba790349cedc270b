//! The labels of one log entry while it runs through a pipeline, with Loki's rules:
//! stream labels, then structured metadata, then parsed labels, a later category hiding an
//! earlier one of the same name; and the `__error__`/`__error_details__` pair kept aside
//! (only string label filters, `drop` and templates see them).

use std::collections::{BTreeMap, HashSet};

use super::error::{ERROR_DETAILS_LABEL, ERROR_LABEL};

/// Where a label came from; a later category wins over an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Stream,
    StructuredMetadata,
    Parsed,
}

/// Suffix Loki gives an extracted label whose name is already taken by the stream.
pub const DUPLICATE_SUFFIX: &str = "_extracted";

#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    /// Names of the stream labels the entry started with (Loki's "base").
    base: HashSet<String>,
    labels: BTreeMap<String, (String, Category)>,
    /// Names set since the entry started; parsers keep the first value of a name.
    extracted: HashSet<String>,
    err: String,
    err_details: String,
}

impl LabelsBuilder {
    /// Starts from the stream labels and adds the entry's structured metadata. Metadata named
    /// like a stream label gets the `_extracted` suffix; `__error__`/`__error_details__`
    /// entries set the error (as Loki's `Add` does).
    pub fn new(stream: &[(String, String)], structured_metadata: &[(String, String)]) -> Self {
        let mut b = LabelsBuilder {
            base: stream.iter().map(|(n, _)| n.clone()).collect(),
            labels: stream
                .iter()
                .map(|(n, v)| (n.clone(), (v.clone(), Category::Stream)))
                .collect(),
            extracted: HashSet::new(),
            err: String::new(),
            err_details: String::new(),
        };
        for (name, value) in structured_metadata {
            let name = if b.base.contains(name) {
                format!("{name}{DUPLICATE_SUFFIX}")
            } else {
                name.clone()
            };
            match name.as_str() {
                ERROR_LABEL => b.err = value.clone(),
                ERROR_DETAILS_LABEL => b.err_details = value.clone(),
                _ => b.set(Category::StructuredMetadata, &name, value),
            }
        }
        b
    }

    /// Whether the entry's stream had this label (even if since dropped).
    pub fn base_has(&self, name: &str) -> bool {
        self.base.contains(name)
    }

    /// Whether the label is currently present as structured metadata.
    pub fn metadata_has(&self, name: &str) -> bool {
        matches!(
            self.labels.get(name),
            Some((_, Category::StructuredMetadata))
        )
    }

    /// The name a parser should use for a key: `_extracted` is appended when the stream or
    /// the structured metadata already has the name.
    pub fn parsed_name(&self, name: &str) -> String {
        if self.base_has(name) || self.metadata_has(name) {
            format!("{name}{DUPLICATE_SUFFIX}")
        } else {
            name.to_string()
        }
    }

    /// Whether a label of this name was already set for this entry (parsers then skip it).
    pub fn already_extracted(&self, name: &str) -> bool {
        self.extracted.contains(name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(|(v, _)| v.as_str())
    }

    /// Like [`get`](Self::get) but also answers for the error labels, as string label
    /// filters and `drop` matchers see them.
    pub fn get_with_errors(&self, name: &str) -> Option<&str> {
        match name {
            ERROR_LABEL => Some(self.err.as_str()),
            ERROR_DETAILS_LABEL => Some(self.err_details.as_str()),
            _ => self.get(name),
        }
    }

    /// Sets a label; a value does not replace one from a later category.
    pub fn set(&mut self, category: Category, name: &str, value: &str) {
        if let Some((v, cat)) = self.labels.get_mut(name) {
            if *cat > category {
                return;
            }
            if *cat < category {
                self.extracted.insert(name.to_string());
            }
            *cat = category;
            value.clone_into(v);
            return;
        }
        self.extracted.insert(name.to_string());
        self.labels
            .insert(name.to_string(), (value.to_string(), category));
    }

    pub fn del(&mut self, name: &str) {
        self.labels.remove(name);
    }

    pub fn has_error(&self) -> bool {
        !self.err.is_empty()
    }

    /// Records a pipeline error; `details` replaces the previous details when given.
    pub fn set_error(&mut self, kind: &str, details: Option<&str>) {
        kind.clone_into(&mut self.err);
        if let Some(d) = details {
            d.clone_into(&mut self.err_details);
        }
    }

    pub fn reset_error(&mut self) {
        self.err.clear();
    }

    pub fn reset_error_details(&mut self) {
        self.err_details.clear();
    }

    /// Current label names and values (without the error labels).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .map(|(n, (v, _))| (n.as_str(), v.as_str()))
    }

    /// All labels as template variables see them: the labels plus non-empty error labels.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = self
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        if !self.err.is_empty() {
            m.insert(ERROR_LABEL.to_string(), self.err.clone());
        }
        if !self.err_details.is_empty() {
            m.insert(ERROR_DETAILS_LABEL.to_string(), self.err_details.clone());
        }
        m
    }

    /// The final label set, sorted by name, with the error labels when set.
    pub fn into_labels(self) -> Vec<(String, String)> {
        self.snapshot().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn categories_and_errors() {
        let stream = pairs(&[("app", "api"), ("level", "info")]);
        let sm = pairs(&[("level", "warn"), ("trace_id", "abc"), ("__error__", "X")]);
        let mut b = LabelsBuilder::new(&stream, &sm);
        assert_eq!(b.get("level_extracted"), Some("warn"));
        assert_eq!(b.get("trace_id"), Some("abc"));
        assert_eq!(b.get_with_errors("__error__"), Some("X"));
        assert_eq!(b.parsed_name("trace_id"), "trace_id_extracted");
        b.set(Category::Parsed, "trace_id", "p");
        b.set(Category::StructuredMetadata, "trace_id", "sm-again");
        assert_eq!(b.get("trace_id"), Some("p"));
        b.del("app");
        assert!(b.base_has("app"));
        b.reset_error();
        assert_eq!(
            b.into_labels(),
            pairs(&[
                ("level", "info"),
                ("level_extracted", "warn"),
                ("trace_id", "p")
            ])
        );
    }
}
