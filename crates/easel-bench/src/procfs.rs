//! What `/proc` says about a process: resident memory and CPU time (Linux only).

use std::time::Duration;

/// Resident set size now (`VmRSS`) and its peak so far (`VmHWM`), in KiB, with the
/// current RSS split into anonymous memory (heap, stacks) and mapped files (the binary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub threads: u64,
}

/// Reads `/proc/<pid>/status`; `None` if the process is gone.
pub fn memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(parse_status(&text))
}

fn parse_status(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        anon_kib: field("RssAnon:"),
        file_kib: field("RssFile:"),
        threads: field("Threads:"),
    }
}

/// User plus system CPU time the process used so far (`utime + stime`), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&text)
}

/// The same for this process.
pub fn own_cpu_ticks() -> Option<u64> {
    cpu_ticks(std::process::id())
}

fn parse_stat_cpu(text: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces: count fields
    // after its closing parenthesis. utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU ticks used so far by every process whose command line contains `needle` (e.g. the
/// PostgreSQL backends serving one database: `postgres: user db 127.0.0.1(port) idle`).
pub fn cpu_ticks_matching(needle: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .filter_map(cpu_ticks)
        .sum()
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            let rest = &t[t.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|s| s != "Z" && s != "X")
        })
        .unwrap_or(false)
}

/// The length of one clock tick (`getconf CLK_TCK`, almost always 1/100 s).
pub fn tick() -> Duration {
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|hz| *hz > 0)
        .unwrap_or(100);
    Duration::from_secs(1) / hz as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_status() {
        let text = "Name:\teasel\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   12288 kB\nRssAnon:\t    4096 kB\nRssFile:\t    8192 kB\nThreads:\t4\n";
        assert_eq!(
            parse_status(text),
            Memory {
                rss_kib: 12288,
                hwm_kib: 20480,
                anon_kib: 4096,
                file_kib: 8192,
                threads: 4,
            }
        );
    }

    #[test]
    fn reads_utime_plus_stime_even_with_spaces_in_the_name() {
        let text =
            "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 500 0 0 0 37 5 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat_cpu(text), Some(42));
    }

    #[test]
    fn own_process_is_visible() {
        assert!(alive(std::process::id()));
        assert!(memory(std::process::id()).is_some_and(|m| m.rss_kib > 0));
        assert!(own_cpu_ticks().is_some());
    }
}
