//! The database URL: parsed once, shown without its password, and connected with TLS when
//! the URL's `sslmode` asks for it (rustls with the platform's roots, as the HTTP clients).

use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::jobs::StoreError;

/// How long connecting may take before a call fails (the database is down or unreachable).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A statement that runs longer than this is stopped by the server: a call never hangs.
const STATEMENT_TIMEOUT_MS: u64 = 15_000;

/// Where the jobs are kept, parsed from `jobs.database_url` / `EASEL_DATABASE_URL`.
#[derive(Clone)]
pub(crate) struct Target {
    config: Config,
    shown: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let mut config: Config = url.parse().map_err(|e| {
            StoreError(format!(
                "jobs.database_url / EASEL_DATABASE_URL is not a PostgreSQL URL ({e}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("easel");
        }
        let options = config.get_options().unwrap_or("").to_string();
        config.options(format!("{options} -c statement_timeout={STATEMENT_TIMEOUT_MS}").trim());
        let shown = show(&config);
        Ok(Target { config, shown })
    }

    /// The URL without its password, for messages and logs.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// A new connection. Its error names the store and never the password.
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        let tls = crate::backend::http::tls_config().map_err(|e| self.error("TLS set-up", &e))?;
        let mut tls = tls;
        tls.alpn_protocols.clear();
        self.config
            .connect(MakeRustlsConnect::new(tls))
            .map_err(|e| self.unreachable(&e))
    }

    /// An error of this store, worded for the person who has to act on it.
    pub(crate) fn error(&self, doing: &str, e: &dyn std::fmt::Display) -> StoreError {
        StoreError(format!(
            "job store {} (PostgreSQL): {doing}: {e}",
            self.shown
        ))
    }

    /// A statement the database refused, in the database's own words (the client's error
    /// alone says only "db error").
    pub(crate) fn refused(&self, e: &postgres::Error) -> StoreError {
        self.error("statement failed", &with_causes(e))
    }

    pub(crate) fn unreachable(&self, e: &postgres::Error) -> StoreError {
        StoreError(format!(
            "job store {} (PostgreSQL) is unreachable: {}. Check that the database runs and accepts connections from here; easel connects again by itself once it does",
            self.shown,
            with_causes(e)
        ))
    }
}

/// The error and what caused it ("error connecting to server: Connection refused"): the
/// client's own message alone does not say which.
fn with_causes(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// `postgres://user@host:port/db`: everything a person needs to find the store, nothing secret.
fn show(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, p)| match h {
            Host::Tcp(h) => format!("{h}:{p}"),
            Host::Unix(path) => format!("{}:{p}", path.display()),
        })
        .collect();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_url_never_has_the_password() {
        let t = Target::parse("postgres://easel:s3cret-pw@db.example:6543/jobs?sslmode=require")
            .expect("parses");
        assert_eq!(t.shown(), "postgres://easel@db.example:6543/jobs");
        let e = Target::parse("mysql://root:hunter2@x/y")
            .err()
            .expect("refused");
        assert!(!e.0.contains("hunter2"), "{}", e.0);
        assert!(e.0.contains("EASEL_DATABASE_URL"), "{}", e.0);
    }
}
