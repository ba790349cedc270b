//! The metrics side: the time-series database and, around it, ingestion (scrape, remote
//! write) and querying (PromQL, the Prometheus HTTP API).

pub mod api;
pub mod histogram;
pub mod promql;
pub mod remote;
pub mod scrape;
pub mod tsdb;
