//! The knobs of the xiaohongshu-mcp simulator.
//!
//! The defaults are a healthy, logged-in service that publishes at once; each knob
//! provokes one behaviour of `docs/contracts/xiaohongshu-mcp.md` (section 10).

use std::time::Duration;

/// How the simulated service behaves. Change it at run time with
/// [`XhsSim::update`](super::XhsSim::update); knobs are read when a request arrives.
#[derive(Clone, Debug)]
pub struct XhsConfig {
    /// Bearer token required on every `/api/v1/*` route when set (contract 3).
    pub token: Option<String>,
    /// Whether the account is logged in. `DELETE /api/v1/login/cookies` clears it,
    /// [`XhsSim::scan`](super::XhsSim::scan) sets it.
    pub logged_in: bool,
    /// The nickname `login/status` reports.
    pub username: String,
    /// The user id `login/status` reports.
    pub user_id: String,
    /// How long a publish that passed the quick checks takes (the browser's typing and
    /// uploads; minutes on the real service).
    pub publish_delay: Duration,
    /// A publish while logged out fails after this long with 500 `INTERNAL_ERROR` (the
    /// real service waits up to 300 s for the publish page).
    pub logged_out_delay: Duration,
    /// Publishes end in 500 `PUBLISH_FAILED` "发布未确认成功…" (the page did not navigate
    /// away after the click; contract 5.2 step 13).
    pub unconfirmed: bool,
    /// Publishes answer `200 {"success":true,"message":"发布成功","data":{}}`, without
    /// `status`, as an older or broken build might.
    pub answer_without_status: bool,
    /// Publishes never answer (until the simulator stops), for client timeout tests;
    /// other routes keep working.
    pub hang: bool,
    /// Image N (1-based, among the images that exist) times out while uploading
    /// (contract 5.2 step 5).
    pub upload_timeout_at: Option<usize>,
}

impl Default for XhsConfig {
    fn default() -> Self {
        Self {
            token: None,
            logged_in: true,
            username: "小明".to_owned(),
            user_id: "5f1e2d3c4b5a69788796a5b4".to_owned(),
            publish_delay: Duration::ZERO,
            logged_out_delay: Duration::ZERO,
            unconfirmed: false,
            answer_without_status: false,
            hang: false,
            upload_timeout_at: None,
        }
    }
}
