//! The gallery: a page that shows every job of the store, live, with its images, and the
//! actions people take on them (cancel, run again, a variation, publish). Served by
//! `easel serve --http` next to `/mcp`, and by `easel gallery` on loopback.
//!
//! Rust only; the page is `assets/` (static HTML, JS and CSS, included at build time). The
//! routes and JSON are fixed in docs/GALLERY.md. Every route is behind the HTTP Host/Origin
//! guard; with a token, the API and files need the session cookie (`session`) or the bearer
//! token, and every POST passes the CSRF checks.

mod actions;
mod api;
mod card;
mod error;
mod events;
mod files;
mod pages;
mod query;
mod range;
mod session;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use secrecy::SecretString;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{Job, Jobs};
use crate::outputs::Thumbnails;
use crate::publish::Publishers;

pub use card::{CARD_PROMPT_CHARS, ImageCard, JobCard, JobDetail};
pub use error::ApiError;
pub use pages::CSP;
pub use query::{MAX_LIMIT, MAX_QUERY_BYTES};
pub use session::{COOKIE, CSRF_HEADER, Caller};

/// The folder of the data dir that holds thumbnails.
pub const THUMBNAILS_DIR: &str = "thumbnails";
/// Event streams served at once unless configured otherwise.
pub const DEFAULT_MAX_STREAMS: usize = 32;

/// What the gallery needs besides the jobs.
pub struct GalleryOptions {
    /// The HTTP token; `None` serves everyone who can connect (loopback only).
    pub token: Option<SecretString>,
    /// Where thumbnails are kept (beside the job store).
    pub thumbnails: PathBuf,
    /// Folders besides the output root that publishing may read (as `publish_note`).
    pub input_dirs: Vec<PathBuf>,
    pub publishers: Publishers,
    /// The `easel generate …` line that makes the same job again (given by the CLI, which
    /// owns the argument names).
    pub command: fn(&Job) -> String,
    pub max_streams: usize,
}

impl GalleryOptions {
    /// The options `config` gives, with the publishers of the running app and the CLI's
    /// command line maker.
    pub fn from_config(
        config: &Config,
        publishers: Publishers,
        command: fn(&Job) -> String,
    ) -> GalleryOptions {
        GalleryOptions {
            token: config.http.token.clone(),
            thumbnails: config.data_dir.join(THUMBNAILS_DIR),
            input_dirs: config.input_dirs.clone(),
            publishers,
            command,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }
}

/// The gallery of one easel: shared by every request.
pub struct Gallery {
    jobs: Jobs,
    sessions: session::Sessions,
    thumbs: Thumbnails,
    input_dirs: Vec<PathBuf>,
    publishers: Publishers,
    command: fn(&Job) -> String,
    streams: Arc<Semaphore>,
    max_streams: usize,
    shutdown: CancellationToken,
}

impl Gallery {
    /// `shutdown` ends the event streams.
    pub fn new(jobs: Jobs, options: GalleryOptions, shutdown: CancellationToken) -> Gallery {
        Gallery {
            jobs,
            sessions: session::Sessions::new(options.token),
            thumbs: Thumbnails::new(options.thumbnails),
            input_dirs: options.input_dirs,
            publishers: options.publishers,
            command: options.command,
            streams: Arc::new(Semaphore::new(options.max_streams)),
            max_streams: options.max_streams,
            shutdown,
        }
    }

    /// How many thumbnails this gallery encoded (not read from disk), for tests and benches.
    pub fn thumbnails_made(&self) -> u64 {
        self.thumbs.made()
    }

    /// The caller, or the 401 that says how to sign in.
    fn signed_in(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        self.sessions
            .caller(headers)
            .map_err(|why| ApiError::new(401, why.message()))
    }
}

/// The gallery's routes, each adding the security headers.
pub fn routes(gallery: Arc<Gallery>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/gallery/app.js", get(pages::app_js))
        .route("/gallery/app.css", get(pages::app_css))
        .route("/gallery/login", get(pages::login_form).post(pages::login))
        .route("/gallery/logout", post(pages::logout))
        .route("/gallery/api/session", get(api::session))
        .route("/gallery/api/jobs", get(api::jobs))
        .route("/gallery/api/jobs/{id}", get(api::job))
        .route("/gallery/api/facets", get(api::facets))
        .route("/gallery/api/jobs/{id}/cancel", post(actions::cancel))
        .route("/gallery/api/jobs/{id}/again", post(actions::again))
        .route(
            "/gallery/api/publish/preview",
            post(actions::publish_preview),
        )
        .route("/gallery/api/publish", post(actions::publish))
        .route("/gallery/events", get(events::events))
        .route("/gallery/img/{job_id}/{index}", get(files::image))
        .route("/gallery/thumb/{job_id}/{index}", get(files::thumbnail))
        // Bodies are read whole: bounded before they are (the login form is smaller still).
        .layer(DefaultBodyLimit::max(actions::MAX_BODY_BYTES))
        .layer(from_fn(pages::security_headers))
        .with_state(gallery)
}
