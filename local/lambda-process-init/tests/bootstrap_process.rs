//! The bootstrap as a process: started through the init's exec stage, it dies with the
//! init (parent-death signal), and a bootstrap that cannot be executed is reported as a
//! bad entry point. Runs the real binary; Linux only (like the crate).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lambda_process_init::child::EXEC_STAGE_ARG;

const INIT: &str = env!("CARGO_BIN_EXE_lambda-process-init");

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lambda-process-init-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the init for a function in `task_root`, reporting to `endpoint`.
fn start_init(task_root: &Path, endpoint: &str, extra_env: &[(&str, &str)]) -> Child {
    Command::new(INIT)
        .env("LOCALSTACK_RUNTIME_ENDPOINT", endpoint)
        .env("LOCALSTACK_RUNTIME_ID", "test-env")
        .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")
        .env("LAMBDA_TASK_ROOT", task_root)
        .env("LAMBDA_PROCESS_INIT_INVOKE_ADDR", "127.0.0.1:0")
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the init starts")
}

/// Fields of `/proc/<pid>/stat` after the command name: state, ppid, pgrp, ...
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// Gone, or a zombie waiting for whoever adopted it to reap it.
fn is_dead(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|f| f[0] == "Z" || f[0] == "X")
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bootstrap_is_killed_when_the_init_is_killed() {
    let dir = temp_dir("pdeathsig");
    let pid_file = dir.join("bootstrap.pid");
    let bootstrap = dir.join("bootstrap");
    std::fs::write(
        &bootstrap,
        "#!/bin/sh\necho $$ > \"$TEST_PID_FILE.tmp\"\nmv \"$TEST_PID_FILE.tmp\" \"$TEST_PID_FILE\"\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &bootstrap,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // Nothing listens on the discard port: the init's status posts fail, harmlessly.
    let mut init = start_init(
        &dir,
        "http://127.0.0.1:9",
        &[("TEST_PID_FILE", pid_file.to_str().unwrap())],
    );
    wait_until(
        "the bootstrap wrote its pid",
        Duration::from_secs(20),
        || pid_file.exists(),
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stat = proc_stat(pid).expect("the bootstrap runs");
    assert_eq!(stat[1], init.id().to_string(), "the init is its parent");
    assert_eq!(stat[2], pid.to_string(), "it leads its own process group");

    // SIGKILL: the init runs no clean-up; only the parent-death signal is left.
    init.kill().unwrap();
    init.wait().unwrap();
    let start = Instant::now();
    while !is_dead(pid) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphaned = !is_dead(pid);
    if orphaned {
        // Do not leave it behind for 10 minutes.
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!orphaned, "the bootstrap outlived the killed init");
}

/// Accepts one HTTP request on `listener`, answers 200, returns its path and body.
fn one_request(listener: &TcpListener) -> (String, String) {
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    (path, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn missing_bootstrap_is_reported_as_an_invalid_entrypoint() {
    let dir = temp_dir("missing");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let mut init = start_init(&dir, &endpoint, &[]);
    let (path, body) = one_request(&listener);
    let _ = init.kill();
    let _ = init.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(path, "/status/test-env/error");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errorType"], "Runtime.InvalidEntrypoint", "{body}");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("bootstrap") && message.contains("No such file or directory"),
        "{message}"
    );
}

#[test]
fn exec_stage_reports_a_failed_exec_through_its_stdin() {
    let (mut status_rx, status_tx) = std::io::pipe().unwrap();
    let mut cmd = Command::new(INIT);
    cmd.arg(EXEC_STAGE_ARG)
        .arg(std::process::id().to_string())
        .arg("/nonexistent/bootstrap")
        .stdin(status_tx);
    let mut stage = cmd.spawn().unwrap();
    drop(cmd);
    let mut reason = String::new();
    status_rx.read_to_string(&mut reason).unwrap();
    assert!(reason.contains("No such file or directory"), "{reason}");
    assert_eq!(stage.wait().unwrap().code(), Some(127));
}

#[test]
fn exec_stage_refuses_to_run_for_a_parent_that_is_gone() {
    let (mut status_rx, status_tx) = std::io::pipe().unwrap();
    // Not our pid: as if the init had died before the parent-death signal was armed.
    let mut cmd = Command::new(INIT);
    cmd.arg(EXEC_STAGE_ARG)
        .arg("1")
        .arg("/bin/true")
        .stdin(status_tx);
    let mut stage = cmd.spawn().unwrap();
    drop(cmd);
    let mut reason = String::new();
    status_rx.read_to_string(&mut reason).unwrap();
    assert!(
        reason.contains("exited while the bootstrap was starting"),
        "{reason}"
    );
    assert_eq!(stage.wait().unwrap().code(), Some(127));
}
