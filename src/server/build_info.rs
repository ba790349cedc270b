//! What this binary is: version, revision and build details, set by build.rs.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
    pub build_user: &'static str,
    pub build_date: &'static str,
    /// Prometheus names this field after its runtime; ours is the Rust compiler.
    pub go_version: &'static str,
}

impl BuildInfo {
    pub const CURRENT: BuildInfo = BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: env!("SIGHTLINE_REVISION"),
        branch: env!("SIGHTLINE_BRANCH"),
        build_user: "sightline",
        build_date: env!("SIGHTLINE_BUILD_DATE"),
        go_version: env!("SIGHTLINE_RUSTC_VERSION"),
    };
}

/// `sightline_build_info{version, revision, branch, rustc_version} 1`.
pub struct BuildInfoCollector;

impl crate::telemetry::Collect for BuildInfoCollector {
    fn collect(&self, out: &mut crate::telemetry::TextWriter) {
        let info = BuildInfo::CURRENT;
        out.family(
            "sightline_build_info",
            crate::telemetry::MetricKind::Gauge,
            "A metric with a constant '1' value labeled by version, revision, branch and rustc_version.",
        );
        out.sample(
            "sightline_build_info",
            &[
                ("version", info.version),
                ("revision", info.revision),
                ("branch", info.branch),
                ("rustc_version", info.go_version),
            ],
            1.0,
        );
    }
}
