//! PostgreSQL for the tests of this binary: a fresh database per test on the throwaway
//! cluster of `scripts/pg-cluster` (its URL in `EASEL_TEST_DATABASE_URL`), and that cluster's
//! control (`EASEL_TEST_PG_CLUSTER`) for the tests that stop and start the server.
//!
//! Every test here that uses PostgreSQL takes its database through [`database`] (or
//! [`database_blocking`] without a runtime), which holds one process-wide turn for as long as
//! the test keeps the [`PgDatabase`]: a test that stops the shared cluster must not pull it
//! from under another test of this binary. The library's own store tests are another test
//! binary, and cargo runs test binaries one after another, never side by side, so they never
//! see the cluster stopped.

use std::path::PathBuf;
use std::process::Command;

use tokio::sync::{Mutex, MutexGuard};

/// One PostgreSQL-using test at a time (tokio's mutex: held across awaits, and a test that
/// fails while holding it does not poison it for the next).
static TURN: Mutex<()> = Mutex::const_new(());

/// A fresh, empty database, and this test's turn on the cluster.
pub struct PgDatabase {
    /// A superuser URL without a password (the cluster trusts loopback connections).
    pub url: String,
    _turn: MutexGuard<'static, ()>,
}

impl PgDatabase {
    /// The database's name (the last segment of the URL).
    pub fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or_default()
    }

    /// The URL with `password` added to its user. The cluster trusts loopback connections,
    /// so the password is never checked: it is there to prove that easel never repeats it.
    pub fn url_with_password(&self, password: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("a URL with a scheme");
        let (user, host) = rest.split_once('@').expect("a URL with a user");
        format!("{scheme}://{user}:{password}@{host}")
    }
}

/// A fresh database, once it is this test's turn; `None` (a note on stderr, the test returns
/// early) when `EASEL_TEST_DATABASE_URL` is unset, except in CI, where that panics.
pub async fn database() -> Option<PgDatabase> {
    let turn = TURN.lock().await;
    // The library's helper blocks while it creates the database: off the runtime's thread.
    let url = tokio::task::spawn_blocking(easel::jobs::pg_test_database)
        .await
        .expect("creating the test database")?;
    Some(PgDatabase { url, _turn: turn })
}

/// [`database`] for a test without a runtime (a plain `#[test]`).
pub fn database_blocking() -> Option<PgDatabase> {
    let turn = TURN.blocking_lock();
    let url = easel::jobs::pg_test_database()?;
    Some(PgDatabase { url, _turn: turn })
}

/// `scripts/pg-cluster`, to stop and start the test cluster.
pub struct Cluster {
    script: PathBuf,
}

/// The cluster's control script from `EASEL_TEST_PG_CLUSTER`; `None` with a note when it is
/// unset, except in CI, where that panics.
pub fn cluster() -> Option<Cluster> {
    match std::env::var_os("EASEL_TEST_PG_CLUSTER") {
        Some(script) if !script.is_empty() => Some(Cluster {
            script: script.into(),
        }),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "EASEL_TEST_PG_CLUSTER must be set in CI (.ci/run exports it from scripts/pg-cluster env)"
            );
            eprintln!(
                "note: EASEL_TEST_PG_CLUSTER is unset, so this test, which stops and starts PostgreSQL, did not run; run `scripts/pg-cluster start` and `eval \"$(scripts/pg-cluster env)\"` first"
            );
            None
        }
    }
}

impl Cluster {
    fn run(&self, what: &str) -> Result<(), String> {
        let script = self.script.display();
        match Command::new(&self.script).arg(what).status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("{script} {what}: {status}")),
            Err(e) => Err(format!("running {script} {what}: {e}")),
        }
    }

    async fn run_off_runtime(&self, what: &'static str) {
        let cluster = Cluster {
            script: self.script.clone(),
        };
        tokio::task::spawn_blocking(move || cluster.run(what))
            .await
            .expect("the cluster script ran")
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stops the server; it starts again when the returned guard is dropped (or on
    /// [`Stopped::start`]), so that a failing test leaves the cluster running for the next.
    pub async fn stop(&self) -> Stopped<'_> {
        self.run_off_runtime("stop").await;
        Stopped {
            cluster: self,
            started: false,
        }
    }
}

/// The cluster while stopped.
pub struct Stopped<'a> {
    cluster: &'a Cluster,
    started: bool,
}

impl Stopped<'_> {
    pub async fn start(mut self) {
        self.started = true;
        self.cluster.run_off_runtime("start").await;
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        // Not a panic: this runs while a failed test unwinds.
        if !self.started
            && let Err(e) = self.cluster.run("start")
        {
            eprintln!("could not start the test cluster again: {e}");
        }
    }
}
