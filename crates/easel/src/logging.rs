//! Logs go to stderr through `tracing`: in stdio mode stdout belongs to MCP.

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger. `EASEL_LOG` wins over `RUST_LOG`; `default` applies when
/// neither is set.
pub fn init(default: &str) {
    let filter = std::env::var("EASEL_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// The TLS provider must exist before the first HTTP client is built.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
