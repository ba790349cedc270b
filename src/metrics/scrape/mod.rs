//! Scraping: target discovery (static, file_sd), relabeling, the exposition parsers, one
//! scrape loop per target with Prometheus's synthetic series and staleness, and the
//! manager that keeps loops in line with the config. Samples go to the TSDB appender.

pub mod discovery;
mod http_client;
mod manager;
pub mod parse;
pub mod relabel;
mod scrape_loop;
pub mod target;
mod tls;

pub use manager::{ScrapeManager, TargetStatus};
pub use scrape_loop::{Health, HealthSnapshot};
