//! The channels test binary: one module per channel (`autotests = false` keeps it one
//! link step). Fixtures of documented payloads live in `fixtures/<channel>/*.json`.

mod fuzz;
mod instagram;
mod meta;
mod telegram;
mod webchat;
mod whatsapp;

/// The raw bytes of `fixtures/{channel}/{name}.json`.
pub fn fixture(channel: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(channel)
        .join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
