//! Binding and serving, shared by the simulators that came after the first two: bind a
//! listener, learn the address clients reach it at, and run an axum app in a task until
//! told to stop.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context as _;
use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A bound listener and the address a client on this machine uses to reach it.
pub struct Bound {
    listener: TcpListener,
    /// The bound address, with a wildcard IP replaced by loopback.
    pub addr: SocketAddr,
}

/// Binds `addr` (port 0 picks a free one). `what` names the simulator in errors.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<Bound> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} to {addr}"))?;
    let mut addr = listener.local_addr().context("reading the bound address")?;
    // A wildcard bind is reached through loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(Bound { listener, addr })
}

/// Serves `app` on `bound` in a new task until the returned sender is used or dropped.
pub fn spawn(bound: Bound, app: Router, what: &'static str) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = bound.listener.tap_io(|tcp| {
        // Small answers must not wait for Nagle.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        if let Err(error) = server.await {
            tracing::error!(%error, "{what} stopped");
        }
    });
    stop
}
