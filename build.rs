//! Build script: records build details for `sightline version` and `/api/v1/status/buildinfo`,
//! and builds the web UI (`web/` → `web/dist`, embedded into the binary) when its sources
//! changed. Set SIGHTLINE_SKIP_WEB_BUILD=1 to skip the UI build (a placeholder page is
//! embedded if none was built yet).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const WEB_INPUTS: [&str; 7] = [
    "web/src",
    "web/index.html",
    "web/package.json",
    "web/package-lock.json",
    "web/vite.config.ts",
    "web/tsconfig.json",
    "web/public",
];

fn main() {
    record_build_details();
    // A path that does not exist makes cargo rerun this script, and rebuild the crate,
    // on every build: only existing inputs are watched.
    for input in WEB_INPUTS.iter().filter(|input| Path::new(input).exists()) {
        println!("cargo:rerun-if-changed={input}");
    }
    println!("cargo:rerun-if-env-changed=SIGHTLINE_SKIP_WEB_BUILD");
    build_web();
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|text| !text.is_empty())
}

fn record_build_details() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Some(head_ref) = std::fs::read_to_string(".git/HEAD").ok().and_then(|head| {
        head.strip_prefix("ref: ")
            .map(|name| name.trim().to_string())
    }) {
        println!("cargo:rerun-if-changed=.git/{head_ref}");
    }
    let revision = command_output("git", &["rev-parse", "--short=12", "HEAD"])
        .unwrap_or_else(|| "unknown".into());
    let branch = command_output("git", &["rev-parse", "--abbrev-ref", "HEAD"])
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = command_output(&rustc, &["--version"]).unwrap_or_else(|| "rustc".into());
    let build_date =
        command_output("date", &["-u", "+%Y%m%d-%H:%M:%S"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SIGHTLINE_REVISION={revision}");
    println!("cargo:rustc-env=SIGHTLINE_BRANCH={branch}");
    println!("cargo:rustc-env=SIGHTLINE_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=SIGHTLINE_BUILD_DATE={build_date}");
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| newest_mtime(&entry.path()))
        .max()
}

fn build_web() {
    let web = PathBuf::from("web");
    let dist_index = web.join("dist/index.html");
    if std::env::var_os("SIGHTLINE_SKIP_WEB_BUILD").is_some() {
        if !dist_index.exists() {
            write_placeholder(&dist_index);
        }
        return;
    }
    let sources_changed = match (
        WEB_INPUTS
            .iter()
            .filter_map(|input| newest_mtime(Path::new(input)))
            .max(),
        std::fs::metadata(&dist_index)
            .and_then(|meta| meta.modified())
            .ok(),
    ) {
        (Some(newest_source), Some(built)) => newest_source > built,
        _ => true,
    };
    if !sources_changed {
        return;
    }
    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".into());
    if Command::new(&npm).arg("--version").output().is_err() {
        panic!(
            "building the web UI needs npm (Node.js 20+), which was not found. Install Node.js \
             and npm, or set SIGHTLINE_SKIP_WEB_BUILD=1 to build without the UI."
        );
    }
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let needs_install = match (
        std::fs::metadata(&lock).and_then(|meta| meta.modified()),
        std::fs::metadata(&installed).and_then(|meta| meta.modified()),
    ) {
        (Ok(lock_time), Ok(installed_time)) => lock_time > installed_time,
        _ => true,
    };
    if needs_install {
        run_npm(&npm, &["ci", "--no-audit", "--no-fund"], &web);
    }
    run_npm(&npm, &["run", "build"], &web);
}

fn run_npm(npm: &str, args: &[&str], dir: &Path) {
    let status = Command::new(npm)
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|err| panic!("cannot run {npm} {}: {err}", args.join(" ")));
    if !status.success() {
        panic!("`{npm} {}` in web/ failed with {status}", args.join(" "));
    }
}

fn write_placeholder(index: &Path) {
    if let Some(parent) = index.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let page = "<!doctype html><title>Sightline</title><h1>Sightline</h1>\
                <p>This binary was built without its web UI (SIGHTLINE_SKIP_WEB_BUILD).</p>\n";
    std::fs::write(index, page)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", index.display()));
}
