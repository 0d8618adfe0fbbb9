//! `easel serve --http`: Streamable HTTP at `/mcp`, legacy HTTP+SSE at `/sse` +
//! `/messages`, `GET /healthz`, and the gallery at `/` (see `crate::gallery`), in one axum
//! app.
//!
//! Every MCP route passes, outermost first: the Host/Origin check ([`guard`]), the bearer
//! token when one is configured ([`auth`]), then the size and concurrency limits
//! ([`limits`]), then the JSON-RPC check ([`jsonrpc`]). `/healthz` passes none of them: it is for load balancers and tests.
//!
//! [`guard`]: super::guard
//! [`auth`]: super::auth
//! [`limits`]: super::limits
//! [`jsonrpc`]: super::jsonrpc

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::auth::{self, Bearer};
use super::conn::{self, Connections};
use super::fdlimit;
use super::guard::{self, Guard};
use super::jsonrpc;
use super::limits::{self, CappedSessions, Limits};
use super::shutdown;
use super::sse::{self, SseState};
use crate::config::{Config, HttpSettings, Source};
use crate::gallery::{Gallery, GalleryOptions};
use crate::jobs::Jobs;
use crate::service::EaselServer;

/// Shorter tokens are refused: a token is all that stands between the network and the tools.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why HTTP serving did not start; each names what to change.
#[derive(Debug, thiserror::Error)]
pub enum HttpStartError {
    #[error(
        "refusing to serve MCP on {bind} without a bearer token: anyone who can reach that address could run easel's tools and read its images. Set EASEL_HTTP_TOKEN (or token in the [http] section of the configuration file) to a long random secret, e.g. the output of `openssl rand -hex 32`, or bind to a loopback address such as 127.0.0.1:8765."
    )]
    ExposedWithoutToken { bind: SocketAddr },
    #[error(
        "the HTTP bearer token (from {origin}) has {chars} characters; use at least {MIN_TOKEN_CHARS}, e.g. the output of `openssl rand -hex 32`, in EASEL_HTTP_TOKEN or token in the [http] section"
    )]
    WeakToken { origin: Source, chars: usize },
    #[error(
        "cannot listen on {bind}: {error}. Choose another address with --http ADDR, EASEL_HTTP_BIND or bind in the [http] section."
    )]
    Bind {
        bind: SocketAddr,
        error: std::io::Error,
    },
}

/// Refuses settings that would expose the tools: a non-loopback address needs a token, and
/// a token must not be guessable.
pub fn check_exposure(settings: &HttpSettings, config: &Config) -> Result<(), HttpStartError> {
    use secrecy::ExposeSecret;
    match &settings.token {
        None if !settings.bind.ip().is_loopback() => Err(HttpStartError::ExposedWithoutToken {
            bind: settings.bind,
        }),
        Some(token) if token.expose_secret().chars().count() < MIN_TOKEN_CHARS => {
            Err(HttpStartError::WeakToken {
                origin: config
                    .settings
                    .iter()
                    .find(|s| s.key == "http.token")
                    .map_or(Source::Default, |s| s.source.clone()),
                chars: token.expose_secret().chars().count(),
            })
        }
        _ => Ok(()),
    }
}

/// The axum app without the gallery (see [`app_with`]).
pub fn app(
    server: EaselServer,
    settings: &HttpSettings,
    bound: SocketAddr,
    shutdown: CancellationToken,
) -> Router {
    app_with(server, None, settings, bound, shutdown)
}

/// The axum app: MCP, and the gallery when given. `bound` is the address actually listened
/// on (its IP joins the allowed Host names); cancelling `shutdown` ends every session and
/// stream. The gallery passes the Host/Origin guard like MCP and does its own sign-in
/// (session cookie or bearer token, see `gallery`), so that a browser never needs the
/// token after signing in.
pub fn app_with(
    server: EaselServer,
    gallery: Option<Arc<Gallery>>,
    settings: &HttpSettings,
    bound: SocketAddr,
    shutdown: CancellationToken,
) -> Router {
    let limits = Arc::new(Limits::new(
        settings.max_sessions,
        settings.max_requests_per_session,
        settings.max_body_bytes,
        !settings.stateless,
    ));
    let guard = Arc::new(Guard::new(settings, bound));

    let mut manager = LocalSessionManager::default();
    // Sessions whose client vanished without DELETE end after this long without activity.
    manager.session_config.keep_alive = Some(settings.session_idle);
    let sessions = Arc::new(CappedSessions::new(
        manager,
        limits.slots(),
        settings.max_sessions,
    ));
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_legacy_session_mode(!settings.stateless)
        .with_json_response(settings.stateless)
        .with_max_request_body_bytes(settings.max_body_bytes);
    config = match guard.rmcp_hosts() {
        Some(hosts) => config.with_allowed_hosts(hosts.iter().cloned()),
        None => config.disable_allowed_hosts(),
    };
    config = match guard.rmcp_origins() {
        Some(origins) => config.with_allowed_origins(origins.iter().cloned()),
        None => config.disable_allowed_origins(),
    };
    // Stateless serving calls the factory per request: clone the one server (its job store
    // and clients are shared), never build a new one.
    let per_session = server.clone();
    let health_store = server.jobs().store().clone();
    let mcp = StreamableHttpService::new(move || Ok(per_session.clone()), sessions.clone(), config);
    let sse = Arc::new(SseState::new(server, limits.clone(), shutdown.clone()));

    let mut routes = Router::new()
        .nest_service("/mcp", mcp)
        // Inside the limits: only admitted requests are parsed.
        .layer(from_fn_with_state(settings.max_body_bytes, jsonrpc::mcp))
        .layer(from_fn_with_state(limits, limits::mcp))
        .merge(sse::routes(sse.clone()));
    if let Some(token) = &settings.token {
        routes = routes.layer(from_fn_with_state(
            Arc::new(Bearer::new(token.clone())),
            auth::require,
        ));
    }
    if let Some(gallery) = gallery {
        routes = routes.merge(crate::gallery::routes(gallery));
    }
    routes = routes.layer(from_fn_with_state(guard, guard::check));

    // Added after the layers, so it passes none of them.
    // A replica whose job store does not answer cannot serve: 503 takes it out of a load
    // balancer until the store is back.
    let store = health_store;
    let health = move || {
        let (shutdown, sse, sessions, store) = (
            shutdown.clone(),
            sse.clone(),
            sessions.clone(),
            store.clone(),
        );
        async move {
            let stopping = shutdown.is_cancelled();
            let kind = store.kind();
            let reached = tokio::time::timeout(
                STORE_CHECK,
                tokio::task::spawn_blocking(move || store.ping()),
            )
            .await;
            let problem = match reached {
                Ok(Ok(Ok(()))) => None,
                Ok(Ok(Err(e))) => Some(e.to_string()),
                Ok(Err(_)) => Some("the check stopped".to_string()),
                Err(_) => Some(format!("no answer within {} s", STORE_CHECK.as_secs())),
            };
            let mut store_json = json!({ "kind": kind, "reachable": problem.is_none() });
            if let Some(p) = &problem {
                store_json["error"] = json!(p);
            }
            let status_text = match (stopping, &problem) {
                (true, _) => "stopping",
                (false, Some(_)) => "store unreachable",
                (false, None) => "ok",
            };
            let body = json!({
                "status": status_text,
                "version": env!("CARGO_PKG_VERSION"),
                "sse_sessions": sse.count(),
                "http_sessions": sessions.count(),
                "store": store_json,
            });
            let status = if stopping || problem.is_some() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (status, Json(body)).into_response()
        }
    };
    routes.route("/healthz", get(health))
}

/// How long `/healthz` waits for the job store to answer.
const STORE_CHECK: Duration = Duration::from_secs(3);

/// Serves `app` until `shutdown` is cancelled, then lets open requests finish for up to
/// `grace` before giving up on them. Connections are bounded by `connections` (see
/// [`conn`](super::conn)).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    connections: Connections,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let stopped = shutdown.clone();
    tokio::select! {
        () = conn::serve(listener, app, connections, shutdown) => Ok(()),
        _ = async {
            stopped.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "connections still open after the grace period; closing them");
            Ok(())
        }
    }
}

/// `easel serve --http`: checks, listens, serves until SIGINT/SIGTERM, then waits (bounded)
/// for jobs that are mid-submit or mid-save. Other jobs stay in the store and resume when an
/// easel serves this data dir again.
pub async fn run(
    config: &Config,
    settings: HttpSettings,
    server: EaselServer,
    jobs: Jobs,
    gallery: GalleryOptions,
) -> anyhow::Result<()> {
    run_announcing(config, settings, server, jobs, gallery, |bound| {
        format!("easel http://{bound}")
    })
    .await
}

/// [`run`], with the one stdout line once listening made by `announce` from the bound
/// address (`easel gallery` prints the page's URL and opens it).
pub async fn run_announcing(
    config: &Config,
    settings: HttpSettings,
    server: EaselServer,
    jobs: Jobs,
    gallery: GalleryOptions,
    announce: impl FnOnce(SocketAddr) -> String,
) -> anyhow::Result<()> {
    check_exposure(&settings, config)?;
    let listener =
        TcpListener::bind(settings.bind)
            .await
            .map_err(|error| HttpStartError::Bind {
                bind: settings.bind,
                error,
            })?;
    let bound = listener.local_addr()?;
    let files = fdlimit::raise();
    let connections = Connections::new(
        &settings,
        fdlimit::connection_cap(settings.max_connections, files),
    );
    let shutdown_token = CancellationToken::new();
    let gallery = Arc::new(Gallery::new(jobs.clone(), gallery, shutdown_token.clone()));
    let app = app_with(
        server,
        Some(gallery),
        &settings,
        bound,
        shutdown_token.clone(),
    );
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        mcp = %format!("http://{bound}/mcp"),
        sse = %format!("http://{bound}/sse"),
        gallery = %format!("http://{bound}/"),
        auth = if settings.token.is_some() { "bearer token" } else { "none (loopback only)" },
        stateless = settings.stateless,
        "easel serving MCP over HTTP"
    );
    tracing::info!(
        max_connections = connections.cap,
        configured = settings.max_connections,
        file_limit = files.map(|f| f.soft),
        raised_from = files.and_then(|f| f.raised_from),
        header_timeout_secs = connections.header_timeout.as_secs(),
        idle_timeout_secs = connections.idle_timeout.as_secs(),
        "connection limits"
    );
    if connections.cap < settings.max_connections {
        tracing::warn!(
            max_connections = connections.cap,
            configured = settings.max_connections,
            "http.max_connections lowered to fit the file limit, keeping descriptors for jobs; raise the limit (ulimit -n) to allow more"
        );
    }
    // One line on stdout for scripts that start easel on port 0 and need the address; a
    // closed stdout must not stop the server.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", announce(bound)).and_then(|()| out.flush());
    }
    shutdown::on_signal(shutdown_token.clone());
    serve(
        listener,
        app,
        connections,
        shutdown_token,
        settings.shutdown_grace,
    )
    .await?;
    let left = jobs.settle(settings.shutdown_grace).await;
    if left > 0 {
        tracing::warn!(
            jobs = left,
            "exiting while jobs are still submitting or saving"
        );
    }
    tracing::info!("easel stopped; unfinished jobs resume when easel serves this data dir again");
    Ok(())
}
