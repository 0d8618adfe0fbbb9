//! A few connections, each owned by its own thread. The `postgres` client drives its
//! connection on a runtime of its own, which must not be started inside easel's tokio
//! runtime: the store's (synchronous) calls hand a closure to one of these threads and wait
//! for its answer, as they wait for SQLite's disk. A connection that broke is dropped and made
//! again on the next call, so easel recovers by itself when the database comes back.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::Client;

use super::url::Target;
use crate::jobs::StoreError;

/// Connections (and threads) per store: calls are short; a few keep a slow one from
/// holding up the rest.
pub(super) const CONNECTIONS: usize = 4;
/// A call that got no answer by then fails (the statement time-out is shorter, so this only
/// fires when a connection hangs below it).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

type Task = Box<dyn FnOnce(&mut Slot) + Send>;

/// After a failed connection, calls fail at once with its error for this long instead of
/// each waiting out a connection attempt of its own: callers wait on these threads from
/// easel's runtime, which must not stall while the database is away.
const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What the pool's connections learn of the database, shared: it is away (or restarted) for
/// every connection alike.
#[derive(Default)]
struct Shared {
    /// The last failure to connect, and until when it answers for new attempts. The pool's,
    /// and over as soon as any connection gets through (one pause per connection went on
    /// failing calls with the outage's error after the database, and /healthz, answered).
    resting: Option<(Instant, String)>,
    /// How often a connection was found broken or could not be made. A connection made
    /// before the latest such news is checked before use: what broke the other (a restart
    /// of the database) broke it too, and a call on it would fail.
    breaks: u64,
}

/// One thread's connection, made when first needed.
pub(crate) struct Slot {
    target: Target,
    client: Option<Client>,
    shared: Arc<Mutex<Shared>>,
    /// `breaks` when this connection was made (or last checked).
    epoch: u64,
    /// When the connection last answered.
    used: Instant,
}

/// A connection idle this long is checked before use: a database restarted meanwhile closed
/// it, and the call would otherwise fail on it instead of on a fresh one.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Slot {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that a connection broke or could not be made.
    fn broke(&self) {
        self.shared().breaks += 1;
    }

    /// Runs `op` on this slot's connection (connecting first if needed). A connection that
    /// failed is dropped, so the next call connects again.
    fn run<T>(
        &mut self,
        op: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let breaks = self.shared().breaks;
        if (self.epoch < breaks || self.used.elapsed() > CHECK_AFTER_IDLE)
            && let Some(client) = self.client.as_mut()
        {
            if client.is_valid(CHECK_TIMEOUT).is_err() {
                self.client = None;
                self.broke();
            }
            self.epoch = breaks;
        }
        if self.client.as_ref().is_none_or(Client::is_closed) {
            if let Some((until, error)) = &self.shared().resting
                && Instant::now() < *until
            {
                return Err(StoreError(error.clone()));
            }
            match self.target.connect() {
                Ok(client) => {
                    self.client = Some(client);
                    self.epoch = {
                        let mut shared = self.shared();
                        shared.resting = None;
                        shared.breaks
                    };
                }
                Err(e) => {
                    let mut shared = self.shared();
                    shared.resting = Some((Instant::now() + REST_AFTER_FAILURE, e.0.clone()));
                    shared.breaks += 1;
                    return Err(e);
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            return Err(self.target.error("connecting", &"no connection"));
        };
        match op(client) {
            Ok(v) => {
                self.used = Instant::now();
                Ok(v)
            }
            Err(e) => {
                let broken = client.is_closed() || e.as_db_error().is_none();
                if broken {
                    self.client = None;
                    self.broke();
                    return Err(self.target.unreachable(&e));
                }
                Err(self.target.refused(&e))
            }
        }
    }
}

pub(crate) struct Pool {
    tasks: Mutex<Sender<Task>>,
    target: Target,
}

impl Pool {
    pub(crate) fn new(target: Target) -> Result<Pool, StoreError> {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(Mutex::new(Shared::default()));
        for i in 0..CONNECTIONS {
            let rx = rx.clone();
            let slot = Slot {
                target: target.clone(),
                client: None,
                shared: shared.clone(),
                epoch: 0,
                used: Instant::now(),
            };
            std::thread::Builder::new()
                .name(format!("easel-pg-{i}"))
                .spawn(move || serve(rx, slot))
                .map_err(|e| target.error("starting its connection threads", &e))?;
        }
        Ok(Pool {
            tasks: Mutex::new(tx),
            target,
        })
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Runs `op` on a pooled connection and waits for its result.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::channel();
        let task: Task = Box::new(move |slot: &mut Slot| {
            let _ = reply.send(slot.run(op));
        });
        let gone = || {
            self.target
                .error("its connection threads stopped", &"restart easel")
        };
        self.tasks
            .lock()
            .map_err(|_| gone())?
            .send(task)
            .map_err(|_| gone())?;
        answer.recv_timeout(CALL_TIMEOUT).map_err(|_| {
            self.target.error(
                "no answer",
                &format!("the call took over {} s", CALL_TIMEOUT.as_secs()),
            )
        })?
    }
}

/// A connection thread: takes the next task until the pool is dropped.
fn serve(tasks: Arc<Mutex<Receiver<Task>>>, mut slot: Slot) {
    loop {
        let next = match tasks.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match next {
            Ok(task) => task(&mut slot),
            Err(_) => return,
        }
    }
}
