//! What the throughput examples share: the CPU time of the calling thread.

/// CPU time of this thread so far, from `/proc/thread-self/stat` (user + system, in the
/// kernel's 100 Hz ticks): unlike wall time it does not count time the thread spent
/// waiting for a core on a busy machine. `None` off Linux.
pub fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
