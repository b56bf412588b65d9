//! Every protocol file names where its generated code goes in Go, Java and C#, so a client in
//! another language is generated from the published files as they are.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn proto_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            proto_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "proto") {
            found.push(path);
        }
    }
}

#[test]
fn every_proto_file_has_the_options_of_other_languages() {
    let mut files = Vec::new();
    proto_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("ohjaus"), &mut files);
    assert!(files.len() >= 14, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let package = text
            .lines()
            .find_map(|l| l.strip_prefix("package ").and_then(|p| p.strip_suffix(';')))
            .unwrap_or_else(|| panic!("{} has no package", file.display()));
        let service = package.split('.').nth(1).unwrap();
        let camel = format!("{}{}", service[..1].to_uppercase(), &service[1..]);
        for option in [
            format!("option go_package = \"ohjaus/gen/go/ohjaus/{service}/v1;{service}v1\";"),
            format!("option java_package = \"fi.ohjaus.{service}.v1\";"),
            "option java_multiple_files = true;".to_owned(),
            format!("option csharp_namespace = \"Ohjaus.{camel}.V1\";"),
        ] {
            assert!(text.contains(&option), "{} lacks `{option}`", file.display());
        }
    }
}
