//! ComfyUI through a real MCP client against the ComfyUI simulator: built-in and user
//! workflows, the three ways parameters are injected, progress, socket loss, cancel, errors.

use std::time::{Duration, SystemTime};

use crate::common::*;
use easel_sim::ComfyConfig;
use serde_json::{Value, json};

/// Follows links from `node.input` upstream until a node with a literal `text` (or
/// `prompt`) input: the text encoder that really feeds that input.
fn text_feeding(graph: &Value, node: &str, input: &str) -> Option<String> {
    let mut link = graph[node]["inputs"][input].clone();
    for _ in 0..10 {
        let source = link.get(0)?.as_str()?.to_string();
        let inputs = &graph[&source]["inputs"];
        for key in ["text", "prompt"] {
            if let Some(t) = inputs.get(key).and_then(Value::as_str) {
                return Some(t.to_string());
            }
        }
        link = ["conditioning", "conditioning_1", "positive"]
            .iter()
            .find_map(|k| inputs.get(*k).filter(|v| v.is_array()).cloned())?;
    }
    None
}

fn sampler(graph: &Value) -> (String, Value) {
    nodes_of(graph, "KSampler")
        .into_iter()
        .next()
        .expect("a KSampler")
}

fn png_size(path: &str) -> (u32, u32) {
    let img = image::open(path).expect("image");
    (img.width(), img.height())
}

#[tokio::test]
async fn each_builtin_workflow_generates_with_parameters_in_the_right_places() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    for workflow in ["flux-dev", "sd-checkpoint", "qwen-image"] {
        let r = h
            .call(
                "generate_image",
                json!({"prompt": "a red fox in snow", "negative_prompt": "blurry, text", "workflow": workflow,
                       "size": "320x256", "seed": 1234, "steps": 6, "count": 2}),
            )
            .await;
        assert!(!is_error(&r), "{workflow}: {}", text(&r));
        let s = structured(&r);
        assert_eq!(s["status"], "succeeded", "{workflow}");
        let files = s["files"].as_array().expect("files");
        assert_eq!(files.len(), 2, "{workflow}: batch of 2");
        for f in files {
            assert_eq!(
                png_size(f["path"].as_str().expect("p")),
                (320, 256),
                "{workflow}"
            );
        }
        let g = h.last_graph();
        let (sid, ks) = sampler(&g);
        assert_eq!(ks["inputs"]["seed"], 1234, "{workflow}");
        assert_eq!(ks["inputs"]["steps"], 6, "{workflow}");
        assert_eq!(
            text_feeding(&g, &sid, "positive").as_deref(),
            Some("a red fox in snow"),
            "{workflow}"
        );
        let negative = text_feeding(&g, &sid, "negative");
        assert_eq!(
            negative.as_deref(),
            Some("blurry, text"),
            "{workflow}: negative prompt"
        );
        let latent = ks["inputs"]["latent_image"][0]
            .as_str()
            .expect("latent link")
            .to_string();
        assert_eq!(g[&latent]["inputs"]["width"], 320);
        assert_eq!(g[&latent]["inputs"]["batch_size"], 2);
        // No easel metadata reaches ComfyUI.
        assert!(g.get("easel").is_none(), "{workflow}");
    }
    assert_eq!(h.sim.executions(), 3);
}

#[tokio::test]
async fn guidance_goes_to_flux_guidance_not_cfg() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "flux-dev", "guidance": 4.5, "size": "64x64"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let g = h.last_graph();
    assert_eq!(nodes_of(&g, "FluxGuidance")[0].1["inputs"]["guidance"], 4.5);
    assert_eq!(sampler(&g).1["inputs"]["cfg"], 1.0, "Flux keeps cfg 1");
}

#[tokio::test]
async fn a_missing_seed_is_randomized_so_comfyui_does_not_replay_its_cache() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    let a = h
        .call("generate_image", json!({"prompt": "same", "size": "64x64"}))
        .await;
    let b = h
        .call("generate_image", json!({"prompt": "same", "size": "64x64"}))
        .await;
    let (sa, sb) = (
        structured(&a)["seed"].clone(),
        structured(&b)["seed"].clone(),
    );
    assert_ne!(sa, sb);
    assert_eq!(h.sim.executions(), 2, "both ran, neither came from cache");
    assert_ne!(
        std::fs::read(structured(&a)["files"][0]["path"].as_str().expect("p")).expect("a"),
        std::fs::read(structured(&b)["files"][0]["path"].as_str().expect("p")).expect("b")
    );
}

const PLACEHOLDER_WORKFLOW: &str = r#"{
  "easel": {"description": "Placeholder test", "params": {"style": {"description": "Art style", "choices": ["ink", "oil"]}}},
  "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
  "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}, in {{style:string=ink}} style", "clip": ["1", 1]}},
  "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark", "clip": ["1", 1]}},
  "4": {"class_type": "EmptyLatentImage", "inputs": {"width": "{{width:int}}", "height": "{{height:int}}", "batch_size": 1}},
  "5": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": "{{seed:int}}", "steps": "{{steps:int=12}}", "cfg": "{{guidance:float=6.5}}",
        "sampler_name": "euler", "scheduler": "normal", "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0], "denoise": 1.0}},
  "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
  "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "ph"}}
}"#;

const MARKED_WORKFLOW: &str = r#"{
  "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
  "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "default subject", "clip": ["1", 1]}, "_meta": {"title": "$prompt.text"}},
  "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}, "_meta": {"title": "$mood.text:Mood words"}},
  "8": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0], "conditioning_2": ["3", 0]}},
  "9": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["1", 1]}},
  "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}, "_meta": {"title": "$width.width $height.height"}},
  "5": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 5, "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal",
        "positive": ["8", 0], "negative": ["9", 0], "latent_image": ["4", 0], "denoise": 1.0}, "_meta": {"title": "$seed.seed $steps.steps"}},
  "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
  "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "mk"}}
}"#;

/// Two text encoders of the same class: a class-type matcher would overwrite the negative.
const UNMARKED_WORKFLOW: &str = r#"{
  "10": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
  "11": {"class_type": "CLIPTextEncode", "inputs": {"text": "negative words", "clip": ["10", 1]}},
  "12": {"class_type": "CLIPTextEncode", "inputs": {"text": "positive words", "clip": ["10", 1]}},
  "13": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
  "14": {"class_type": "KSampler", "inputs": {"model": ["10", 0], "seed": 1, "steps": 30, "cfg": 7, "sampler_name": "dpmpp_2m", "scheduler": "karras",
         "positive": ["12", 0], "negative": ["11", 0], "latent_image": ["13", 0], "denoise": 1.0}},
  "15": {"class_type": "VAEDecode", "inputs": {"samples": ["14", 0], "vae": ["10", 2]}},
  "16": {"class_type": "SaveImage", "inputs": {"images": ["15", 0], "filename_prefix": "un"}}
}"#;

#[tokio::test]
async fn placeholders_title_markers_and_detection_each_inject_correctly() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::write(
        h.workflows().join("placeholders.json"),
        PLACEHOLDER_WORKFLOW,
    )
    .expect("w");
    std::fs::write(h.workflows().join("marked.json"), MARKED_WORKFLOW).expect("w");
    std::fs::write(h.workflows().join("unmarked.json"), UNMARKED_WORKFLOW).expect("w");

    let r = h
        .call("generate_image", json!({"prompt": "a castle", "workflow": "placeholders", "size": "192x128", "seed": 77, "params": {"style": "oil"}}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let g = h.last_graph();
    assert_eq!(g["2"]["inputs"]["text"], "a castle, in oil style");
    assert_eq!(g["4"]["inputs"]["width"], 192);
    assert_eq!(g["5"]["inputs"]["seed"], 77);
    assert_eq!(g["5"]["inputs"]["steps"], 12, "placeholder default");
    assert_eq!(g["5"]["inputs"]["cfg"], 6.5);
    assert_eq!(g["3"]["inputs"]["text"], "watermark", "untouched");
    assert!(g.get("easel").is_none());

    let r = h
        .call("generate_image", json!({"prompt": "a lighthouse", "workflow": "marked", "size": "256x192", "seed": 9, "steps": 8, "params": {"mood": "stormy"}}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let g = h.last_graph();
    assert_eq!(g["2"]["inputs"]["text"], "a lighthouse");
    assert_eq!(g["3"]["inputs"]["text"], "stormy");
    assert_eq!(
        g["9"]["inputs"]["text"], "ugly",
        "negative untouched by the positive"
    );
    assert_eq!(
        (
            g["4"]["inputs"]["width"].clone(),
            g["4"]["inputs"]["height"].clone()
        ),
        (json!(256), json!(192))
    );
    assert_eq!(
        (
            g["5"]["inputs"]["seed"].clone(),
            g["5"]["inputs"]["steps"].clone()
        ),
        (json!(9), json!(8))
    );

    let r = h
        .call("generate_image", json!({"prompt": "a meadow", "negative_prompt": "fog", "workflow": "unmarked", "size": "128x128", "seed": 3, "guidance": 5.0}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let g = h.last_graph();
    assert_eq!(
        g["12"]["inputs"]["text"], "a meadow",
        "positive found by tracing links"
    );
    assert_eq!(
        g["11"]["inputs"]["text"], "fog",
        "negative found by tracing links"
    );
    assert_eq!(g["14"]["inputs"]["cfg"], 5.0);
    assert_eq!(g["13"]["inputs"]["width"], 128);
}

#[tokio::test]
async fn unmatched_parameters_are_reported_and_invalid_ones_refused() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::write(
        h.workflows().join("placeholders.json"),
        PLACEHOLDER_WORKFLOW,
    )
    .expect("w");
    let r = h
        .call("generate_image", json!({"prompt": "x", "workflow": "placeholders", "size": "64x64", "negative_prompt": "n", "params": {"colour": "red"}}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let warnings = structured(&r)["warnings"]
        .as_array()
        .expect("warnings")
        .clone();
    let joined = format!("{warnings:?}");
    assert!(joined.contains("colour"), "{joined}");
    assert!(text(&r).contains("colour"), "{}", text(&r));

    let posted = h.sim.prompts().len();
    let bad = h.call("generate_image", json!({"prompt": "x", "workflow": "placeholders", "size": "64x64", "params": {"style": "crayon"}})).await;
    assert!(is_error(&bad), "{}", text(&bad));
    assert!(text(&bad).contains("style"), "{}", text(&bad));
    let bad = h
        .call("generate_image", json!({"prompt": "x", "workflow": "nope"}))
        .await;
    assert!(
        is_error(&bad) && text(&bad).contains("workflow"),
        "{}",
        text(&bad)
    );
    assert_eq!(h.sim.prompts().len(), posted, "refused before submission");
}

#[tokio::test]
async fn progress_notifications_carry_steps() {
    let h = start_comfy(
        ComfyConfig {
            step_latency: Duration::from_millis(30),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "size": "64x64", "steps": 6}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let messages: Vec<String> = h
        .recorder
        .seen()
        .iter()
        .filter_map(|p| p.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("step") && m.contains("/6")),
        "{messages:?}"
    );
    let seen = h.recorder.seen();
    assert!(seen.windows(2).all(|w| w[1].progress > w[0].progress));
}

#[tokio::test]
async fn a_dropped_socket_mid_run_still_completes_by_polling() {
    let h = start_comfy(
        ComfyConfig {
            step_latency: Duration::from_millis(20),
            drop_socket_after: Some(4),
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "size": "64x64", "steps": 10}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["status"], "succeeded");
    assert_eq!(h.files().len(), 1);
}

#[tokio::test]
async fn no_websocket_at_all_still_completes_by_polling() {
    let h = start_comfy(
        ComfyConfig {
            refuse_ws: true,
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call("generate_image", json!({"prompt": "x", "size": "64x64"}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(h.files().len(), 1);
}

#[tokio::test]
async fn cancel_interrupts_a_running_prompt_and_deletes_a_queued_one() {
    let h = start_comfy(
        ComfyConfig {
            step_latency: Duration::from_millis(100),
            ..Default::default()
        },
        &[],
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let generate = h.call(
        "generate_image",
        json!({"prompt": "x", "size": "64x64", "steps": 50, "wait_seconds": 60}),
    );
    let cancel_once_running = async {
        // Running means ComfyUI has reported a sampler step.
        while !h
            .recorder
            .seen()
            .iter()
            .any(|p| p.message.as_deref().is_some_and(|m| m.contains("step")))
        {
            assert!(std::time::Instant::now() < deadline, "never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let list = h.call("list_jobs", json!({"status": "running"})).await;
        let id = structured(&list)["jobs"][0]["job_id"]
            .as_str()
            .expect("running job")
            .to_string();
        h.call("cancel_job", json!({"job_id": id})).await
    };
    let (generated, cancelled) = tokio::join!(generate, cancel_once_running);
    assert_eq!(
        structured(&cancelled)["status"],
        "cancelled",
        "{}",
        text(&cancelled)
    );
    assert_eq!(
        structured(&generated)["status"],
        "cancelled",
        "{}",
        text(&generated)
    );
    assert!(
        h.sim
            .requests()
            .iter()
            .any(|q| q.path.ends_with("/interrupt")),
        "interrupt sent"
    );
    assert!(h.files().is_empty());

    // Queued: the server is paused, so the prompt waits in ComfyUI's queue.
    h.sim.update(|c| c.paused = true);
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "y", "size": "64x64", "wait_seconds": 0}),
        )
        .await;
    let id = structured(&r)["job_id"].as_str().expect("id").to_string();
    while h.sim.queue_len() == 0 {
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(10),
            "never queued"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = h.call("cancel_job", json!({"job_id": id})).await;
    assert_eq!(structured(&c)["status"], "cancelled", "{}", text(&c));
    let deleted = h
        .sim
        .requests()
        .iter()
        .any(|q| q.path.ends_with("/queue") && q.method == "POST");
    assert!(deleted, "queue delete sent");
    assert_eq!(h.sim.queue_len(), 0);
}

#[tokio::test]
async fn node_errors_are_readable_and_name_what_to_do() {
    let h = start_comfy(
        ComfyConfig {
            missing_nodes: vec![],
            ..Default::default()
        },
        &[],
    )
    .await;
    // A checkpoint the server does not have: ComfyUI lists the ones it has.
    let r = h.call("generate_image", json!({"prompt": "x", "workflow": "sd-checkpoint", "model": "nope.safetensors", "size": "64x64"})).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("ckpt_name")
            && t.contains("nope.safetensors")
            && t.contains("v1-5-pruned-emaonly.safetensors"),
        "{t}"
    );
    // Checked against the server's /object_info before anything is sent.
    assert!(
        format!("{}", structured(&r)["error"]["details"]["lacks"]).contains("nope.safetensors"),
        "{}",
        structured(&r)
    );
    assert!(h.sim.prompts().is_empty(), "refused before sending");

    // A node type that is not installed.
    let unknown = UNMARKED_WORKFLOW.replace("\"VAEDecode\"", "\"NoSuchNodeXYZ\"");
    std::fs::write(h.workflows().join("custom.json"), unknown).expect("w");
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "custom", "size": "64x64"}),
        )
        .await;
    assert!(is_error(&r));
    let t = text(&r);
    eprintln!("unknown node type error: {t}");
    assert!(
        t.contains("NoSuchNodeXYZ") && t.contains("custom node"),
        "{t}"
    );
}

#[tokio::test]
async fn an_execution_error_names_node_class_exception_and_traceback() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::write(h.workflows().join("unmarked.json"), UNMARKED_WORKFLOW).expect("w");
    h.sim.update(|c| c.fail_node = Some("14".into()));
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "unmarked", "size": "64x64"}),
        )
        .await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("node 14")
            && t.contains("KSampler")
            && t.contains("CUDA out of memory")
            && t.contains("Traceback"),
        "{t}"
    );
}

#[tokio::test]
async fn a_ui_format_export_is_refused_with_the_fix() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::write(h.workflows().join("from-ui.json"), r#"{"last_node_id": 9, "nodes": [{"id": 1, "type": "KSampler"}], "links": [], "version": 0.4}"#).expect("w");
    let list = h.call("list_workflows", json!({})).await;
    let problems = format!("{:?}", structured(&list)["problems"]);
    assert!(
        problems.contains("from-ui") && problems.contains("Export (API)"),
        "{problems}"
    );
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "from-ui"}),
        )
        .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("Export (API)"), "{}", text(&r));
}

#[tokio::test]
async fn a_changed_workflow_file_is_picked_up() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    let path = h.workflows().join("evolving.json");
    std::fs::write(&path, PLACEHOLDER_WORKFLOW).expect("w");
    let before = h.call("list_workflows", json!({})).await;
    let names = |r: &rmcp::model::CallToolResult| -> Vec<String> {
        let w = structured(r)["workflows"]
            .as_array()
            .expect("w")
            .iter()
            .find(|w| w["name"] == "evolving")
            .cloned()
            .expect("listed");
        w["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|p| p["name"].as_str().expect("n").to_string())
            .collect()
    };
    assert!(names(&before).contains(&"style".to_string()));
    std::fs::write(&path, PLACEHOLDER_WORKFLOW.replace("style", "palette")).expect("w");
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(later)
        .expect("mtime");
    let after = h.call("list_workflows", json!({})).await;
    let n = names(&after);
    assert!(
        n.contains(&"palette".to_string()) && !n.contains(&"style".to_string()),
        "{n:?}"
    );
}

#[tokio::test]
async fn image_to_image_uploads_a_local_file() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::create_dir_all(h.out().join("src")).expect("dir");
    std::fs::write(
        h.out().join("src/cat.png"),
        easel_sim::picture::png(200, 160, "cat"),
    )
    .expect("w");
    let r = h
        .call("generate_image", json!({"prompt": "the cat as a watercolor", "workflow": "img2img", "size": "200x160", "params": {"image": "src/cat.png"}}))
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let uploads = h.sim.uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let g = h.last_graph();
    let load = &nodes_of(&g, "LoadImage")[0].1;
    assert_eq!(load["inputs"]["image"].as_str(), Some(uploads[0].as_str()));
    assert_eq!(
        png_size(structured(&r)["files"][0]["path"].as_str().expect("p")),
        (200, 160)
    );
    // Paths outside the root are refused before anything is uploaded.
    let bad = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "img2img", "params": {"image": "../../etc/passwd"}}),
        )
        .await;
    assert!(
        is_error(&bad) && text(&bad).contains("image"),
        "{}",
        text(&bad)
    );
    assert_eq!(h.sim.uploads().len(), 1);
}

#[tokio::test]
async fn backends_and_doctor_report_missing_models_and_nodes() {
    let h = start_comfy(
        ComfyConfig {
            diffusion_models: vec![],
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("backends", json!({})).await;
    let s = structured(&r);
    let comfy = s["backends"]
        .as_array()
        .expect("b")
        .iter()
        .find(|b| b["name"] == "comfyui")
        .cloned()
        .expect("comfyui");
    assert_eq!(comfy["ready"], true);
    assert_eq!(comfy["details"]["version"], "0.27.0");
    let qwen = comfy["details"]["workflows"]
        .as_array()
        .expect("w")
        .iter()
        .find(|w| w["name"] == "qwen-image")
        .cloned()
        .expect("qwen");
    assert_eq!(qwen["ready"], false);
    assert!(
        format!("{}", qwen["missing_models"]).contains("qwen_image_fp8_e4m3fn.safetensors"),
        "{qwen}"
    );
    let flux = comfy["details"]["workflows"]
        .as_array()
        .expect("w")
        .iter()
        .find(|w| w["name"] == "flux-dev")
        .cloned()
        .expect("flux");
    assert_eq!(flux["ready"], true);
}

#[tokio::test]
async fn the_prototype_prompt_exists() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    let prompts = h.client.list_all_prompts().await.expect("prompts");
    assert!(prompts.iter().any(|p| p.name == "generate_image_request"));
    let mut args = serde_json::Map::new();
    args.insert("prompt".into(), json!("一只戴黄帽子的猫"));
    let got = h
        .client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("generate_image_request").with_arguments(args),
        )
        .await
        .expect("prompt");
    let text = serde_json::to_string(&got.messages).expect("json");
    assert!(
        text.contains("一只戴黄帽子的猫") && text.contains("动漫风格") && text.contains("English"),
        "{text}"
    );
}

#[tokio::test]
async fn workflows_can_be_their_own_tools() {
    let h = start_comfy(
        ComfyConfig::default(),
        &[("EASEL_COMFYUI_WORKFLOW_TOOLS", "true")],
    )
    .await;
    let tools = h.client.list_all_tools().await.expect("tools");
    let tool = tools
        .iter()
        .find(|t| t.name == "workflow_flux-dev")
        .expect("workflow tool");
    assert!(tool.input_schema.get("properties").is_some());
    assert!(
        tool.icons.as_ref().is_some_and(|i| i.len() == 1),
        "{tool:?}"
    );
    let r = h
        .call(
            "workflow_flux-dev",
            json!({"prompt": "a kite", "width": 128, "height": 96, "seed": 5}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        png_size(structured(&r)["files"][0]["path"].as_str().expect("p")),
        (128, 96)
    );
}

#[tokio::test]
async fn an_unreachable_server_says_how_to_fix_it() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    // Point a second easel at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let mut env = comfy_env(&h.sim, h.dir.path(), &[]);
    env.insert("COMFYUI_URL".into(), url.clone());
    let config = config(h.dir.path(), &env);
    let app = easel::app::build(&config, easel::app::Storage::Ephemeral).expect("app");
    let server = app.server(&config);
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        use rmcp::ServiceExt;
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    use rmcp::ServiceExt;
    let client = ().serve(client_io).await.expect("client");
    let r = call(
        &client,
        "generate_image",
        json!({"prompt": "x", "size": "64x64"}),
    )
    .await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains(&format!("cannot reach ComfyUI at {url}")) && t.contains("COMFYUI_URL"),
        "{t}"
    );
    assert_eq!(structured(&r)["error"]["kind"], "unreachable");
}

#[tokio::test]
async fn one_server_refuses_a_missing_model_before_sending_and_offers_no_empty_list() {
    let h = start_comfy(
        ComfyConfig {
            diffusion_models: vec![],
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "x", "workflow": "qwen-image", "size": "512x512"}),
        )
        .await;
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains("qwen_image_fp8_e4m3fn.safetensors")
            && t.contains("no diffusion model files at all")
            && t.contains("models/diffusion_models"),
        "{t}"
    );
    assert!(
        !t.contains("Use one of the files") && !t.contains("name one of them"),
        "{t}"
    );
    assert!(h.sim.prompts().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_server_lost_while_the_job_waited_in_its_queue_says_so() {
    let sim = easel_sim::ComfySim::start(ComfyConfig {
        paused: true,
        ..Default::default()
    })
    .await
    .expect("sim");
    let url = sim.base_url();
    let e = start_easel(
        "",
        &[
            ("COMFYUI_URL", &url),
            ("EASEL_COMFYUI_LOST_AFTER_SECS", "1"),
        ],
    )
    .await;
    let running = e.call(
        "generate_image",
        json!({"prompt": "x", "size": "64x64", "wait_seconds": 60}),
    );
    let kill = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while sim.queue_len() == 0 {
            assert!(std::time::Instant::now() < deadline, "never queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sim.shutdown();
    };
    let (r, ()) = tokio::join!(running, kill);
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains("stopped answering while this job waited in its queue"),
        "{t}"
    );
    assert!(!t.contains("while running this job"), "{t}");
}

/// Inverts its input: keeps the input's size and takes no seed.
const INVERT_WORKFLOW: &str = r#"{
  "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
  "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
  "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}}
}"#;

#[tokio::test]
async fn an_edit_reports_the_real_size_and_no_seed_when_the_workflow_takes_none() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    std::fs::write(h.workflows().join("invert.json"), INVERT_WORKFLOW).expect("w");
    std::fs::create_dir_all(h.out()).expect("out");
    image::RgbImage::from_pixel(320, 200, image::Rgb([10, 200, 30]))
        .save(h.out().join("src.png"))
        .expect("source");
    let r = h
        .call(
            "edit_image",
            json!({"prompt": "invert it", "images": ["src.png"], "workflow": "invert"}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["size"], "320x200", "{s}");
    assert!(s.get("seed").is_none(), "no seed was used: {s}");
    let file = &s["files"][0];
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(320), json!(200))
    );
    assert!(file.get("seed").is_none(), "{file}");
    let path = file["path"].as_str().expect("path");
    assert_eq!(png_size(path), (320, 200));
    let name = std::path::Path::new(path)
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(!name.contains("-s"), "no invented seed in {name}");
    assert!(!text(&r).contains("seed"), "{}", text(&r));
    assert!(
        text(&r).contains("workflow invert"),
        "the workflow is named: {}",
        text(&r)
    );
}

#[tokio::test]
async fn a_comfyui_batch_reports_the_one_seed_it_was_made_from() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    let r = h
        .call(
            "generate_image",
            json!({"prompt": "two foxes", "size": "64x64", "seed": 42, "count": 2}),
        )
        .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    let (_, ks) = sampler(&h.last_graph());
    assert_eq!(ks["inputs"]["seed"], 42, "one sampler seed for the batch");
    let seeds: Vec<Value> = s["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["seed"].clone())
        .collect();
    assert_eq!(seeds, vec![json!(42), json!(42)], "{s}");
    assert_eq!(s["seed"], 42);
    // No workflow named: the configured default is reported, not "backend default".
    assert_eq!(s["model"], "workflow flux-dev", "{s}");
}

#[tokio::test]
async fn listings_say_which_workflows_cannot_run_and_why() {
    let h = start_comfy(
        ComfyConfig {
            diffusion_models: vec![],
            ..Default::default()
        },
        &[],
    )
    .await;
    let r = h.call("backends", json!({})).await;
    let t = text(&r);
    assert!(
        t.contains("workflow qwen-image cannot run")
            && t.contains("qwen_image_fp8_e4m3fn.safetensors")
            && t.contains("no diffusion model files at all"),
        "{t}"
    );
    assert!(!t.contains("workflow flux-dev cannot run"), "{t}");

    let r = h.call("list_workflows", json!({})).await;
    let t = text(&r);
    assert!(!t.contains(".."), "one full stop between sentences: {t}");
    let qwen_line = t
        .lines()
        .skip_while(|l| !l.starts_with("- qwen-image"))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        qwen_line.contains("CANNOT RUN") && qwen_line.contains("qwen_image_fp8_e4m3fn.safetensors"),
        "{t}"
    );
    let s = structured(&r);
    let qwen = s["workflows"]
        .as_array()
        .expect("w")
        .iter()
        .find(|w| w["name"] == "qwen-image")
        .cloned()
        .expect("qwen");
    assert_eq!(qwen["ready"], false, "{qwen}");
    let flux = s["workflows"]
        .as_array()
        .expect("w")
        .iter()
        .find(|w| w["name"] == "flux-dev")
        .cloned()
        .expect("flux");
    assert_eq!(flux["ready"], true, "{flux}");
}

/// A model-free workflow of `frames` noisy frames ending in `save` (node "3", fed by node
/// "2"); `strength` makes it take a parameter of its own.
fn clip_workflow(save: &str) -> String {
    format!(
        r#"{{
  "1": {{"class_type": "EmptyImage", "inputs": {{"width": "{{{{width:int}}}}", "height": "{{{{height:int}}}}", "batch_size": 4, "color": 0}}}},
  "2": {{"class_type": "ImageAddNoise", "inputs": {{"image": ["1", 0], "seed": "{{{{seed:int}}}}", "strength": "{{{{strength:float=0.5}}}}"}}}},
  {save}
}}"#
    )
}

#[tokio::test]
async fn animations_and_videos_are_saved_typed_previewed_and_served() {
    let h = start_comfy(ComfyConfig::default(), &[]).await;
    // (workflow, save nodes, MIME type, extension, media class, inline preview expected)
    let cases = [
        (
            "webp-loop",
            r#""3": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["2", 0], "filename_prefix": "loop", "fps": 6.0, "lossless": true, "quality": 80, "method": "default"}}"#,
            "image/webp",
            "webp",
            "animation",
            true,
        ),
        (
            "apng-loop",
            r#""3": {"class_type": "SaveAnimatedPNG", "inputs": {"images": ["2", 0], "filename_prefix": "apng", "fps": 6.0, "compress_level": 4}}"#,
            "image/png",
            "png",
            "animation",
            true,
        ),
        (
            "wan-vhs",
            r#""3": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["2", 0], "frame_rate": 16, "loop_count": 0, "filename_prefix": "wan", "format": "video/h264-mp4", "pingpong": false, "save_output": true}}"#,
            "video/mp4",
            "mp4",
            "video",
            false,
        ),
        (
            "core-video",
            r#""4": {"class_type": "CreateVideo", "inputs": {"images": ["2", 0], "fps": 24.0}},
  "3": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "filename_prefix": "video/ltx", "format": "auto", "codec": "auto"}}"#,
            "video/mp4",
            "mp4",
            "video",
            false,
        ),
        (
            "webm",
            r#""3": {"class_type": "SaveWEBM", "inputs": {"images": ["2", 0], "filename_prefix": "hy", "codec": "vp9", "fps": 24.0, "crf": 32.0}}"#,
            "video/webm",
            "webm",
            "video",
            false,
        ),
    ];
    for (name, save, mime, ext, media, previewed) in cases {
        std::fs::write(
            h.workflows().join(format!("{name}.json")),
            clip_workflow(save),
        )
        .expect("w");
        let r = h
            .call(
                "generate_image",
                json!({"prompt": "waves", "workflow": name, "size": "96x64", "seed": 3, "format": "jpeg"}),
            )
            .await;
        assert!(!is_error(&r), "{name}: {}", text(&r));
        let s = structured(&r);
        let f = &s["files"][0];
        assert_eq!(f["mime"], mime, "{name}: {s}");
        assert_eq!(f["media"], media, "{name}");
        assert_eq!(
            (f["width"].clone(), f["height"].clone()),
            (json!(96), json!(64)),
            "{name}"
        );
        let path = f["path"].as_str().expect("path");
        assert!(path.ends_with(&format!(".{ext}")), "{name}: {path}");
        let on_disk = std::fs::read(path).expect("saved");
        assert_eq!(f["bytes"], on_disk.len(), "{name}");
        let t = text(&r);
        assert!(t.contains(&format!("{mime} {media}")), "{name}: {t}");
        let inline: Vec<_> = r.content.iter().filter_map(|c| c.as_image()).collect();
        if previewed {
            // The first frame, as a thumbnail.
            assert_eq!(inline.len(), 1, "{name}: {t}");
        } else {
            assert!(inline.is_empty(), "{name}");
            let note = s["preview_note"].as_str().unwrap_or_default();
            assert!(
                note.contains("no inline preview") && note.contains("video"),
                "{name}: {s}"
            );
        }
        let link = r
            .content
            .iter()
            .find_map(|c| c.as_resource_link())
            .expect("resource link");
        assert_eq!(link.mime_type.as_deref(), Some(mime), "{name}");
        let read = h
            .client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                f["uri"].as_str().expect("uri"),
            ))
            .await
            .expect("read");
        let json = serde_json::to_value(&read.contents[0]).expect("json");
        assert_eq!(json["mimeType"], mime, "{name}");
        use base64::Engine as _;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(json["blob"].as_str().expect("blob"))
            .expect("b64");
        assert_eq!(blob, on_disk, "{name}: served as saved");
    }
}
