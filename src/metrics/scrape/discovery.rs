//! Target discovery: `static_configs` and `file_sd_configs` (JSON or YAML files of target
//! groups, re-read on every sync so edits are picked up without a restart).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::scrape::ScrapeConfig;

/// A set of targets sharing labels, as Prometheus service discovery produces them.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Every target group of a scrape config; file problems are returned beside the groups
/// read successfully, so one bad file does not hide the others.
pub fn discover(config: &ScrapeConfig, base_dir: &Path) -> (Vec<TargetGroup>, Vec<String>) {
    let mut groups: Vec<TargetGroup> = config
        .static_configs
        .iter()
        .map(|static_config| TargetGroup {
            targets: static_config.targets.clone(),
            labels: static_config.labels.clone(),
        })
        .collect();
    let mut problems = Vec::new();
    for file_sd in &config.file_sd_configs {
        for pattern in &file_sd.files {
            let pattern = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                base_dir.join(pattern)
            };
            for path in expand_glob(&pattern) {
                match read_file_groups(&path) {
                    Ok(file_groups) => groups.extend(file_groups),
                    Err(problem) => problems.push(problem),
                }
            }
        }
    }
    (groups, problems)
}

fn read_file_groups(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("file_sd {}: {err}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|extension| extension == "json");
    let parsed: Vec<FileGroup> = if is_json {
        serde_json::from_str(&text).map_err(|err| format!("file_sd {}: {err}", path.display()))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str(&text).map_err(|err| format!("file_sd {}: {err}", path.display()))?
    };
    let file_label = path.display().to_string();
    Ok(parsed
        .into_iter()
        .map(|group| {
            let mut labels = group.labels;
            labels.insert("__meta_filepath".to_string(), file_label.clone());
            TargetGroup {
                targets: group.targets,
                labels,
            }
        })
        .collect())
}

/// Files matching `pattern`, where only the last path component may hold `*` and `?`
/// (the form file_sd patterns take in practice, e.g. `targets/*.json`), sorted.
pub fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    let Some(file_pattern) = pattern.file_name().and_then(|name| name.to_str()) else {
        return Vec::new();
    };
    if !file_pattern.contains(['*', '?']) {
        return if pattern.is_file() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut matches: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| wildcard_match(file_pattern, name))
        })
        .map(|entry| entry.path())
        .collect();
    matches.sort();
    matches
}

fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.json", "a.json"));
        assert!(wildcard_match("node-?.yml", "node-1.yml"));
        assert!(!wildcard_match("*.json", "a.yml"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn reads_json_and_yaml_groups_with_filepath() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"targets":["h1:9100"],"labels":{"env":"prod"}}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "- targets: ['h2:9100', 'h3:9100']\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.txt"), "ignored").unwrap();
        let config: ScrapeConfig = serde_saphyr::from_str(
            "job_name: node\nfile_sd_configs:\n  - files: ['*.json', '*.yml']\nstatic_configs:\n  - targets: ['s:1']\n",
        )
        .unwrap();
        let (groups, problems) = discover(&config, dir.path());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].targets, vec!["s:1"]);
        assert_eq!(groups[1].labels["env"], "prod");
        assert!(groups[1].labels["__meta_filepath"].ends_with("a.json"));
        assert_eq!(groups[2].targets.len(), 2);

        std::fs::write(dir.path().join("a.json"), "not json").unwrap();
        let (groups, problems) = discover(&config, dir.path());
        assert_eq!(groups.len(), 2);
        assert!(problems[0].contains("a.json"), "{problems:?}");
    }
}
