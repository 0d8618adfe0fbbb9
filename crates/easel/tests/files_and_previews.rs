//! Files are the product: never overwritten, always inside the root; previews bounded.

use crate::common::*;
use base64::Engine;
use easel_sim::ModelScopeConfig;
use serde_json::json;

#[tokio::test]
async fn a_name_clash_gets_a_suffix_and_the_first_file_is_untouched() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let first = h
        .call(
            "generate_image",
            gen_args(json!({"filename": "same", "seed": 1})),
        )
        .await;
    let p1 = structured(&first)["files"][0]["path"]
        .as_str()
        .expect("p")
        .to_string();
    let before = std::fs::read(&p1).expect("read");
    let second = h
        .call(
            "generate_image",
            gen_args(json!({"filename": "same", "seed": 2})),
        )
        .await;
    let p2 = structured(&second)["files"][0]["path"]
        .as_str()
        .expect("p")
        .to_string();
    assert!(p1.ends_with("/same.png"), "{p1}");
    assert!(p2.ends_with("/same-2.png"), "{p2}");
    assert_eq!(
        std::fs::read(&p1).expect("read"),
        before,
        "first file overwritten"
    );
    assert_ne!(std::fs::read(&p2).expect("read"), before);
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_out_of_the_root_is_refused() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let outside = tempfile::tempdir().expect("outside");
    std::fs::create_dir_all(h.out()).expect("root");
    std::os::unix::fs::symlink(outside.path(), h.out().join("escape")).expect("symlink");
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"output_dir": "escape/deeper"})),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        std::fs::read_dir(outside.path())
            .expect("ls")
            .next()
            .is_none(),
        "wrote outside the root"
    );
}

fn inline_sizes(r: &rmcp::model::CallToolResult) -> Vec<(usize, u32, u32, String)> {
    r.content
        .iter()
        .filter_map(|c| c.as_image())
        .map(|img| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&img.data)
                .expect("b64");
            let decoded = image::load_from_memory(&bytes).expect("decodes");
            (
                img.data.len(),
                decoded.width(),
                decoded.height(),
                img.mime_type.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn thumbnails_stay_within_512_px_and_256_kib_in_total() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"count": 4, "size": "1664x928"})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let sizes = inline_sizes(&r);
    assert_eq!(sizes.len(), 4);
    assert!(
        sizes.iter().all(|(_, w, h, _)| *w <= 512 && *h <= 512),
        "{sizes:?}"
    );
    // Shrunk by the smallest whole factor that fits (1664 / 4), unless over the budget.
    assert!(
        sizes.iter().any(|(_, w, h, _)| (*w, *h) == (416, 232)),
        "{sizes:?}"
    );
    let total: usize = sizes.iter().map(|s| s.0).sum();
    assert!(total <= 256 * 1024, "{total}");
}

#[tokio::test]
async fn preview_none_inlines_nothing() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call("generate_image", gen_args(json!({"preview": "none"})))
        .await;
    assert!(inline_sizes(&r).is_empty());
    assert_eq!(
        r.content
            .iter()
            .filter(|c| c.as_resource_link().is_some())
            .count(),
        1
    );
}

#[tokio::test]
async fn full_preview_inlines_the_original_when_small() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"preview": "full", "size": "256x256"})),
        )
        .await;
    let s = structured(&r);
    let original = std::fs::read(s["files"][0]["path"].as_str().expect("p")).expect("read");
    let img = r.content.iter().find_map(|c| c.as_image()).expect("image");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&img.data)
            .expect("b64"),
        original
    );
    assert_eq!(img.mime_type, "image/png");
}

#[tokio::test]
async fn full_preview_falls_back_to_thumbnails_over_900_kib_and_says_so() {
    let h = start(ModelScopeConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            gen_args(json!({"preview": "full", "count": 4, "size": "1664x1664"})),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let total_files: u64 = structured(&r)["files"]
        .as_array()
        .expect("f")
        .iter()
        .map(|f| f["bytes"].as_u64().expect("b"))
        .sum();
    let sizes = inline_sizes(&r);
    let total: usize = sizes.iter().map(|s| s.0).sum();
    assert!(total <= 900 * 1024);
    if total_files * 4 / 3 > 900 * 1024 {
        assert!(
            sizes.iter().all(|(_, w, h, _)| *w <= 512 && *h <= 512),
            "{sizes:?}"
        );
        assert!(
            structured(&r)["preview_note"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        );
    }
}
