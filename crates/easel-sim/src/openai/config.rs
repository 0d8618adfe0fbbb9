//! The knobs of the OpenAI images simulator.
//!
//! Every default reproduces a healthy, fast OpenAI as described in
//! `docs/contracts/openai-images.md`; each knob provokes one behaviour of its section 9
//! without touching the others.

use std::time::Duration;

/// Which provider the simulator imitates (contract 9.6). Switch it at run time with
/// [`OpenAiSim::update`](super::OpenAiSim::update).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProviderMode {
    /// OpenAI itself (sections 2 to 6): per-model rules, `b64_json` for GPT image
    /// models, URLs for DALL·E, the `{"error": {…}}` envelope.
    #[default]
    OpenAi,
    /// SiliconFlow (section 7.1): `image_size`/`batch_size` in,
    /// `{"images": [{"url"}], "timings", "seed"}` out, no `/images/edits`, and its own
    /// error bodies (`{"code", "message", "data"}`, a plain-text 401).
    SiliconFlow,
    /// A new-api/one-api style gateway (sections 7.2, 7.6): OpenAI's rules are forwarded,
    /// but every image comes back as `url` with `"b64_json": ""` and
    /// `"revised_prompt": ""`, and errors carry the gateway's `type` and request id.
    Relay,
}

/// How the simulated provider behaves. Knobs are read when a request arrives; fault
/// counters count down as they are used.
#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// Which provider to imitate.
    pub mode: ProviderMode,
    /// Accepted API keys. `None` accepts any non-empty bearer; `Some` answers others 401
    /// `invalid_api_key`, quoting the key masked as OpenAI does (`sk-proj-****abcd`).
    pub valid_keys: Option<Vec<String>>,
    /// Delay before answering an accepted generation or edit, for timeout tests (real
    /// GPT image generations take 20–120 s).
    pub latency: Duration,
    /// The next N generations/edits answer 429 `rate_limit_exceeded` with
    /// `Retry-After: 1` (retryable).
    pub reject_next_429: u32,
    /// Every generation/edit answers 429 `insufficient_quota` (not retryable).
    pub insufficient_quota: bool,
    /// Generations/edits answer 400 `moderation_blocked` with `moderation_details`, the
    /// GPT image safety refusal.
    pub moderation_block: bool,
    /// Generations/edits answer 400 `content_policy_violation`, the DALL·E safety
    /// refusal.
    pub content_policy: bool,
    /// The next N generations/edits answer 500 `server_error`.
    pub fail_next_500: u32,
    /// If set, other model ids answer 404 `model_not_found`.
    pub known_models: Option<Vec<String>>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            mode: ProviderMode::OpenAi,
            valid_keys: None,
            latency: Duration::ZERO,
            reject_next_429: 0,
            insufficient_quota: false,
            moderation_block: false,
            content_policy: false,
            fail_next_500: 0,
            known_models: None,
        }
    }
}
