//! Who this process is, in a form another easel process can check: is the process that
//! holds a lease (or was writing a temporary file) still alive?
//!
//! A process is named by its host, the kernel boot it runs under, its PID namespace, its
//! PID and its start time. Another process can prove it gone only from the same boot and PID
//! namespace (the same PID numbering): then no live process with that PID and start time
//! means it died, and a reused PID is told apart by its start time. From anywhere else
//! (another machine or container sharing the folder, or a system without `/proc`) nothing
//! is provable, and callers fall back to time (leases, file age).

use std::sync::OnceLock;

/// One process, as recorded with what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessId {
    pub host: String,
    /// The kernel's boot id; empty where unknown.
    pub boot: String,
    /// The PID namespace, e.g. `pid:[4026531836]`; empty where unknown.
    pub pidns: String,
    pub pid: u32,
    /// Start time in clock ticks since boot; 0 where unknown.
    pub start: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> &'static ProcessId {
        static CURRENT: OnceLock<ProcessId> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            ProcessId {
                host: read_trimmed("/proc/sys/kernel/hostname")
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .map(|h| word(&h))
                    .unwrap_or_else(|| "unknown".into()),
                boot: read_trimmed("/proc/sys/kernel/random/boot_id")
                    .map(|b| word(&b))
                    .unwrap_or_default(),
                pidns: std::fs::read_link("/proc/self/ns/pid")
                    .map(|p| word(&p.to_string_lossy()))
                    .unwrap_or_default(),
                pid,
                start: stat(pid).map_or(0, |s| s.start),
            }
        })
    }

    /// `host=… boot=… pidns=… pid=… start=…`, read back by [`ProcessId::parse`].
    pub fn to_text(&self) -> String {
        format!(
            "host={} boot={} pidns={} pid={} start={}",
            self.host, self.boot, self.pidns, self.pid, self.start
        )
    }

    /// The process named in `text` (as written by [`ProcessId::to_text`], possibly after other
    /// words); `None` for text without it, such as leases of older easel versions.
    pub fn parse(text: &str) -> Option<ProcessId> {
        let field = |key: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        };
        Some(ProcessId {
            host: field("host")?.to_string(),
            boot: field("boot")?.to_string(),
            pidns: field("pidns")?.to_string(),
            pid: field("pid")?.parse().ok()?,
            start: field("start")?.parse().ok()?,
        })
    }

    /// A short name for this machine's PID numbering (boot and namespace), for file names.
    pub fn numbering(&self) -> String {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("{}/{}", self.boot, self.pidns).as_bytes(),
        );
        digest.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether this process provably no longer runs: it ran under this boot and PID
    /// namespace, and no live process has its PID and start time. False when unsure.
    pub fn is_gone(&self) -> bool {
        let me = ProcessId::current();
        if self.boot.is_empty() || self.pidns.is_empty() || self.start == 0 {
            return false;
        }
        if self.boot != me.boot || self.pidns != me.pidns {
            return false;
        }
        if self.pid == me.pid {
            return self.start != me.start;
        }
        // Where other users' processes are hidden (`/proc` mounted with `hidepid=2`), a
        // missing entry proves nothing; PID 1 always runs, so its absence shows the hiding.
        if !std::path::Path::new("/proc/1/stat").exists() {
            return false;
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            Ok(text) => parse_stat(&text).is_some_and(|s| s.dead || s.start != self.start),
        }
    }
}

/// Whether the process behind a file name token (see [`ProcessId::numbering`]) is provably
/// gone: `numbering` must be this machine's, then as [`ProcessId::is_gone`].
pub fn gone_by_token(numbering: &str, pid: u32, start: u64) -> bool {
    let me = ProcessId::current();
    if me.boot.is_empty() || me.pidns.is_empty() || numbering != me.numbering() {
        return false;
    }
    ProcessId {
        pid,
        start,
        ..me.clone()
    }
    .is_gone()
}

struct Stat {
    start: u64,
    /// A zombie (killed, not yet reaped by its parent) or dead: it runs no more code.
    dead: bool,
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `/proc/PID/stat`: the command name is in parentheses and may itself hold spaces and
/// parentheses, so fields are counted from the last `)`: state is the 3rd field, start
/// time the 22nd.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        dead: matches!(*fields.first()?, "Z" | "X" | "x"),
        start: fields.get(19)?.parse().ok()?,
    })
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Keeps a value one word, so the text form splits back the same way.
fn word(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_back() {
        let me = ProcessId::current();
        assert_eq!(ProcessId::parse(&me.to_text()).as_ref(), Some(me));
        assert_eq!(
            ProcessId::parse(&format!("easel-1-abc {}", me.to_text())).as_ref(),
            Some(me)
        );
        assert_eq!(ProcessId::parse("easel-123-0123abcd"), None);
    }

    #[test]
    fn stat_is_read_from_after_the_command_name() {
        let line = "42 (a (weird) name) Z 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        let s = parse_stat(line).expect("parsed");
        assert!(s.dead);
        assert_eq!(s.start, 98765);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_is_gone_only_when_provably_so() {
        let me = ProcessId::current();
        assert!(me.start > 0 && !me.boot.is_empty());
        assert!(!me.is_gone(), "this process runs");
        // The same PID with another start time is an earlier process that used it.
        let earlier = ProcessId {
            start: me.start - 1,
            ..me.clone()
        };
        assert!(earlier.is_gone());
        // A child that ran and was reaped is gone; on another machine nothing is provable.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        let start = stat(pid).map_or(1, |s| s.start);
        child.wait().expect("reaped");
        let ended = ProcessId {
            pid,
            start,
            ..me.clone()
        };
        assert!(ended.is_gone());
        assert!(
            !ProcessId {
                boot: "another-machine".into(),
                ..ended.clone()
            }
            .is_gone()
        );
        assert!(gone_by_token(&me.numbering(), pid, start));
        assert!(!gone_by_token("00000000", pid, start));
    }
}
