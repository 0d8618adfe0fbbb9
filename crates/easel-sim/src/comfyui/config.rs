//! The knobs of the ComfyUI simulator.
//!
//! Every default reproduces a stock ComfyUI 0.27.0 as described in
//! `docs/contracts/comfyui.md`, minus its waiting: a test that sets nothing gets a
//! healthy, instant server with a few model files installed. Each knob exists so a test
//! can provoke one behaviour of the contract (mostly its section 12.9) without touching
//! the others.

use std::time::Duration;

/// How the simulated ComfyUI behaves. Change it at run time with
/// [`ComfySim::update`](super::ComfySim::update); the model lists, `missing_nodes` and
/// `origin_guard` apply to the next request, the execution knobs to the next node that
/// runs.
#[derive(Clone, Debug)]
pub struct ComfyConfig {
    /// Files in `models/checkpoints`: the `ckpt_name` options of
    /// `CheckpointLoaderSimple` (contract 7).
    pub checkpoints: Vec<String>,
    /// Files in `models/diffusion_models`: the `unet_name` options of `UNETLoader`.
    pub diffusion_models: Vec<String>,
    /// Files in `models/text_encoders`: the `clip_name` options of the CLIP loaders.
    pub text_encoders: Vec<String>,
    /// Files in `models/vae`: the `vae_name` options of `VAELoader`.
    pub vaes: Vec<String>,
    /// Files in `models/loras`: the `lora_name` options of `LoraLoader`.
    pub loras: Vec<String>,
    /// Node classes taken out of the registry, as when a custom node is not installed:
    /// `/object_info` lacks them and a graph using them gets `missing_node_type`.
    pub missing_nodes: Vec<String>,
    /// Time per sampler step (`KSampler`, `KSamplerAdvanced`), so a client sees progress
    /// arrive over time and can interrupt mid-sampling.
    pub step_latency: Duration,
    /// Time per executed (not cached) node, so polling and timeouts can be tested.
    pub node_latency: Duration,
    /// This node id raises an exception when it runs: the job ends with
    /// `execution_error` (contract 8.3) and an error history entry.
    pub fail_node: Option<String>,
    /// The exception text of `fail_node`. A text mentioning "out of memory" is reported
    /// as `torch.OutOfMemoryError` with ComfyUI's OOM tips appended, as the real server
    /// does for a CUDA OOM.
    pub error_message: String,
    /// Close the job owner's WebSocket (without a close handshake, as a lost connection)
    /// after it has carried this many frames of the running job. The job keeps running
    /// and its history is still written; a client must fall back to polling `/history`.
    /// A socket that reconnects is accepted and counts afresh.
    pub drop_socket_after: Option<usize>,
    /// Answer the WebSocket upgrade with 503, so a client must poll `/history`.
    pub refuse_ws: bool,
    /// The Origin guard of contract 1 (on unless ComfyUI runs with
    /// `--enable-cors-header`): 403 for `Sec-Fetch-Site: cross-site` and for an
    /// `Origin` whose host differs from a loopback `Host`.
    pub origin_guard: bool,
    /// Send a JPEG latent preview after each sampler progress event (binary type 1, or
    /// type 4 to clients that asked for preview metadata). A stock server sends them only
    /// with `--preview-method`; clients must cope with both.
    pub previews: bool,
    /// `comfyui_version` in `/system_stats`.
    pub version: String,
    /// Jobs stay pending while this is set (the worker takes none), so a test can look at
    /// or delete queued jobs. Clearing it through `update` starts them.
    pub paused: bool,
    /// Accepted prompts are queued (and run) at once, but the answers to their
    /// `POST /prompt` wait while this is set, as behind a slow network or proxy: the
    /// client cannot yet know that its prompt was queued. Clearing it through `update`
    /// sends the held answers.
    pub hold_answers: bool,
}

impl Default for ComfyConfig {
    fn default() -> Self {
        Self {
            checkpoints: strings(&[
                "flux1-dev-fp8.safetensors",
                "v1-5-pruned-emaonly.safetensors",
                "sd_xl_base_1.0.safetensors",
            ]),
            diffusion_models: strings(&["qwen_image_fp8_e4m3fn.safetensors"]),
            text_encoders: strings(&[
                "qwen_2.5_vl_7b_fp8_scaled.safetensors",
                "clip_l.safetensors",
                "t5xxl_fp8_e4m3fn.safetensors",
            ]),
            vaes: strings(&["qwen_image_vae.safetensors", "ae.safetensors"]),
            loras: Vec::new(),
            missing_nodes: Vec::new(),
            step_latency: Duration::ZERO,
            node_latency: Duration::ZERO,
            fail_node: None,
            error_message: "CUDA out of memory. Tried to allocate 2.00 GiB".to_owned(),
            drop_socket_after: None,
            refuse_ws: false,
            origin_guard: true,
            previews: true,
            version: "0.27.0".to_owned(),
            paused: false,
            hold_answers: false,
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
