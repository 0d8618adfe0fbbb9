//! The pool's connections when the database comes back after an outage.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::pg_test_database;
use super::pool::{CONNECTIONS, Pool};
use super::url::Target;

/// Forwards every connection made to `listener` to `to` (the database answers again on a
/// port where nothing listened before); returns the connections it carries, so that a test
/// can cut them as a restart of the database does.
fn forward(listener: TcpListener, to: String) -> Arc<Mutex<Vec<TcpStream>>> {
    let carried = Arc::new(Mutex::new(Vec::new()));
    let list = carried.clone();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&to) else {
                continue;
            };
            let (Ok(client2), Ok(server2), Ok(kept)) =
                (client.try_clone(), server.try_clone(), client.try_clone())
            else {
                continue;
            };
            list.lock().expect("list").push(kept);
            for (mut from, mut into) in [(client, server2), (server, client2)] {
                thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(Shutdown::Write);
                });
            }
        }
    });
    carried
}

/// A free port of 127.0.0.1, nothing listening on it.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `url` (a test database) on `port` instead of its own; and its own port.
fn moved(url: &str, port: u16) -> (String, u16) {
    let config: postgres::Config = url.parse().expect("a test URL");
    let real = *config.get_ports().first().expect("the test URL has a port");
    (
        url.replacen(&format!(":{real}/"), &format!(":{port}/"), 1),
        real,
    )
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
    // A port nothing listens on yet: the database is away.
    let port = free_port();
    let (away, real) = moved(&url, port);
    let pool = Arc::new(Pool::new(Target::parse(&away).expect("target")).expect("pool"));
    // One call while the database is away: its connection fails (and rests on the failure).
    let e = select(&pool, "SELECT 1")
        .join()
        .expect("thread")
        .expect_err("the database is away");
    assert!(e.contains("unreachable"), "{e}");

    // It is back; a health check gets through (after the pause that spares a database that
    // is away from a connection attempt per call).
    let _carried = forward(
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

#[test]
fn once_one_connection_is_found_broken_the_others_are_checked_before_use() {
    let Some(url) = pg_test_database() else {
        return;
    };
    let port = free_port();
    let (through, real) = moved(&url, port);
    let carried = forward(
        TcpListener::bind(("127.0.0.1", port)).expect("the port"),
        format!("127.0.0.1:{real}"),
    );
    let pool = Arc::new(Pool::new(Target::parse(&through).expect("target")).expect("pool"));
    // Every connection made (the calls hold theirs a moment, so each takes one).
    let calls: Vec<_> = (0..CONNECTIONS)
        .map(|_| select(&pool, "SELECT pg_sleep(0.2)"))
        .collect();
    for c in calls {
        c.join().expect("thread").expect("a call");
    }
    assert_eq!(carried.lock().expect("list").len(), CONNECTIONS);

    // The database restarts: every connection is cut. The next call finds its own broken.
    for stream in carried.lock().expect("list").drain(..) {
        let _ = stream.shutdown(Shutdown::Both);
    }
    let e = select(&pool, "SELECT 1")
        .join()
        .expect("thread")
        .expect_err("the connection was cut");
    assert!(e.contains("unreachable"), "{e}");
    // The others were cut alike: each is checked (and made again) instead of failing a call.
    let calls: Vec<_> = (0..CONNECTIONS)
        .map(|_| select(&pool, "SELECT pg_sleep(0.2)"))
        .collect();
    for c in calls {
        c.join()
            .expect("thread")
            .expect("a call after another connection was found broken");
    }
}
