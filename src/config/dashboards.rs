//! The `dashboards:` section: folders of Grafana dashboard JSON to provision at start-up.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardsConfig {
    /// Files or folders of Grafana dashboard JSON, relative to the config file.
    pub provisioning: Vec<String>,
}
