//! What every simulator test needs before it talks HTTP.

/// In a workspace build reqwest is unified with easel's `rustls-no-provider` feature, so a
/// crypto provider must exist before any client is built (even for plain HTTP). Installing is
/// idempotent: the first test to get here installs ring, the others find it there.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
