//! generate_image against the ModelScope simulator, through a real MCP client.

use crate::common::*;
use base64::Engine;
use easel_sim::ModelScopeConfig;
use serde_json::json;

#[tokio::test]
async fn one_image_is_saved_and_reported_completely() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"negative_prompt": "blurry", "steps": 30, "guidance": 4.0})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["backend"], "modelscope");
    assert_eq!(s["model"], "Qwen/Qwen-Image");
    assert_eq!(s["seed"], 42);
    let files = s["files"].as_array().expect("files");
    assert_eq!(files.len(), 1);
    let f = &files[0];
    let path = std::path::PathBuf::from(f["path"].as_str().expect("path"));
    assert!(path.is_absolute() && path.starts_with(h.out().canonicalize().expect("canon")));
    let bytes = std::fs::read(&path).expect("file exists");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(f["bytes"], bytes.len() as u64);
    assert_eq!(
        (f["width"].as_u64(), f["height"].as_u64()),
        (Some(256), Some(256))
    );
    assert_eq!(f["mime"], "image/png");
    assert!(
        f["url"]
            .as_str()
            .expect("url")
            .starts_with(&h.sim.base_url())
    );
    assert_eq!(
        f["uri"],
        format!(
            "easel://jobs/{}/images/0",
            s["job_id"].as_str().expect("id")
        )
    );

    // Content: text, one thumbnail, one resource link.
    let images: Vec<_> = r.content.iter().filter_map(|c| c.as_image()).collect();
    assert_eq!(images.len(), 1);
    let links: Vec<_> = r
        .content
        .iter()
        .filter_map(|c| c.as_resource_link())
        .collect();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].uri, f["uri"].as_str().expect("uri"));
    assert!(text(&r).contains(path.to_str().expect("utf8")));

    // The wire: async submit with every parameter passed through, polls with the task-type
    // header, and no token sent to the image host.
    let reqs = h.sim.requests();
    let submit = reqs.iter().find(|q| q.method == "POST").expect("submit");
    assert_eq!(submit.header("x-modelscope-async-mode"), Some("true"));
    let body = submit.body.clone().expect("body");
    assert_eq!(body["negative_prompt"], "blurry");
    assert_eq!(body["size"], "256x256");
    assert_eq!(body["seed"], 42);
    assert_eq!(body["steps"], 30);
    assert_eq!(body["guidance"], 4.0);
    let polls: Vec<_> = reqs
        .iter()
        .filter(|q| q.path.starts_with("/v1/tasks/"))
        .collect();
    assert!(!polls.is_empty());
    assert!(
        polls
            .iter()
            .all(|q| q.header("x-modelscope-task-type") == Some("image_generation"))
    );
    let download = reqs
        .iter()
        .find(|q| q.path.starts_with("/img/"))
        .expect("download");
    assert_eq!(
        download.header("authorization"),
        None,
        "token leaked to the image host"
    );
}

#[tokio::test]
async fn four_images_are_four_tasks_with_distinct_seeds_and_files() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call("generate_image", gen_args(json!({"count": 4, "seed": 7})))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    let files = s["files"].as_array().expect("files");
    assert_eq!(files.len(), 4);
    let seeds: Vec<u64> = files
        .iter()
        .map(|f| f["seed"].as_u64().expect("seed"))
        .collect();
    assert_eq!(seeds, vec![7, 8, 9, 10]);
    let mut paths: Vec<&str> = files
        .iter()
        .map(|f| f["path"].as_str().expect("p"))
        .collect();
    paths.dedup();
    assert_eq!(paths.len(), 4);
    let contents: std::collections::HashSet<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    assert_eq!(contents.len(), 4, "each image is distinct");
    assert_eq!(h.sim.submissions(), 4);
    let sent: Vec<u64> = h
        .sim
        .requests()
        .iter()
        .filter_map(|q| q.body.as_ref()?.get("seed")?.as_u64())
        .collect();
    assert_eq!(sent.len(), 4);
    assert_eq!(
        r.content
            .iter()
            .filter(|c| c.as_resource_link().is_some())
            .count(),
        4
    );
    assert_eq!(h.files().len(), 4);
}

#[tokio::test]
async fn a_missing_seed_is_randomized_and_reported() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "a fox", "size": "128x128"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let seed = structured(&r)["seed"].as_u64().expect("seed");
    assert!(seed <= 2_147_483_647);
    let sent = h
        .sim
        .requests()
        .iter()
        .find_map(|q| q.body.as_ref()?.get("seed")?.as_u64());
    assert_eq!(sent, Some(seed));
}

#[tokio::test]
async fn format_conversion_and_filename_are_honoured() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"format": "jpeg", "filename": "cat.png", "output_dir": "pets/cats"})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let f = &structured(&r)["files"][0];
    let path = f["path"].as_str().expect("path");
    assert!(path.ends_with("pets/cats/cat.jpg"), "{path}");
    assert_eq!(f["mime"], "image/jpeg");
    let bytes = std::fs::read(path).expect("read");
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
}

#[tokio::test]
async fn saved_images_are_readable_as_resources() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h.call("generate_image", gen_args(json!({}))).await;
    let s = structured(&r);
    let uri = s["files"][0]["uri"].as_str().expect("uri").to_string();
    let read = h
        .client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(uri.clone()))
        .await
        .expect("read");
    let json = serde_json::to_value(&read.contents[0]).expect("json");
    assert_eq!(json["mimeType"], "image/png");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(json["blob"].as_str().expect("blob"))
        .expect("b64");
    assert_eq!(
        blob,
        std::fs::read(s["files"][0]["path"].as_str().expect("p")).expect("read")
    );
    let listed = h.client.list_all_resources().await.expect("list");
    assert!(listed.iter().any(|r| r.uri == uri));
    for bad in [
        "easel://jobs/../../etc/passwd/images/0",
        "easel://jobs/x/images/9",
        "file:///etc/passwd",
    ] {
        let err = h
            .client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(bad))
            .await;
        assert!(err.is_err(), "{bad} must not be readable");
    }
}
