use super::problems::Problems;
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    pub receivers: Vec<serde_json::Value>,
}
impl AlertmanagerConfig {
    pub fn validate(&self, _p: &str, _x: &mut Problems) {}
}
