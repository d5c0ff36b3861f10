//! The HTTP face of the simulator: routes, handlers and the state they share.
//!
//! `GET /current-transactions` is the endpoint the pipeline polls; it answers exactly as
//! the reference API does (a JSON string holding a pandas split frame), and past the rate
//! limit, if one is set, `429 Too Many Requests` with `Retry-After`. The other routes
//! exist for operators and tests: `/health`, `/stats`, and `/faults` to make the next
//! calls misbehave.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fraud_core::api_frame::encode_body;
use serde::Serialize;
use serde_json::json;

use crate::faults::{malform, FaultQueue, FaultResponse, FaultSpec, Malformation};
use crate::limit::{retry_after_secs, CallWindow, RateLimit};
use crate::pace::Pace;
use crate::source::Source;

/// State shared by every handler.
pub(crate) struct Shared {
    state: Mutex<SimState>,
    batch_size: usize,
    rate: f64,
    include_label: bool,
    rate_limit: Option<RateLimit>,
    source_kind: &'static str,
    pace: Pace,
    started: Instant,
}

/// What changes from call to call. One lock keeps a page, the cursor and the counters
/// consistent when calls arrive concurrently.
struct SimState {
    source: Source,
    /// Transactions taken from the source so far; also the frame index of the next row.
    served: u64,
    /// Body of the last page that held transactions, for `duplicate_last`.
    last_page: Option<Bytes>,
    faults: FaultQueue,
    /// Calls admitted within the rate limit's window, when there is a limit.
    limiter: Option<CallWindow>,
    counters: Counters,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Counters {
    /// Calls to `GET /current-transactions`, faulted, rate-limited or not.
    calls: u64,
    /// Calls answered 429 because of the rate limit (they took no payment).
    rate_limited: u64,
    /// Pages served from the source (empty ones included).
    pages: u64,
    empty_pages: u64,
    faults_served: FaultCounters,
}

/// Calls answered with a fault; `total` counts each call once, the others count each
/// effect (a slow 500 counts under `delay` and `status`).
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct FaultCounters {
    total: u64,
    status: u64,
    delay: u64,
    malformed: u64,
    duplicate_last: u64,
}

impl Shared {
    pub(crate) fn new(
        source: Source,
        faults: FaultQueue,
        batch_size: usize,
        rate: f64,
        include_label: bool,
        rate_limit: Option<RateLimit>,
        source_kind: &'static str,
    ) -> Self {
        let started = Instant::now();
        Shared {
            state: Mutex::new(SimState {
                source,
                served: 0,
                last_page: None,
                faults,
                limiter: rate_limit.map(CallWindow::new),
                counters: Counters::default(),
            }),
            batch_size,
            rate,
            include_label,
            rate_limit,
            source_kind,
            pace: Pace::new(rate, started),
            started,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock leaves counters at worst slightly off; keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds the next page. With `take`, its transactions leave the source; without,
    /// they are only shown (a malformed body) and the next call serves them again.
    fn next_page(&self, take: bool) -> Bytes {
        let mut state = self.lock();
        let state = &mut *state;
        let allowed = self
            .pace
            .allowance(state.served, self.batch_size, Instant::now());
        let first_index = state.served;
        let page = state.source.peek(allowed);
        let rows = page.len();
        let body = Bytes::from(encode_body(page, first_index, self.include_label));
        if take {
            state.source.take(rows);
            state.served += rows as u64;
            state.counters.pages += 1;
            if rows == 0 {
                state.counters.empty_pages += 1;
            } else {
                state.last_page = Some(body.clone());
            }
            tracing::debug!(
                rows,
                first_index,
                served = state.served,
                exhausted = state.source.is_exhausted(),
                "served a page"
            );
        }
        body
    }
}

/// The simulator's routes over `shared`.
pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/current-transactions", get(current_transactions))
        .route("/health", get(health))
        .route("/stats", get(stats))
        .route(
            "/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .with_state(shared)
}

fn json_body(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The 429 of a call past the rate limit: `Retry-After` in whole seconds and a JSON body.
fn rate_limited_response(limit: RateLimit, retry_after: u64) -> Response {
    let body = json!({
        "error": format!(
            "rate limit exceeded: at most {} calls per {} ms; retry after {retry_after} s",
            limit.calls,
            limit.window.as_millis()
        ),
        "status": 429,
        "retry_after_secs": retry_after,
    });
    let mut response = json_body(StatusCode::TOO_MANY_REQUESTS, Bytes::from(body.to_string()));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

async fn current_transactions(State(shared): State<Arc<Shared>>) -> Response {
    let fault = {
        let mut state = shared.lock();
        state.counters.calls += 1;
        // The limit comes first, like a gateway in front of the API: a refused call
        // takes neither a payment nor a queued fault.
        let refused = state
            .limiter
            .as_mut()
            .and_then(|limiter| limiter.admit(Instant::now()).err());
        if let (Some(wait), Some(limit)) = (refused, shared.rate_limit) {
            state.counters.rate_limited += 1;
            let retry_after = retry_after_secs(wait);
            tracing::info!(
                retry_after_secs = retry_after,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                rate_limited = state.counters.rate_limited,
                "call refused by the rate limit"
            );
            return rate_limited_response(limit, retry_after);
        }
        let fault = state.faults.next_call();
        if let Some(fault) = fault {
            let counters = &mut state.counters.faults_served;
            counters.total += 1;
            counters.delay += u64::from(fault.delay.is_some());
            match fault.response {
                FaultResponse::Normal => {}
                FaultResponse::Status(_) => counters.status += 1,
                FaultResponse::Malformed(_) => counters.malformed += 1,
                FaultResponse::DuplicateLast => counters.duplicate_last += 1,
            }
        }
        fault
    };
    if let Some(fault) = fault {
        tracing::info!(
            delay_ms = fault.delay.map(|d| d.as_millis() as u64),
            response = ?fault.response,
            "serving an injected fault"
        );
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
    }
    match fault.map_or(FaultResponse::Normal, |f| f.response) {
        FaultResponse::Status(status) => {
            let body = json!({"error": "injected fault", "status": status.as_u16()});
            json_body(status, Bytes::from(body.to_string()))
        }
        FaultResponse::DuplicateLast => {
            let body = {
                let state = shared.lock();
                state.last_page.clone().unwrap_or_else(|| {
                    let empty = encode_body([], state.served, shared.include_label);
                    Bytes::from(empty)
                })
            };
            json_body(StatusCode::OK, body)
        }
        FaultResponse::Normal => page_response(shared, None).await,
        FaultResponse::Malformed(how) => page_response(shared, Some(how)).await,
    }
}

/// Serves the next page, or shows it broken as `malformed` says without taking it.
async fn page_response(shared: Arc<Shared>, malformed: Option<Malformation>) -> Response {
    // Pulling from the source may generate a day or read the CSV: keep it off the
    // async workers.
    let page = tokio::task::spawn_blocking(move || shared.next_page(malformed.is_none())).await;
    match page {
        Ok(body) => {
            let body = match malformed {
                Some(how) => Bytes::from(malform(&body, how)),
                None => body,
            };
            json_body(StatusCode::OK, body)
        }
        Err(error) => {
            tracing::error!(%error, "building a page failed");
            let body = json!({"error": format!("building a page failed: {error}")});
            json_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from(body.to_string()),
            )
        }
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let state = shared.lock();
    Json(json!({
        "status": "ok",
        "served": state.served,
        "remaining": state.source.remaining(),
        "exhausted": state.source.is_exhausted(),
    }))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let state = shared.lock();
    let c = state.counters;
    Json(json!({
        "source": shared.source_kind,
        "batch_size": shared.batch_size,
        "rate": shared.rate,
        "include_label": shared.include_label,
        "rate_limit": shared.rate_limit.map(|l| json!({
            "calls": l.calls,
            "window_ms": l.window.as_millis() as u64,
        })),
        "uptime_ms": shared.started.elapsed().as_millis() as u64,
        "calls": c.calls,
        "rate_limited": c.rate_limited,
        "pages": c.pages,
        "empty_pages": c.empty_pages,
        "transactions_served": state.served,
        "remaining": state.source.remaining(),
        "exhausted": state.source.is_exhausted(),
        "skipped_rows": state.source.skipped_rows(),
        "faults_served": c.faults_served,
        "faults_pending": state.faults.pending(),
    }))
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!({"pending": shared.lock().faults.pending()}))
}

/// Queues one fault (a JSON object) or several (an array), all or none.
async fn add_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let specs = match parse_fault_specs(&body) {
        Ok(specs) => specs,
        Err(reason) => {
            tracing::warn!(%reason, "refused a fault request");
            let body = json!({"error": reason});
            return json_body(StatusCode::BAD_REQUEST, Bytes::from(body.to_string()));
        }
    };
    let mut state = shared.lock();
    if let Err(error) = state.faults.push_all(&specs) {
        tracing::warn!(%error, "refused a fault request");
        let body = json!({"error": error.to_string()});
        return json_body(StatusCode::BAD_REQUEST, Bytes::from(body.to_string()));
    }
    tracing::info!(
        faults = %json!(specs),
        pending = state.faults.pending().len(),
        "queued faults"
    );
    Json(json!({"pending": state.faults.pending()})).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let cleared_calls = shared.lock().faults.clear();
    tracing::info!(cleared_calls, "cleared pending faults");
    Json(json!({"cleared_calls": cleared_calls, "pending": []}))
}

/// A fault request body: one spec or an array of specs.
pub(crate) fn parse_fault_specs(body: &[u8]) -> Result<Vec<FaultSpec>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let specs = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|spec| vec![spec])
    };
    specs.map_err(|e| format!("not a fault: {e}"))
}
