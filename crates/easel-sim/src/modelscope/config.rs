//! The knobs of the ModelScope simulator.
//!
//! Every default reproduces the real service as described in
//! `docs/contracts/modelscope.md`, minus its waiting: a test that sets nothing gets a
//! healthy, fast ModelScope. Each knob exists so a test can provoke one behaviour of the
//! contract (mostly its section 12) without touching the others.

use std::time::Duration;

/// How the simulated ModelScope behaves. Change it at run time with
/// [`ModelScopeSim::update`](super::ModelScopeSim::update).
///
/// Knobs that shape a task (`latency`, `in_progress_polls`, `failure_rate`,
/// `failure_message`, `fail_without_detail`, `images_per_task`,
/// `succeed_with_empty_outputs`, `task_id_as_number`, `running_status`) are read when the
/// task is submitted, so changing them affects later tasks only. All other knobs are read
/// when a request arrives.
#[derive(Clone, Debug)]
pub struct ModelScopeConfig {
    /// Bearer tokens the service accepts. `None` accepts any non-empty token, which is
    /// what most tests want; `Some` lets a test check how a client reports a wrong token
    /// (401, contract 12.2).
    pub valid_tokens: Option<Vec<String>>,
    /// A task stays in progress until this much time has passed since its submit. Real
    /// tasks take 10 s to minutes (contract 3.3); the default of zero keeps tests fast.
    pub latency: Duration,
    /// How many in-progress answers a task gives before its terminal one: `PENDING`
    /// first, then `PROCESSING` (or `RUNNING`). A task turns terminal only once both this
    /// many in-progress polls were answered and `latency` has passed (contract 12.7, 12.15).
    pub in_progress_polls: u32,
    /// Fraction (0.0..=1.0) of tasks that end `FAILED` instead of `SUCCEED`.
    pub failure_rate: f64,
    /// `errors.message` of a `FAILED` task (contract 3.2).
    pub failure_message: String,
    /// `FAILED` answers are just `{"task_status":"FAILED"}`, as in one real capture
    /// (contract 12.9).
    pub fail_without_detail: bool,
    /// The next N submits answer 429; counts down as they are answered (contract 12.10).
    pub reject_next_submits: u32,
    /// The next N submits answer 500 with a non-JSON gateway body; counts down
    /// (contract 12.14).
    pub fail_next_submits_500: u32,
    /// The next N polls answer 500 with a non-JSON gateway body; counts down
    /// (contract 12.14).
    pub fail_next_polls_500: u32,
    /// Fraction (0.0..=1.0) of submits answered 429 at random, as a throttled service does.
    pub rate_limit_429_rate: f64,
    /// If set, 429 answers carry `Retry-After: <secs>`. Whether the real service sends it
    /// is unknown (contract 5.3), so it is off by default.
    pub retry_after: Option<u64>,
    /// Accepted submits allowed per token; once used up, submits answer 429 with the
    /// remaining headers at 0 (contract 5.3, 6).
    pub daily_limit_per_token: u32,
    /// Accepted submits allowed per token and model (contract 6).
    pub daily_limit_per_model: u32,
    /// Image URLs in a successful task's `output_images`. The real service gives exactly
    /// one; more lets a test check that a client keeps all of them, each a distinct image.
    pub images_per_task: usize,
    /// `SUCCEED` answers carry `"output_images": []`, which a client must treat as a
    /// failure (contract 3.2).
    pub succeed_with_empty_outputs: bool,
    /// The submit answer carries `task_id` as a JSON number instead of a string
    /// (contract 2.5: a tolerant client accepts both).
    pub task_id_as_number: bool,
    /// A poll without `X-ModelScope-Task-Type: image_generation` answers 404 "task not
    /// found". This is an assumption: what the real service does is unknown
    /// (contract 12.12). Off by default: the poll is answered normally and the missing
    /// header can be seen in [`requests`](super::ModelScopeSim::requests).
    pub strict_task_type: bool,
    /// A submit without `X-ModelScope-Async-Mode: true` answers the pre-2025 synchronous
    /// 200 shape (`{"images":[{"url":…}]}`) instead of today's 400 (contract 4).
    pub legacy_sync: bool,
    /// If set, other model ids answer 404, as for a retired model (contract 10).
    pub known_models: Option<Vec<String>>,
    /// Delay before an image download answer starts, to test download timeouts.
    pub download_delay: Duration,
    /// The image answer announces its full `Content-Length`, then the connection is
    /// dropped after this many body bytes: the client must see a body error, not a
    /// truncated image.
    pub download_abort_after: Option<usize>,
    /// The image route answers 200 `text/html`, as a captive portal or an error page
    /// would; a client must check the content type (contract 7).
    pub download_html: bool,
    /// The image route answers 404, as for an expired storage URL (contract 7).
    pub download_404: bool,
    /// Delay before each poll answer, to test a slow API and client timeouts.
    pub poll_delay: Duration,
    /// In-progress answers after the first say `RUNNING` instead of `PROCESSING`, a
    /// status some sources report (contract 3.2, 12.7).
    pub running_status: bool,
    /// Hostile or broken service: in-progress poll answers carry a `padding` string of this
    /// many bytes, streamed (the simulator never holds it), to test a client's answer bound.
    pub poll_padding: usize,
    /// Hostile or broken service: in-progress polls report this `task_status` instead of
    /// PENDING/PROCESSING, one the contract does not list.
    pub unknown_status: Option<String>,
    /// The storage bucket answers these bytes (`image/png`) for every image instead of the
    /// drawn picture: what a hostile server could send, e.g. a decompression bomb.
    pub download_body: Option<bytes::Bytes>,
    /// Keep every request for [`requests`](super::ModelScopeSim::requests). On by
    /// default; a long-running simulator process (benchmarks) turns it off so memory
    /// stays flat.
    pub record_requests: bool,
}

impl Default for ModelScopeConfig {
    fn default() -> Self {
        Self {
            valid_tokens: None,
            latency: Duration::ZERO,
            in_progress_polls: 2,
            failure_rate: 0.0,
            failure_message: "Model inference failed: Out of memory".to_owned(),
            fail_without_detail: false,
            reject_next_submits: 0,
            fail_next_submits_500: 0,
            fail_next_polls_500: 0,
            rate_limit_429_rate: 0.0,
            retry_after: None,
            daily_limit_per_token: 2000,
            daily_limit_per_model: 500,
            images_per_task: 1,
            succeed_with_empty_outputs: false,
            task_id_as_number: false,
            strict_task_type: false,
            legacy_sync: false,
            known_models: None,
            download_delay: Duration::ZERO,
            download_abort_after: None,
            poll_padding: 0,
            unknown_status: None,
            download_body: None,
            download_html: false,
            download_404: false,
            poll_delay: Duration::ZERO,
            running_status: false,
            record_requests: true,
        }
    }
}
