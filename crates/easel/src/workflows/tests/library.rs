//! The library follows the folder: changed files are re-read, new ones appear, deleted
//! ones go, broken ones are reported.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::workflows::Library;

fn write(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).expect("write");
}

/// Moves the file's modification time forward, so a rewrite is seen even on file
/// systems with coarse timestamps and even when the size happens to stay the same.
fn bump(dir: &Path, file: &str, secs: u64) {
    let f = File::options()
        .write(true)
        .open(dir.join(file))
        .expect("open");
    f.set_modified(SystemTime::now() + Duration::from_secs(secs))
        .expect("set_modified");
}

fn graph_with_prompt(text: &str) -> String {
    let mut g = basic_graph();
    g["6"]["inputs"]["text"] = json!(text);
    g.to_string()
}

fn names(lib: &Library) -> Vec<String> {
    lib.list().iter().map(|w| w.name.clone()).collect()
}

#[test]
fn folder_changes_are_followed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let lib = Library::new(Some(dir.to_path_buf()));
    assert_eq!(
        names(&lib),
        ["flux-dev", "img2img", "qwen-image", "sd-checkpoint"]
    );

    write(
        dir,
        "mine.json",
        &graph_with_prompt("{{prompt}}, version one"),
    );
    assert!(
        names(&lib).contains(&"mine".to_string()),
        "new file appears"
    );
    let w = lib.get("mine").expect("mine");
    assert_eq!(w.source, WorkflowSource::File(dir.join("mine.json")));
    assert!(
        w.description.contains("mine.json") && w.description.contains("sd.safetensors"),
        "{}",
        w.description
    );
    let first = w.apply(&inputs("cat"), &no_params()).expect("apply");
    assert_eq!(at(&first, "6", "text"), "cat, version one");

    // Same size, new content: only the modification time tells.
    write(
        dir,
        "mine.json",
        &graph_with_prompt("{{prompt}}, version two"),
    );
    bump(dir, "mine.json", 5);
    let w = lib.get("mine").expect("mine");
    let second = w.apply(&inputs("cat"), &no_params()).expect("apply");
    assert_eq!(at(&second, "6", "text"), "cat, version two");

    // An unchanged file is served from the cache (same Arc).
    let again = lib.get("mine").expect("mine");
    assert!(std::sync::Arc::ptr_eq(&w, &again));

    fs::remove_file(dir.join("mine.json")).expect("remove");
    assert!(
        !names(&lib).contains(&"mine".to_string()),
        "deleted file goes"
    );
    let e = lib.get("mine").expect_err("gone");
    assert!(
        matches!(&e, WorkflowError::Unknown { known, .. } if known.len() == 4),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("flux-dev, img2img, qwen-image, sd-checkpoint"),
        "{e}"
    );
}

#[test]
fn sidecar_changes_reload_the_workflow() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let lib = Library::new(Some(dir.to_path_buf()));
    write(
        dir,
        "w.json",
        &graph_with_prompt("{{prompt}} in {{style=ink}}"),
    );
    write(
        dir,
        "w.meta.json",
        &json!({"description": "first"}).to_string(),
    );
    assert_eq!(lib.get("w").expect("w").description, "first");
    write(
        dir,
        "w.meta.json",
        &json!({"description": "second!"}).to_string(),
    );
    bump(dir, "w.meta.json", 5);
    assert_eq!(lib.get("w").expect("w").description, "second!");
    // The sidecar is not a workflow of its own.
    assert!(!names(&lib).iter().any(|n| n.contains("meta")));
    assert!(lib.problems().is_empty(), "{:?}", lib.problems());
}

#[test]
fn broken_files_show_up_in_problems() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let lib = Library::new(Some(dir.to_path_buf()));
    write(dir, "good.json", &graph_with_prompt("x"));
    write(dir, "bad.json", "{\"1\": {");
    write(
        dir,
        "ui.json",
        &json!({"nodes": [], "links": [], "version": 0.4}).to_string(),
    );
    write(dir, "has space.json", &graph_with_prompt("x"));
    write(dir, "notes.txt", "not a workflow");
    let problems = lib.problems();
    let files: Vec<String> = problems
        .iter()
        .map(|p| {
            p.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(files, ["bad.json", "has space.json", "ui.json"]);
    assert!(
        problems[0].message.contains("not valid JSON"),
        "{}",
        problems[0].message
    );
    assert!(
        problems[1].message.contains("rename"),
        "{}",
        problems[1].message
    );
    assert!(
        problems[2].message.contains("Export (API)"),
        "{}",
        problems[2].message
    );
    assert!(names(&lib).contains(&"good".to_string()));
    assert!(!names(&lib).contains(&"bad".to_string()));
    // Asking for a broken workflow says why, not "unknown".
    assert!(matches!(lib.get("ui"), Err(WorkflowError::UiFormat { .. })));

    // Fixing the file clears the problem.
    write(dir, "bad.json", &graph_with_prompt("fixed"));
    bump(dir, "bad.json", 5);
    assert_eq!(lib.problems().len(), 2);
    assert!(lib.get("bad").is_ok());
}

#[test]
fn user_files_override_builtins() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let lib = Library::new(Some(dir.to_path_buf()));
    assert_eq!(
        lib.get("flux-dev").expect("builtin").source,
        WorkflowSource::Builtin
    );
    write(dir, "flux-dev.json", &graph_with_prompt("mine"));
    let w = lib.get("flux-dev").expect("override");
    assert_eq!(w.source, WorkflowSource::File(dir.join("flux-dev.json")));
    assert_eq!(
        lib.list().iter().filter(|w| w.name == "flux-dev").count(),
        1
    );
    // A broken override is reported, not silently replaced by the built-in.
    write(dir, "flux-dev.json", "[]");
    bump(dir, "flux-dev.json", 5);
    assert!(matches!(
        lib.get("flux-dev"),
        Err(WorkflowError::Graph { .. })
    ));
    assert!(!names(&lib).contains(&"flux-dev".to_string()));
}

#[test]
fn a_missing_folder_is_fine_and_may_appear_later() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("later");
    let lib = Library::new(Some(dir.clone()));
    assert_eq!(lib.list().len(), 4);
    assert!(lib.problems().is_empty());
    fs::create_dir(&dir).expect("mkdir");
    write(&dir, "new.json", &graph_with_prompt("x"));
    assert_eq!(lib.list().len(), 5);
}

#[test]
fn ui_format_is_refused_with_the_export_instruction() {
    let ui = json!({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": [[1, 4, 0, 3, 0, "MODEL"]]});
    let e = try_load(&ui).expect_err("ui format");
    assert!(matches!(e, WorkflowError::UiFormat { .. }));
    assert!(e.to_string().contains("Workflow → Export (API)"), "{e}");
}

#[test]
fn library_is_shareable_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Library>();
    shareable::<std::sync::Arc<Workflow>>();
}
