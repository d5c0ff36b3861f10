//! The lines Lambda writes around each invocation (`START`, `END`, `REPORT`) and the
//! error payloads the init produces itself (timeout, runtime exit, bad entry point).

use std::time::Duration;

use serde_json::json;

pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}\n")
}

pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}\n")
}

/// `REPORT` line in Lambda's format. Memory is the configured size (not enforced);
/// `max_used_mb` is the bootstrap's peak resident set size when known.
pub fn report_line(
    request_id: &str,
    duration: Duration,
    memory_mb: u32,
    max_used_mb: Option<u64>,
    init_duration: Option<Duration>,
) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    let billed = (ms.ceil() as u64).max(1);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_mb} MB\t"
    );
    if let Some(used) = max_used_mb {
        line.push_str(&format!("Max Memory Used: {used} MB\t"));
    }
    if let Some(init) = init_duration {
        line.push_str(&format!(
            "Init Duration: {:.2} ms\t",
            init.as_secs_f64() * 1000.0
        ));
    }
    line.push('\n');
    line
}

/// The message Lambda logs and returns when an invocation exceeds the timeout.
pub fn timeout_message(request_id: &str, timeout: Duration, now_utc: &str) -> String {
    format!(
        "{now_utc} {request_id} Task timed out after {}.00 seconds",
        timeout.as_secs()
    )
}

pub fn timeout_error(message: &str) -> serde_json::Value {
    json!({ "errorMessage": message, "errorType": "Sandbox.Timedout" })
}

/// The bootstrap exited (crashed, or returned) while an invocation was pending.
pub fn exit_error(request_id: &str, status: &str) -> serde_json::Value {
    json!({
        "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
        "errorType": "Runtime.ExitError",
    })
}

/// The bootstrap could not be started at all (missing, not executable, ...).
pub fn entrypoint_error(path: &str, reason: &str) -> serde_json::Value {
    json!({
        "errorMessage": format!("Couldn't start the function's bootstrap {path}: {reason}"),
        "errorType": "Runtime.InvalidEntrypoint",
    })
}

/// Turns what a runtime posted to `/error` into Lambda's error shape: JSON bodies are
/// kept, anything else becomes the message (type from the error-type header).
pub fn function_error(body: &[u8], error_type_header: Option<&str>) -> Vec<u8> {
    if serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object()) {
        return body.to_vec();
    }
    json!({
        "errorMessage": String::from_utf8_lossy(body),
        "errorType": error_type_header.unwrap_or("Unhandled"),
    })
    .to_string()
    .into_bytes()
}

/// Peak resident set size of a process in MB (from `/proc/<pid>/status`, `VmHWM`).
pub fn peak_rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm_mb(&status)
}

fn parse_vm_hwm_mb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_has_lambda_fields_and_init_duration_only_when_given() {
        let warm = report_line("r1", Duration::from_micros(1_500), 512, Some(12), None);
        assert_eq!(
            warm,
            "REPORT RequestId: r1\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 512 MB\tMax Memory Used: 12 MB\t\n"
        );
        let cold = report_line(
            "r2",
            Duration::from_millis(3),
            128,
            None,
            Some(Duration::from_millis(40)),
        );
        assert!(cold.contains("Init Duration: 40.00 ms"), "{cold}");
        assert!(!cold.contains("Max Memory Used"), "{cold}");
    }

    #[test]
    fn timeout_message_matches_lambda_wording() {
        assert_eq!(
            timeout_message("abc", Duration::from_secs(3), "2026-01-01T00:00:00Z"),
            "2026-01-01T00:00:00Z abc Task timed out after 3.00 seconds"
        );
    }

    #[test]
    fn non_json_error_body_becomes_message_with_header_type() {
        let out = function_error(b"boom", Some("Custom.Error"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["errorMessage"], "boom");
        assert_eq!(v["errorType"], "Custom.Error");
        let kept = function_error(br#"{"errorType":"X","errorMessage":"y"}"#, None);
        assert_eq!(kept, br#"{"errorType":"X","errorMessage":"y"}"#);
    }

    #[test]
    fn vm_hwm_is_rounded_up_to_megabytes() {
        assert_eq!(parse_vm_hwm_mb("Name:\tx\nVmHWM:\t    1025 kB\n"), Some(2));
        assert_eq!(parse_vm_hwm_mb("Name:\tx\n"), None);
    }
}
