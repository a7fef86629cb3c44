//! The web chat widget in a real browser (Debian's Chromium driven by playwright-core,
//! `tests/browser/widget.mjs`) against the real server: chat, reload, tap a button.

use crate::harness::*;
use std::path::Path;
use std::process::Command;

#[test]
fn the_widget_chats_survives_a_reload_and_taps_buttons_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/browser` first (.ci/run does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "install Debian's chromium first (.ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&ServerOptions::new(Stores::Embedded, dir.path())).unwrap();
    let shots = std::env::var("KOPRU_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_path_buf());
    let out = Command::new("node")
        .arg(browser_dir.join("widget.mjs"))
        .arg(&server.base)
        .arg(&shots)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stdout.contains("widget: ok"), "{stdout}");
    assert!(shots.join("widget.png").exists());
}
