//! What the load generator asks of Linux: CPU pinning, the open-files limit,
//! and a process's memory and CPU time from `/proc`.

use anyhow::{Context, bail};
use serde::Serialize;

/// Pins the calling process (every thread it starts afterwards inherits it) to one core.
pub fn pin_self(core: usize) -> anyhow::Result<()> {
    // SAFETY: the set is a plain bitmask on the stack, initialised before use.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            bail!("sched_setaffinity to core {core}: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Cores this process may run on (its affinity mask; std's
/// `available_parallelism` also reads cgroup quotas, and answered 1 here on 2 cores).
pub fn cores() -> usize {
    // SAFETY: the set is a plain bitmask on the stack, filled in by the kernel.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            return (libc::CPU_COUNT(&set) as usize).max(1);
        }
    }
    1
}

/// Raises the soft open-files limit to the hard limit; returns the limit in force.
pub fn raise_open_files_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only touch the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                lim = want;
            }
        }
    }
    lim.rlim_cur
}

/// A process's memory, from `/proc/PID/status` and `/proc/PID/smaps_rollup` (kB).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Memory {
    /// Resident set size (`VmRSS`).
    pub rss_kb: u64,
    /// Anonymous memory (heap, stacks): what connections allocate.
    pub anon_kb: u64,
    /// Proportional set size.
    pub pss_kb: u64,
}

/// Reads the memory of process `pid`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("process {pid} is gone"))?;
    let mut m = Memory { rss_kb: field_kb(&status, "VmRSS:").context("no VmRSS")?, ..Memory::default() };
    if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
        m.anon_kb = field_kb(&rollup, "Anonymous:").unwrap_or(0);
        m.pss_kb = field_kb(&rollup, "Pss:").unwrap_or(0);
    }
    Ok(m)
}

fn field_kb(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces, so split after its ')').
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: u64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0) + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Context switches of every thread of process `pid` so far: (voluntary,
/// involuntary). Involuntary ones mean something else took the core: on a
/// pinned benchmark, other work on the same core.
pub fn context_switches(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return (0, 0) };
    let mut sum = (0, 0);
    for t in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else { continue };
        for line in status.lines() {
            let value = |p: &str| line.strip_prefix(p).and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(v) = value("voluntary_ctxt_switches:") {
                sum.0 += v;
            } else if let Some(v) = value("nonvoluntary_ctxt_switches:") {
                sum.1 += v;
            }
        }
    }
    sum
}

/// Loopback trouble counters, machine-wide: packets the kernel dropped because
/// a CPU's input backlog was full (`/proc/net/softnet_stat`, second column),
/// and TCP segments retransmitted (`/proc/net/snmp`). A drop on loopback costs
/// a retransmission timeout (≥ 200 ms): it shows in the latency tail.
pub fn net_trouble() -> (u64, u64) {
    let drops = std::fs::read_to_string("/proc/net/softnet_stat")
        .map(|s| s.lines().filter_map(|l| l.split_whitespace().nth(1).and_then(|h| u64::from_str_radix(h, 16).ok())).sum())
        .unwrap_or(0);
    let retrans = std::fs::read_to_string("/proc/net/snmp")
        .ok()
        .and_then(|s| {
            let mut tcp = s.lines().filter(|l| l.starts_with("Tcp:"));
            let (names, values) = (tcp.next()?, tcp.next()?);
            let i = names.split_whitespace().position(|n| n == "RetransSegs")?;
            values.split_whitespace().nth(i)?.parse().ok()
        })
        .unwrap_or(0);
    (drops, retrans)
}

/// `net.core.netdev_max_backlog`: how many packets a CPU's input queue holds.
pub fn netdev_max_backlog() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/core/netdev_max_backlog").ok()?.trim().parse().ok()
}
