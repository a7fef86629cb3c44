//! The command line as an operator meets it: `--help`, `--version`, a bad config
//! named in one line, and `kopru chat` scripted through standard input.

use crate::harness::*;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn help_and_version_work() {
    let out = Command::new(kopru_bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("chat"), "{text}");
    let out = Command::new(kopru_bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(kopru_bin()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("kopru "));
    let out = Command::new(kopru_bin()).arg("fly").output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn an_unknown_config_key_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kopru.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 80\n",
    )
    .unwrap();
    let out = Command::new(kopru_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("listen_port"), "{err}");

    let out = Command::new(kopru_bin())
        .arg("serve")
        .env("KOPRU_STORE__POSTGRESS_URL", "postgres://x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgress_url"));
}

#[test]
fn chat_reads_one_message_a_line_and_prints_the_replies() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(kopru_bin())
        .args(["chat", "--tenant", "demo-saglik"])
        .env("KOPRU_SERVER__DATA_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("Merhaba\nadresiniz neresi\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Demo Sağlık Grubu"), "{text}");
    assert!(text.contains("Halaskargazi"), "{text}");

    let out = Command::new(kopru_bin())
        .args(["chat", "--tenant", "nope"])
        .env("KOPRU_SERVER__DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tenant"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully_with_json_logs() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut opts = ServerOptions::new(Stores::Embedded, dir.path());
    opts.env.push(("KOPRU_LOG_FORMAT".into(), "json".into()));
    let mut server = Server::start(&opts)?;
    let mut chat = Chat::connect(&server.ws_url("demo-estetik"), None, 0).await?;
    assert!(
        chat.ask("iyi günler merhaba")
            .await?
            .contains("Demo Estetik Merkezi")
    );
    assert!(
        server.terminate(std::time::Duration::from_secs(10))?,
        "exit status 0"
    );
    // The open socket was closed by the server, not left hanging.
    assert!(chat.frame(std::time::Duration::from_secs(2)).await.is_err());
    let log = server.log();
    let lines: Vec<_> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{e}: {line}"))?;
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(log.contains("shutting down"), "{log}");
    Ok(())
}
