//! The set of collectors `/metrics` asks, in registration order.

use std::sync::{Arc, RwLock};

use super::exposition::TextWriter;

/// Anything that can write its metric families into the exposition.
pub trait Collect: Send + Sync {
    fn collect(&self, out: &mut TextWriter);
}

#[derive(Default)]
pub struct Registry {
    collectors: RwLock<Vec<Arc<dyn Collect>>>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn register(&self, collector: Arc<dyn Collect>) {
        self.collectors
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(collector);
    }

    /// The whole exposition text.
    pub fn render(&self) -> String {
        let mut out = TextWriter::new();
        let collectors = self
            .collectors
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for collector in collectors {
            collector.collect(&mut out);
        }
        out.finish()
    }
}
