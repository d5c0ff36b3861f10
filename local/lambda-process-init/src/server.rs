//! The two HTTP faces of the init and the bootstrap process between them.
//!
//! LocalStack side (the contract of LocalStack's executor endpoint,
//! `localstack/services/lambda_/invocation/executor_endpoint.py`):
//! * we listen on `LAMBDA_PROCESS_INIT_INVOKE_ADDR` for `POST /invoke`
//!   (`{"invoke-id", "invoked-function-arn", "payload", "trace-id"}`), answer `200 OK`
//!   at once and run the invocation in the background;
//! * when the bootstrap first asks for work we `POST <endpoint>/status/<id>/ready`;
//!   if it fails to start we `POST <endpoint>/status/<id>/error`;
//! * after each invocation we `POST <endpoint>/invocations/<req>/logs` (`{"logs": ...}`,
//!   the function's stdout/stderr with `START`/`END`/`REPORT`), then
//!   `.../invocations/<req>/response` or `.../invocations/<req>/error`.
//!
//! Function side: the Lambda Runtime API (`/2018-06-01/runtime/...`) on an ephemeral
//! 127.0.0.1 port, passed to the bootstrap as `AWS_LAMBDA_RUNTIME_API`.
//!
//! The init runs on a single-threaded Tokio runtime; the log barrier in
//! [`Shared::wait_for_output`] relies on that.

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rustix::process::{Pid, Signal};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::child;
use crate::config::{Config, INIT_ONLY_VARS};
use crate::report;

/// Lambda's synchronous payload limit is 6 MB; LocalStack wraps the payload in JSON.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// How long to wait for a killed bootstrap to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Upper bound on waiting for the bootstrap's last output lines after a response.
const OUTPUT_DRAIN_MAX: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// What LocalStack sends to `/invoke`.
#[derive(Debug, Deserialize)]
struct InvokeRequest {
    #[serde(rename = "invoke-id")]
    invoke_id: String,
    #[serde(rename = "invoked-function-arn")]
    invoked_function_arn: String,
    #[serde(default)]
    payload: String,
    #[serde(rename = "trace-id", default)]
    trace_id: Option<String>,
}

/// One invocation waiting for the bootstrap's `/next`.
#[derive(Debug)]
struct Invocation {
    id: String,
    arn: String,
    trace_id: Option<String>,
    payload: Bytes,
    deadline_ms: u64,
}

enum Outcome {
    Response(Bytes),
    Error(Vec<u8>),
}

struct Pending {
    id: String,
    tx: oneshot::Sender<Outcome>,
}

/// The bootstrap currently running (at most one per environment).
struct Running {
    generation: u64,
    pid: u32,
    spawned_at: Instant,
    /// Spawn to first `/next`; reported once, in the next `REPORT` line.
    init_duration: Option<Duration>,
    init_reported: bool,
    exited: watch::Receiver<bool>,
}

struct Shared {
    cfg: Config,
    http: reqwest::Client,
    runtime_api: SocketAddr,
    child_env: Vec<(String, String)>,
    /// Output of the bootstrap since the last invocation's logs were sent.
    logs: Mutex<String>,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    current: Mutex<Option<Pending>>,
    child: Mutex<Option<Running>>,
    generation: Mutex<u64>,
    /// Copies of the read ends of the bootstrap's stdout/stderr pipes, to count the bytes
    /// not read yet; each tagged with the bootstrap's generation, and dropped by that
    /// bootstrap's reader task when the pipe closes.
    pipes: Mutex<[Option<(u64, OwnedFd)>; 2]>,
    /// `ready` or `error` was sent to LocalStack (each environment reports once).
    startup_reported: AtomicBool,
}

/// Runs the init until SIGTERM/SIGINT: starts the bootstrap, serves both APIs.
///
/// The bootstrap is started through this process's executable (`/proc/self/exe`), whose
/// `main` must call [`child::exec_stage_if_requested`] first.
pub async fn run(cfg: Config) -> Result<(), InitError> {
    let invoke_listener = tokio::net::TcpListener::bind(cfg.invoke_addr)
        .await
        .map_err(|source| InitError::Bind {
            addr: cfg.invoke_addr,
            source,
        })?;
    let runtime_addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let runtime_listener = tokio::net::TcpListener::bind(runtime_addr)
        .await
        .map_err(|source| InitError::Bind {
            addr: runtime_addr,
            source,
        })?;
    let runtime_api = runtime_listener.local_addr().map_err(InitError::Serve)?;

    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(InitError::Client)?;
    let child_env = std::env::vars()
        .filter(|(k, _)| !INIT_ONLY_VARS.contains(&k.as_str()))
        .collect();
    let (queue_tx, queue_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        cfg,
        http,
        runtime_api,
        child_env,
        logs: Mutex::new(String::new()),
        queue_tx,
        queue_rx: tokio::sync::Mutex::new(queue_rx),
        current: Mutex::new(None),
        child: Mutex::new(None),
        generation: Mutex::new(0),
        pipes: Mutex::new([None, None]),
        startup_reported: AtomicBool::new(false),
    });
    tracing::info!(
        invoke = %shared.cfg.invoke_addr,
        runtime_api = %runtime_api,
        bootstrap = %shared.cfg.bootstrap.display(),
        timeout_s = shared.cfg.timeout.as_secs(),
        "lambda-process-init listening"
    );

    let runtime_app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());
    let invoke_app = Router::new()
        .route("/invoke", post(invoke))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared.clone());

    // Init phase: start the bootstrap now, like Lambda does before the first invoke.
    if let Err(err) = shared.ensure_child() {
        tracing::error!(error = %err, "bootstrap could not be started");
        shared
            .report_startup("error", err.to_string().into_bytes())
            .await;
    }

    let runtime_server = axum::serve(runtime_listener, runtime_app);
    let invoke_server = axum::serve(invoke_listener, invoke_app);
    let result = tokio::select! {
        r = runtime_server => r.map_err(InitError::Serve),
        r = invoke_server => r.map_err(InitError::Serve),
        _ = shutdown_signal() => {
            tracing::info!("stopping: killing the bootstrap");
            Ok(())
        }
        _ = parent_gone() => {
            tracing::warn!("LocalStack (our parent) is gone: stopping");
            Ok(())
        }
    };
    shared.kill_child().await;
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// Resolves when the process that started us (LocalStack) has exited: we were
/// re-parented. Polled, because a parent-death signal would follow the LocalStack
/// *thread* that started us, not the process.
async fn parent_gone() {
    let original = std::os::unix::process::parent_id();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if std::os::unix::process::parent_id() != original {
            return;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Shared {
    fn append_log(&self, text: &str) {
        self.logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(text);
    }

    fn take_logs(&self) -> String {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Starts the bootstrap unless one is running.
    fn ensure_child(self: &Arc<Self>) -> Result<(), serde_json::Value> {
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Ok(());
        }
        let generation = {
            let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            *g += 1;
            *g
        };
        // Started through the exec stage, which makes the kernel kill the bootstrap if
        // the init dies (no orphaned functions; see `child`). Its stdin is /dev/null.
        let mut cmd = child::command(&self.cfg.bootstrap);
        cmd.current_dir(&self.cfg.task_root)
            .env_clear()
            .envs(self.child_env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", self.runtime_api.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so a timeout kills everything the bootstrap started.
            .process_group(0);
        let mut child = child::spawn(cmd).map_err(|reason| {
            report::entrypoint_error(&self.cfg.bootstrap.display().to_string(), &reason)
        })?;
        let pid = child.id().unwrap_or(0);
        tracing::info!(pid, generation, "bootstrap started");

        if let Some(out) = child.stdout.take() {
            self.watch_pipe(0, generation, &out);
            tokio::spawn(pump(self.clone(), out, 0, generation));
        }
        if let Some(err) = child.stderr.take() {
            self.watch_pipe(1, generation, &err);
            tokio::spawn(pump(self.clone(), err, 1, generation));
        }
        let (exited_tx, exited_rx) = watch::channel(false);
        *slot = Some(Running {
            generation,
            pid,
            spawned_at: Instant::now(),
            init_duration: None,
            init_reported: false,
            exited: exited_rx,
        });
        drop(slot);

        let shared = self.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => s.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            tracing::info!(pid, %status, "bootstrap exited");
            {
                let mut slot = shared.child.lock().unwrap_or_else(|e| e.into_inner());
                if slot.as_ref().is_some_and(|r| r.generation == generation) {
                    *slot = None;
                }
            }
            let _ = exited_tx.send(true);
            let pending = shared
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(p) = pending {
                let err = report::exit_error(&p.id, &status);
                shared.append_log(&format!(
                    "{}\n",
                    err["errorMessage"].as_str().unwrap_or_default()
                ));
                let _ = p.tx.send(Outcome::Error(err.to_string().into_bytes()));
            } else {
                let err = report::exit_error("-", &status);
                shared
                    .report_startup("error", err.to_string().into_bytes())
                    .await;
            }
        });
        Ok(())
    }

    /// Kills the bootstrap's process group and waits until it is reaped.
    async fn kill_child(&self) {
        let running = {
            let slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
            slot.as_ref().map(|r| (r.pid, r.exited.clone()))
        };
        let Some((pid, mut exited)) = running else {
            return;
        };
        // The bootstrap leads its own process group (same id as its pid).
        if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            if let Err(e) = rustix::process::kill_process_group(group, Signal::KILL) {
                tracing::debug!(pid, error = %e, "cannot kill the bootstrap's process group");
            }
        }
        let _ = tokio::time::timeout(KILL_WAIT, exited.wait_for(|done| *done)).await;
    }

    /// Keeps a copy of the read end of one of the bootstrap's output pipes for
    /// [`Shared::wait_for_output`].
    fn watch_pipe(&self, index: usize, generation: u64, pipe: &impl AsFd) {
        let copy = match pipe.as_fd().try_clone_to_owned() {
            Ok(fd) => Some((generation, fd)),
            Err(e) => {
                // Only the last lines of an invocation's logs may be missed.
                tracing::warn!(error = %e, "cannot watch the bootstrap's output pipe");
                None
            }
        };
        self.pipes.lock().unwrap_or_else(|e| e.into_inner())[index] = copy;
    }

    /// Forgets the pipe copy of `generation` (not a successor's) once its pipe closed.
    fn unwatch_pipe(&self, index: usize, generation: u64) {
        let mut pipes = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        if pipes[index].as_ref().is_some_and(|(g, _)| *g == generation) {
            pipes[index] = None;
        }
    }

    /// Sends `ready`/`error` to LocalStack, once per environment.
    async fn report_startup(&self, status: &str, body: Vec<u8>) {
        if self.startup_reported.swap(true, Ordering::SeqCst) {
            return;
        }
        let url = format!(
            "{}/status/{}/{status}",
            self.cfg.runtime_endpoint, self.cfg.runtime_id
        );
        match self.http.post(&url).body(body).send().await {
            Ok(r) if r.status().is_success() => tracing::info!(%url, "reported {status}"),
            Ok(r) => tracing::warn!(%url, status = %r.status(), "LocalStack refused the status"),
            Err(e) => tracing::error!(%url, error = %e, "cannot reach LocalStack"),
        }
    }

    /// Waits until the reader tasks have consumed everything the bootstrap wrote so far
    /// (both pipes empty), so an invocation's logs include its last lines. Exact on the
    /// current-thread runtime: a reader appends in the same poll that read the bytes.
    async fn wait_for_output(&self) {
        let deadline = Instant::now() + OUTPUT_DRAIN_MAX;
        loop {
            let pending: u64 = self
                .pipes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .flatten()
                .map(|(_, fd)| bytes_in_pipe(fd))
                .sum();
            if pending == 0 || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn post(&self, path: &str, body: Vec<u8>) {
        let url = format!("{}{path}", self.cfg.runtime_endpoint);
        let sent = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(%url, status = %r.status(), "LocalStack refused the post"),
            Err(e) => tracing::error!(%url, error = %e, "cannot reach LocalStack"),
        }
    }

    async fn run_invocation(self: Arc<Self>, req: InvokeRequest) {
        let started = Instant::now();
        let id = req.invoke_id.clone();
        self.append_log(&report::start_line(&id, &self.cfg.function_version));

        let outcome = match self.ensure_child() {
            Err(err) => {
                self.append_log(&format!(
                    "{}\n",
                    err["errorMessage"].as_str().unwrap_or_default()
                ));
                Outcome::Error(err.to_string().into_bytes())
            }
            Ok(()) => {
                let (tx, rx) = oneshot::channel();
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Pending { id: id.clone(), tx });
                let inv = Invocation {
                    id: id.clone(),
                    arn: req.invoked_function_arn,
                    trace_id: req.trace_id,
                    payload: Bytes::from(req.payload),
                    deadline_ms: now_ms() + self.cfg.timeout.as_millis() as u64,
                };
                // The receiver lives as long as `self`: sending cannot fail.
                let _ = self.queue_tx.send(inv);
                match tokio::time::timeout(self.cfg.timeout, rx).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(_)) => {
                        Outcome::Error(report::exit_error(&id, "unknown").to_string().into_bytes())
                    }
                    Err(_) => {
                        self.current
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .take();
                        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
                        let msg = report::timeout_message(&id, self.cfg.timeout, &now);
                        tracing::warn!(request_id = %id, "invocation timed out: killing the bootstrap");
                        self.wait_for_output().await;
                        self.kill_child().await;
                        self.append_log(&format!("{msg}\n"));
                        Outcome::Error(report::timeout_error(&msg).to_string().into_bytes())
                    }
                }
            }
        };
        let duration = started.elapsed();
        self.wait_for_output().await;

        let (max_used, init_duration) = {
            let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_mut() {
                Some(r) => {
                    let init = if r.init_reported {
                        None
                    } else {
                        r.init_duration
                    };
                    if init.is_some() {
                        r.init_reported = true;
                    }
                    (report::peak_rss_mb(r.pid), init)
                }
                None => (None, None),
            }
        };
        self.append_log(&report::end_line(&id));
        self.append_log(&report::report_line(
            &id,
            duration,
            self.cfg.memory_mb,
            max_used,
            init_duration,
        ));
        let logs = serde_json::json!({ "logs": self.take_logs() }).to_string();
        self.post(&format!("/invocations/{id}/logs"), logs.into_bytes())
            .await;
        match outcome {
            Outcome::Response(body) => {
                self.post(&format!("/invocations/{id}/response"), body.to_vec())
                    .await
            }
            Outcome::Error(body) => self.post(&format!("/invocations/{id}/error"), body).await,
        }
    }
}

/// Bytes waiting in a pipe (`FIONREAD`; 0 when they cannot be counted).
fn bytes_in_pipe(pipe: impl AsFd) -> u64 {
    rustix::io::ioctl_fionread(pipe).unwrap_or(0)
}

/// Copies one of the bootstrap's output pipes into the log buffer (and to our stderr,
/// which the executor keeps as the environment's log file).
async fn pump<R: tokio::io::AsyncRead + Unpin>(
    shared: Arc<Shared>,
    mut pipe: R,
    index: usize,
    generation: u64,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                shared.append_log(&text);
                eprint!("{text}");
            }
        }
    }
    shared.unwatch_pipe(index, generation);
}

async fn invoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: InvokeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "malformed invoke request from LocalStack");
            return (
                StatusCode::BAD_REQUEST,
                format!("malformed invoke request: {e}"),
            )
                .into_response();
        }
    };
    tracing::debug!(request_id = %req.invoke_id, "invoke received");
    tokio::spawn(shared.run_invocation(req));
    (StatusCode::OK, "OK").into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    {
        let mut slot = shared.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = slot.as_mut() {
            if r.init_duration.is_none() {
                r.init_duration = Some(r.spawned_at.elapsed());
            }
        }
    }
    let exited = {
        let slot = shared.child.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(|r| r.exited.clone())
    };
    let Some(mut exited) = exited else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    shared.report_startup("ready", Vec::new()).await;
    let mut rx = shared.queue_rx.lock().await;
    loop {
        // Give the queue up if the asking bootstrap dies meanwhile (its successor asks anew).
        let inv = tokio::select! {
            inv = rx.recv() => inv,
            _ = exited.wait_for(|done| *done) => None,
        };
        let Some(inv) = inv else {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        };
        let is_current = shared
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|p| p.id == inv.id);
        if !is_current {
            // Queued for a bootstrap that died before taking it; already answered.
            continue;
        }
        let mut headers = HeaderMap::new();
        let mut set = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        };
        set("lambda-runtime-aws-request-id", &inv.id);
        set("lambda-runtime-deadline-ms", &inv.deadline_ms.to_string());
        set("lambda-runtime-invoked-function-arn", &inv.arn);
        if let Some(t) = &inv.trace_id {
            set("lambda-runtime-trace-id", t);
        }
        set("content-type", "application/json");
        return (StatusCode::OK, headers, inv.payload).into_response();
    }
}

fn invalid_request_id(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({
            "errorMessage": format!("Invalid request ID: {id}"),
            "errorType": "InvalidRequestID",
        })),
    )
        .into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "OK" })),
    )
        .into_response()
}

fn take_pending(shared: &Shared, id: &str) -> Option<Pending> {
    let mut cur = shared.current.lock().unwrap_or_else(|e| e.into_inner());
    if cur.as_ref().is_some_and(|p| p.id == id) {
        cur.take()
    } else {
        None
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match take_pending(&shared, &id) {
        Some(p) => {
            let _ = p.tx.send(Outcome::Response(body));
            accepted()
        }
        None => invalid_request_id(&id),
    }
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = function_error_type(&headers);
    match take_pending(&shared, &id) {
        Some(p) => {
            let _ =
                p.tx.send(Outcome::Error(report::function_error(&body, error_type)));
            accepted()
        }
        None => invalid_request_id(&id),
    }
}

/// The error type a bootstrap reports in `Lambda-Runtime-Function-Error-Type`, if any.
fn function_error_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = function_error_type(&headers);
    let payload = report::function_error(&body, error_type.or(Some("Runtime.InitError")));
    tracing::warn!(body = %String::from_utf8_lossy(&payload), "bootstrap reported an init error");
    shared.append_log(&format!(
        "INIT_REPORT Status: error\t{}\n",
        String::from_utf8_lossy(&payload)
    ));
    // A re-init during an invocation fails that invocation; at start-up, the environment.
    let pending = shared
        .current
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    match pending {
        Some(p) => {
            let _ = p.tx.send(Outcome::Error(payload));
        }
        None => shared.report_startup("error", payload).await,
    }
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_in_pipe_counts_what_is_not_read_yet() {
        let (mut rx, mut tx) = std::io::pipe().unwrap();
        assert_eq!(bytes_in_pipe(&rx), 0);
        tx.write_all(b"hello").unwrap();
        // A copy of the read end (what `Shared` keeps) sees the same pipe.
        let copy = rx.as_fd().try_clone_to_owned().unwrap();
        assert_eq!(bytes_in_pipe(&copy), 5);
        let mut two = [0u8; 2];
        rx.read_exact(&mut two).unwrap();
        assert_eq!(bytes_in_pipe(&copy), 3);
    }
}
