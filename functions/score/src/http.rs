//! The decision API over HTTP: a Lambda Function URL event in (the API Gateway v2
//! payload format, which `cargo lambda watch` also sends for
//! `http://127.0.0.1:<port>/lambda-url/fraud-score/`), a Function URL response out.
//!
//! `POST` with the payment as the body: 200 and the answer; 400 with the field and
//! value named when the payment is refused; 503 when we cannot decide now (no model,
//! database down), so the caller's authorisation falls back to its own rule.

use base64::Engine;
use serde_json::{json, Value};

use crate::decide::DecideError;
use crate::Scorer;

/// Whether an event is a Function URL (or API Gateway HTTP API) request.
pub fn is_http(event: &Value) -> bool {
    event.get("requestContext").is_some()
        && (event.get("rawPath").is_some() || event.get("routeKey").is_some())
}

fn respond(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "isBase64Encoded": false,
        "body": body.to_string(),
    })
}

impl Scorer {
    /// Answers one Function URL request.
    pub async fn answer_http(&self, event: &Value) -> Value {
        let method = event
            .pointer("/requestContext/http/method")
            .and_then(Value::as_str)
            .unwrap_or("POST");
        if method != "POST" {
            return respond(
                405,
                &json!({ "error": format!("method {method} not allowed: POST the payment") }),
            );
        }
        let body = event.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            match base64::engine::general_purpose::STANDARD.decode(body) {
                Ok(bytes) => bytes,
                Err(e) => {
                    return respond(400, &json!({ "error": format!("body is not base64: {e}") }))
                }
            }
        } else {
            body.as_bytes().to_vec()
        };
        match self.decide(&body).await {
            Ok(answer) => respond(
                200,
                &serde_json::to_value(&answer).expect("answers serialize"),
            ),
            Err(e @ DecideError::BadInput(_)) => respond(400, &json!({ "error": e.to_string() })),
            Err(e @ DecideError::Unavailable(_)) => {
                tracing::error!(error = %e, "decision unavailable");
                respond(503, &json!({ "error": e.to_string() }))
            }
        }
    }
}
