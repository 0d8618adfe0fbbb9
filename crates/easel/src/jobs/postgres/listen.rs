//! LISTEN on the jobs channel: the ids of jobs any replica changed, as the database commits
//! them, on a broadcast that `Jobs::follow` and the gallery wait on. One connection on its
//! own thread; when it breaks, it connects again and sends "" (anything may have changed
//! meanwhile, read the store again). The thread ends once the store is dropped.

use std::sync::Weak;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use tokio::sync::broadcast;

use super::schema::CHANNEL;
use super::url::Target;
use crate::jobs::store::Changed;

/// How often the thread looks whether its store is still there.
const TICK: Duration = Duration::from_secs(1);
/// Wait between attempts while the database is away.
const RETRY: Duration = Duration::from_millis(500);

/// Starts the listener; `ready` hears once it listens (so changes from then on are told).
pub(crate) fn spawn(
    target: Target,
    tx: Weak<broadcast::Sender<Changed>>,
    ready: std::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("easel-pg-listen".into())
        .spawn(move || run(target, tx, ready))
        .map(|_| ())
}

fn run(target: Target, tx: Weak<broadcast::Sender<Changed>>, ready: std::sync::mpsc::Sender<()>) {
    let mut first = true;
    loop {
        let mut client = match target.connect().and_then(|mut c| {
            match c.batch_execute(&format!("LISTEN {CHANNEL}")) {
                Ok(()) => Ok(c),
                Err(e) => Err(target.unreachable(&e)),
            }
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "job store notifications: cannot listen yet");
                if tx.strong_count() == 0 {
                    return;
                }
                std::thread::sleep(RETRY);
                continue;
            }
        };
        let _ = ready.send(());
        if !first {
            tracing::info!(store = target.shown(), "listening to the job store again");
            match tx.upgrade() {
                Some(tx) => {
                    let _ = tx.send(Changed::anything());
                }
                None => return,
            }
        }
        first = false;
        loop {
            let next = client.notifications().timeout_iter(TICK).next();
            let Some(tx) = tx.upgrade() else { return };
            match next {
                Ok(Some(n)) => {
                    let _ = tx.send(Changed::parse(n.payload()));
                }
                Ok(None) => {
                    if client.is_closed() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(store = target.shown(), error = %e, "job store notifications stopped; listening again");
                    break;
                }
            }
        }
    }
}
