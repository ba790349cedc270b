//! The web UI in a real browser: Debian's Chromium driven by playwright-core through
//! `web/e2e/smoke.mjs`, against the real server with the UI embedded in the binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

#[test]
fn ui_loads_navigates_and_shows_build_info_in_chromium() {
    let chromium =
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        Path::new(&chromium).exists(),
        "browser tests need Chromium at {chromium} (apt-get install chromium, or set CHROMIUM_PATH); \
         scripts/test.sh installs it"
    );
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "web/node_modules is missing playwright-core: run `npm ci` in web/ (the build does this)"
    );
    let server = TestServer::start();
    server.wait_ready();
    let screenshot = std::env::temp_dir().join(format!("sightline-ui-{}.png", std::process::id()));
    let output = Command::new("node")
        .arg(web.join("e2e/smoke.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshot)
        .env("CHROMIUM_PATH", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser smoke test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    let _ = std::fs::remove_file(screenshot);
}
