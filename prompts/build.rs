//! Embeds every prompt template under `templates/<name>/<version>.<ext>` into the crate,
//! so adding a file is all it takes to ship a prompt (no list to forget).

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("templates");
    println!("cargo:rerun-if-changed={}", root.display());

    let mut entries = Vec::new();
    for dir in fs::read_dir(&root).expect("prompts/templates exists") {
        let dir = dir.expect("readable templates folder");
        if !dir.file_type().expect("file type").is_dir() {
            continue;
        }
        let name = dir.file_name().into_string().expect("UTF-8 prompt name");
        assert!(
            is_name(&name),
            "prompt folder {name:?}: use lowercase letters, digits and _"
        );
        for file in fs::read_dir(dir.path()).expect("readable prompt folder") {
            let file = file.expect("readable prompt file");
            let file_name = file.file_name().into_string().expect("UTF-8 file name");
            if file_name.starts_with('.') {
                continue;
            }
            let (version, ext) = file_name.split_once('.').unwrap_or((&file_name, ""));
            assert!(
                is_version(version),
                "prompt file {name}/{file_name}: the name must start with a version like v1 or v12"
            );
            let path = file.path().canonicalize().expect("absolute template path");
            println!("cargo:rerun-if-changed={}", path.display());
            entries.push((name.clone(), version.to_string(), ext.to_string(), path));
        }
    }
    entries.sort();
    for pair in entries.windows(2) {
        assert!(
            (&pair[0].0, &pair[0].1) != (&pair[1].0, &pair[1].1),
            "prompt {} {} exists twice (with different extensions)",
            pair[0].0,
            pair[0].1
        );
    }

    let mut out = String::from(
        "/// Every template under `templates/`: (name, version, extension, source).\n\
         pub(crate) static TEMPLATES: &[(&str, &str, &str, &str)] = &[\n",
    );
    for (name, version, ext, path) in &entries {
        let path = path.to_str().expect("UTF-8 template path");
        writeln!(
            out,
            "    ({name:?}, {version:?}, {ext:?}, include_str!({path:?})),"
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("templates.rs");
    fs::write(dest, out).expect("write templates.rs");
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_version(s: &str) -> bool {
    s.len() > 1 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit())
}
