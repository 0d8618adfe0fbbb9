//! Fresh databases for tests: `EASEL_TEST_DATABASE_URL` names a throwaway cluster (a
//! superuser URL; `.ci/run` starts one through `scripts/pg-cluster`), and each test gets a
//! database of its own, so tests run in parallel without seeing each other's jobs.

/// A new, empty database on the test cluster, as a URL; `None` (and a note on stderr) when
/// no cluster is configured. In CI a missing cluster is an error, never a silent skip.
#[doc(hidden)]
// Test support only (no easel path calls it): a configured cluster that does not work must
// stop the test that asked for it, loudly.
#[allow(clippy::expect_used)]
pub fn pg_test_database() -> Option<String> {
    let Ok(base) = std::env::var("EASEL_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "EASEL_TEST_DATABASE_URL must be set in CI (.ci/run starts a cluster through scripts/pg-cluster)"
        );
        eprintln!(
            "note: EASEL_TEST_DATABASE_URL is not set; skipping the PostgreSQL part of this test (scripts/pg-cluster start, then eval \"$(scripts/pg-cluster env)\")"
        );
        return None;
    };
    let name = format!("easel_t_{}", uuid::Uuid::new_v4().simple());
    let mut config: postgres::Config = base
        .parse()
        .expect("EASEL_TEST_DATABASE_URL is a PostgreSQL URL");
    // Creating the database is a blocking client's work; tests may call this from inside a
    // tokio runtime, where that client must not run.
    let create = config.clone();
    let made = std::thread::spawn(move || {
        let mut admin = create
            .connect(postgres::NoTls)
            .expect("connect to EASEL_TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        name
    })
    .join()
    .expect("the test database was made");
    config.dbname(&made);
    Some(url_of(&config))
}

/// The URL of `config` (tests' clusters use trust authentication: no password to carry).
fn url_of(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{user}@{host}:{port}/{db}")
}
