//! The pool's connections when the database comes back after an outage.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::pg_test_database;
use super::pool::{CONNECTIONS, Pool};
use super::url::Target;

/// Forwards every connection made to `listener` to `to`: the database answers again on a
/// port where nothing listened before.
fn forward(listener: TcpListener, to: String) {
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&to) else {
                continue;
            };
            let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            for (mut from, mut into) in [(client, server2), (server, client2)] {
                thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(Shutdown::Write);
                });
            }
        }
    });
}

fn select(pool: &Arc<Pool>, sql: &'static str) -> thread::JoinHandle<Result<(), String>> {
    let pool = pool.clone();
    thread::spawn(move || {
        pool.call(move |c| c.simple_query(sql).map(|_| ()))
            .map_err(|e| e.0)
    })
}

#[test]
fn once_one_connection_gets_through_no_other_repeats_the_outage() {
    let Some(url) = pg_test_database() else {
        return;
    };
    let config: postgres::Config = url.parse().expect("a test URL");
    let real = *config.get_ports().first().expect("the test URL has a port");
    // A port nothing listens on yet: the database is away.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let away = url.replacen(&format!(":{real}/"), &format!(":{port}/"), 1);
    let pool = Arc::new(Pool::new(Target::parse(&away).expect("target")).expect("pool"));
    // One call while the database is away: its connection fails (and rests on the failure).
    let e = select(&pool, "SELECT 1")
        .join()
        .expect("thread")
        .expect_err("the database is away");
    assert!(e.contains("unreachable"), "{e}");

    // It is back; a health check gets through (after the pause that spares a database that
    // is away from a connection attempt per call).
    forward(
        TcpListener::bind(("127.0.0.1", port)).expect("the port again"),
        format!("127.0.0.1:{real}"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while select(&pool, "SELECT 1").join().expect("thread").is_err() {
        assert!(Instant::now() < deadline, "never connected again");
        thread::sleep(Duration::from_millis(10));
    }
    // Every connection answers now (the calls hold theirs a moment, so each takes one):
    // none fails with the error of the outage.
    let calls: Vec<_> = (0..CONNECTIONS)
        .map(|_| select(&pool, "SELECT pg_sleep(0.2)"))
        .collect();
    for c in calls {
        c.join()
            .expect("thread")
            .expect("a call once the database answers again");
    }
}
