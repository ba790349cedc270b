//! Parsed queries kept by their text. Dashboards refresh the same queries every few
//! seconds, and parsing one costs more than evaluating a small one: on the load bench,
//! `avg_over_time(node_load1[5m])` over 450 series spent about a sixth of its time in the
//! parser and in the allocator work the parser's large buffers set off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use promql_parser::parser::Expr;

use super::error::QueryError;

/// At most `capacity` parsed queries; when full, the cache is emptied and refills with
/// the queries still in use. Parse errors are not kept.
#[derive(Debug)]
pub struct ParseCache {
    capacity: usize,
    parsed: Mutex<HashMap<String, Arc<Expr>>>,
}

impl ParseCache {
    /// A cache of `capacity` queries; 0 parses every query afresh.
    pub fn new(capacity: usize) -> ParseCache {
        ParseCache {
            capacity,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// The parsed form of `query`, parsed now unless it is kept.
    pub fn parse(&self, query: &str) -> Result<Arc<Expr>, QueryError> {
        if self.capacity == 0 {
            return parse_uncached(query).map(Arc::new);
        }
        if let Some(expr) = self.lock().get(query) {
            return Ok(Arc::clone(expr));
        }
        // Parsed outside the lock, so one slow parse does not hold up other queries.
        let expr = Arc::new(parse_uncached(query)?);
        let mut parsed = self.lock();
        if parsed.len() >= self.capacity {
            parsed.clear();
        }
        parsed.insert(query.to_owned(), Arc::clone(&expr));
        Ok(expr)
    }

    /// Queries kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Expr>>> {
        // The map is valid after any panic elsewhere: entries are inserted whole.
        self.parsed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(super) fn parse_uncached(query: &str) -> Result<Expr, QueryError> {
    promql_parser::parser::parse(query)
        .map_err(|err| QueryError::bad_data(format!("parse error: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_query_is_parsed_once() {
        let cache = ParseCache::new(4);
        let first = cache.parse("rate(x[5m])").unwrap();
        let second = cache.parse("rate(x[5m])").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn errors_are_reported_each_time_and_not_kept() {
        let cache = ParseCache::new(4);
        for _ in 0..2 {
            let error = cache.parse("rate(x[5m]").unwrap_err();
            assert!(error.to_string().contains("parse error"), "{error}");
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_starts_over_and_capacity_zero_keeps_nothing() {
        let cache = ParseCache::new(2);
        cache.parse("a").unwrap();
        cache.parse("b").unwrap();
        assert_eq!(cache.len(), 2);
        cache.parse("c").unwrap();
        assert_eq!(cache.len(), 1);
        let off = ParseCache::new(0);
        let first = off.parse("a").unwrap();
        let second = off.parse("a").unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(off.is_empty());
    }
}
