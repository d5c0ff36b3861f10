//! The decision API over HTTP: a Lambda Function URL event in (the API Gateway v2
//! payload format, which `cargo lambda watch` also sends for
//! `http://127.0.0.1:<port>/lambda-url/fraud-score/`), a Function URL response out.
//!
//! `POST` with the payment as the body: 200 and the answer; 400 with the field and
//! value named when the payment is refused; 503 when we cannot decide now (no model,
//! database down), so the caller's authorisation falls back to its own rule.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse;
use aws_lambda_events::http;
use base64::Engine;
use serde_json::{json, Value};

use crate::{DecideError, Scorer};

/// Whether an event is a Function URL (or API Gateway HTTP API) request.
pub fn is_http(event: &Value) -> bool {
    event.get("requestContext").is_some()
        && (event.get("rawPath").is_some() || event.get("routeKey").is_some())
}

/// A Function URL response (the typed one from `aws_lambda_events`: `cookies` and the
/// other fields a strict reader such as `cargo lambda watch` requires are always there).
fn respond(status: u16, body: &Value) -> Value {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(status);
    response.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(body.to_string());
    serde_json::to_value(response).expect("responses serialize")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_reads_as_a_function_url_response_with_its_status_type_and_body() {
        let out = respond(400, &json!({"error": "field `amt`"}));
        // What a strict reader (cargo lambda watch, the Function URL service) parses.
        let parsed: LambdaFunctionUrlResponse = serde_json::from_value(out).unwrap();
        assert_eq!(parsed.status_code, 400);
        assert_eq!(parsed.headers["content-type"], "application/json");
        assert!(!parsed.is_base64_encoded && parsed.cookies.is_empty());
        let body: Value = serde_json::from_str(parsed.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["error"], "field `amt`");
    }
}
