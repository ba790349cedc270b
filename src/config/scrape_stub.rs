use super::problems::Problems;
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    pub scrape_interval: Option<super::duration::PromDuration>,
    pub scrape_timeout: Option<super::duration::PromDuration>,
    pub evaluation_interval: Option<super::duration::PromDuration>,
}
impl GlobalConfig {
    pub fn validate(&self, _p: &str, _x: &mut Problems) {}
}
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
}
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    pub targets: Vec<String>,
}
pub fn validate_scrape_configs(_c: &[ScrapeConfig], _g: &GlobalConfig, _p: &mut Problems) {}
