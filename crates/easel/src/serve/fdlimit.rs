//! The file-descriptor budget of `easel serve --http`.
//!
//! Every TCP connection costs a descriptor, and so does everything a job does: the job
//! store, connections to backends, the files an image is saved through. Unbounded
//! connections let idle clients take them all, after which a paid generation fails to save
//! with "Too many open files". So at start the soft `RLIMIT_NOFILE` is raised to the hard
//! limit, and connections are capped below it, keeping [`RESERVE`] descriptors for the rest.

/// Descriptors kept out of the connection cap for the job store, backend connections and
/// saving (or half the limit, when the limit is too small for that).
pub const RESERVE: u64 = 128;

/// The process's file limit, after [`raise`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The soft limit before it was raised, when it was.
    pub raised_from: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit. `None` when the limit cannot be
/// read (then only the configured cap applies). Failing to raise it is not fatal: the
/// cap is then fitted to the current soft limit.
#[cfg(unix)]
pub fn raise() -> Option<FileLimit> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current?;
    let Some(hard) = limit.maximum else {
        // Unlimited hard limit: raise to a generous finite value the kernel accepts.
        return Some(raise_to(soft, soft.max(1 << 20)));
    };
    if hard <= soft {
        return Some(FileLimit {
            soft,
            raised_from: None,
        });
    }
    match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        },
    ) {
        Ok(()) => Some(FileLimit {
            soft: hard,
            raised_from: Some(soft),
        }),
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "could not raise the file limit; fitting connections to the current one");
            Some(FileLimit {
                soft,
                raised_from: None,
            })
        }
    }
}

#[cfg(unix)]
fn raise_to(soft: u64, target: u64) -> FileLimit {
    use rustix::process::{Resource, Rlimit, setrlimit};
    if target <= soft {
        return FileLimit {
            soft,
            raised_from: None,
        };
    }
    let wanted = Rlimit {
        current: Some(target),
        maximum: None,
    };
    match setrlimit(Resource::Nofile, wanted) {
        Ok(()) => FileLimit {
            soft: target,
            raised_from: Some(soft),
        },
        Err(_) => FileLimit {
            soft,
            raised_from: None,
        },
    }
}

#[cfg(not(unix))]
pub fn raise() -> Option<FileLimit> {
    None
}

/// The connection cap: the configured one, lowered so that connections leave [`RESERVE`]
/// descriptors (at least half the limit) for everything else. Never below one.
pub fn connection_cap(configured: usize, limit: Option<FileLimit>) -> usize {
    let Some(limit) = limit else {
        return configured.max(1);
    };
    let room = limit.soft.saturating_sub(RESERVE).max(limit.soft / 2);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    configured.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(soft: u64) -> Option<FileLimit> {
        Some(FileLimit {
            soft,
            raised_from: None,
        })
    }

    #[test]
    fn the_cap_leaves_a_reserve_below_the_limit() {
        assert_eq!(connection_cap(1024, at(1024)), 1024 - 128);
        assert_eq!(connection_cap(1024, at(1 << 20)), 1024);
        assert_eq!(connection_cap(100, at(1024)), 100);
        // Small limits keep half for the rest.
        assert_eq!(connection_cap(1024, at(128)), 64);
        assert_eq!(connection_cap(1024, at(1)), 1);
        assert_eq!(connection_cap(0, None), 1);
        assert_eq!(connection_cap(7, None), 7);
    }

    #[cfg(unix)]
    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let limit = raise().expect("readable limit");
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(now.current, Some(limit.soft));
    }
}
