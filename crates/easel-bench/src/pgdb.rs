//! A fresh PostgreSQL database per measurement, on the cluster named by `--database-url`
//! (or `EASEL_BENCH_DATABASE_URL`): a URL whose user may create databases, e.g. a throwaway
//! cluster's `postgres://postgres@127.0.0.1:55433/postgres`. Each database is dropped when
//! its guard is, so runs never see each other's jobs and leave the cluster as they found it.
//! The URL's password (if any) is never printed: messages show easel's password-free form.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, bail};

/// The environment variable read when `--database-url` is not given.
pub const ENV: &str = "EASEL_BENCH_DATABASE_URL";

/// A database made for one measurement; dropped (with its connections) on drop.
pub struct FreshDb {
    admin: postgres::Config,
    name: String,
    /// The URL easel and `PgStore::open` get.
    pub url: String,
}

impl FreshDb {
    /// Creates `easel_bench_<pid>_<n>` on the cluster of `admin_url`.
    pub fn create(admin_url: &str) -> anyhow::Result<FreshDb> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let shown = easel::jobs::shown_database_url(admin_url);
        let admin: postgres::Config = admin_url
            .parse()
            .with_context(|| format!("{ENV} / --database-url ({shown}) is not a PostgreSQL URL"))?;
        let name = format!(
            "easel_bench_{}_{}_{}",
            std::process::id(),
            easel::clock::now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = with_database(admin_url, &name)?;
        admin_sql(&admin, format!("CREATE DATABASE {name}"))
            .with_context(|| format!("creating a database on {shown}"))?;
        Ok(FreshDb { admin, name, url })
    }

    /// CPU time so far of the server processes connected to this database, in ms (the
    /// cluster must run on this machine; its shared background processes are not counted).
    pub fn backends_cpu_ms(&self) -> f64 {
        let ticks = crate::procfs::cpu_ticks_matching(&format!(" {} ", self.name));
        ticks as f64 * crate::procfs::tick().as_secs_f64() * 1000.0
    }

    /// The cluster's durability settings, as the figures' detail states them.
    pub fn settings(&self) -> anyhow::Result<serde_json::Value> {
        let admin = self.admin.clone();
        std::thread::spawn(move || -> anyhow::Result<serde_json::Value> {
            let mut client = admin.connect(postgres::NoTls).context("connecting")?;
            let mut out = serde_json::Map::new();
            for name in [
                "fsync",
                "synchronous_commit",
                "wal_sync_method",
                "full_page_writes",
                "shared_buffers",
                "server_version",
            ] {
                let value: String = client.query_one(&format!("SHOW {name}"), &[])?.get(0);
                out.insert(name.to_owned(), value.into());
            }
            Ok(out.into())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the database thread panicked"))?
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = admin_sql(&self.admin, sql) {
            eprintln!("note: could not drop the database {}: {e:#}", self.name);
        }
    }
}

/// Runs one statement on the maintenance database. The blocking client starts a runtime of
/// its own, which must not happen on a thread of the benchmark's: it gets a thread.
fn admin_sql(admin: &postgres::Config, sql: String) -> anyhow::Result<()> {
    let admin = admin.clone();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let mut client = admin.connect(postgres::NoTls).context("connecting")?;
        client.batch_execute(&sql).context("the statement failed")?;
        Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the database thread panicked"))?
}

/// `url` with its database (the path) replaced by `name`, everything else kept.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!(
            "{ENV} / --database-url must be a URL (postgres://user@host:port/db), not key=value settings"
        );
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query
        .split_once('/')
        .map_or(before_query, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        let t = |u: &str| with_database(u, "x").expect("url");
        assert_eq!(t("postgres://p@h:1/postgres"), "postgres://p@h:1/x");
        assert_eq!(t("postgres://p:s@h:1"), "postgres://p:s@h:1/x");
        assert_eq!(
            t("postgresql://p@h/db?sslmode=require"),
            "postgresql://p@h/x?sslmode=require"
        );
        assert!(with_database("host=h user=p", "x").is_err());
    }
}
