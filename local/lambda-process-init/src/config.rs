//! Configuration of one execution environment, read once from the environment the
//! process executor (`localstack/process-executor`) starts us with.
//!
//! | variable | meaning |
//! |---|---|
//! | `LOCALSTACK_RUNTIME_ENDPOINT` | base URL of LocalStack's executor endpoint for this environment, e.g. `http://127.0.0.1:4566/_localstack_lambda/<id>` (set by LocalStack) |
//! | `LOCALSTACK_RUNTIME_ID` | id of this execution environment (set by LocalStack) |
//! | `AWS_LAMBDA_FUNCTION_TIMEOUT` | invoke timeout in seconds; the bootstrap is killed when it is exceeded |
//! | `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` | configured memory (MB), reported only (not enforced); default 128 |
//! | `AWS_LAMBDA_FUNCTION_VERSION` | version for the `START` log line; default `$LATEST` |
//! | `LAMBDA_TASK_ROOT` | the unpacked code; the bootstrap is `<task root>/bootstrap` and runs there |
//! | `LAMBDA_PROCESS_INIT_INVOKE_ADDR` | where to listen for LocalStack's `POST /invoke`, e.g. `127.0.0.1:41234` |
//! | `LAMBDA_PROCESS_INIT_BOOTSTRAP` | optional: another bootstrap path (default `<task root>/bootstrap`) |
//!
//! Every other variable is passed on to the bootstrap unchanged (the function's own
//! `Environment`, `AWS_LAMBDA_FUNCTION_NAME`, `_HANDLER`, credentials, ...), plus
//! `AWS_LAMBDA_RUNTIME_API` pointing at our Runtime API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Variables meant for the init only; they are not passed to the bootstrap.
pub const INIT_ONLY_VARS: &[&str] = &[
    "LAMBDA_PROCESS_INIT_INVOKE_ADDR",
    "LAMBDA_PROCESS_INIT_BOOTSTRAP",
];

/// A missing or malformed setting, naming the variable and the value: the functions'
/// own error for their environment, so both read the same.
pub use fraud_lambda::EnvError as ConfigError;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL of LocalStack's executor endpoint (no trailing slash).
    pub runtime_endpoint: String,
    pub runtime_id: String,
    pub timeout: Duration,
    pub memory_mb: u32,
    pub function_version: String,
    pub task_root: PathBuf,
    pub bootstrap: PathBuf,
    pub invoke_addr: SocketAddr,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads a map of variables (the environment, or a test's own map).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |name: &'static str, help: &'static str| {
            get(name).ok_or(ConfigError::Missing { name, help })
        };
        let invalid = |name: &'static str, value: &str, reason: String| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason,
        };

        let runtime_endpoint = required(
            "LOCALSTACK_RUNTIME_ENDPOINT",
            "LocalStack's executor endpoint for this environment",
        )?;
        if !(runtime_endpoint.starts_with("http://") || runtime_endpoint.starts_with("https://")) {
            return Err(invalid(
                "LOCALSTACK_RUNTIME_ENDPOINT",
                runtime_endpoint,
                "expected an http:// or https:// URL".into(),
            ));
        }
        let runtime_id = required("LOCALSTACK_RUNTIME_ID", "id of this execution environment")?;

        let timeout_raw = required(
            "AWS_LAMBDA_FUNCTION_TIMEOUT",
            "the function's timeout in seconds",
        )?;
        let timeout_s: u64 = timeout_raw.parse().map_err(|e: std::num::ParseIntError| {
            invalid("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout_raw, e.to_string())
        })?;
        if timeout_s == 0 {
            return Err(invalid(
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                timeout_raw,
                "must be at least 1 second".into(),
            ));
        }

        let memory_mb = match get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            None => 128,
            Some(v) => v.parse().map_err(|e: std::num::ParseIntError| {
                invalid("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", v, e.to_string())
            })?,
        };
        let function_version = get("AWS_LAMBDA_FUNCTION_VERSION")
            .unwrap_or("$LATEST")
            .to_owned();

        let task_root = PathBuf::from(required(
            "LAMBDA_TASK_ROOT",
            "directory of the unpacked function code",
        )?);
        let bootstrap = match get("LAMBDA_PROCESS_INIT_BOOTSTRAP") {
            Some(p) => PathBuf::from(p),
            None => task_root.join("bootstrap"),
        };

        let addr_raw = required(
            "LAMBDA_PROCESS_INIT_INVOKE_ADDR",
            "host:port to receive LocalStack's invokes on",
        )?;
        let invoke_addr = addr_raw.parse().map_err(|e: std::net::AddrParseError| {
            invalid("LAMBDA_PROCESS_INIT_INVOKE_ADDR", addr_raw, e.to_string())
        })?;

        Ok(Self {
            runtime_endpoint: runtime_endpoint.trim_end_matches('/').to_owned(),
            runtime_id: runtime_id.to_owned(),
            timeout: Duration::from_secs(timeout_s),
            memory_mb,
            function_version,
            task_root,
            bootstrap,
            invoke_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BTreeMap<String, String> {
        [
            (
                "LOCALSTACK_RUNTIME_ENDPOINT",
                "http://127.0.0.1:4566/_localstack_lambda/abc/",
            ),
            ("LOCALSTACK_RUNTIME_ID", "abc"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"),
            ("LAMBDA_TASK_ROOT", "/code"),
            ("LAMBDA_PROCESS_INIT_INVOKE_ADDR", "127.0.0.1:9563"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn defaults_bootstrap_to_task_root_and_strips_trailing_slash() {
        let cfg = Config::from_vars(&base()).unwrap();
        assert_eq!(cfg.bootstrap, PathBuf::from("/code/bootstrap"));
        assert_eq!(
            cfg.runtime_endpoint,
            "http://127.0.0.1:4566/_localstack_lambda/abc"
        );
        assert_eq!(cfg.timeout, Duration::from_secs(3));
        assert_eq!(cfg.memory_mb, 128);
        assert_eq!(cfg.function_version, "$LATEST");
    }

    #[test]
    fn bad_timeout_names_variable_and_value() {
        let mut vars = base();
        vars.insert("AWS_LAMBDA_FUNCTION_TIMEOUT".into(), "3s".into());
        let err = Config::from_vars(&vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable AWS_LAMBDA_FUNCTION_TIMEOUT=`3s` is invalid: invalid digit found in string"
        );
    }

    #[test]
    fn zero_timeout_is_refused() {
        let mut vars = base();
        vars.insert("AWS_LAMBDA_FUNCTION_TIMEOUT".into(), "0".into());
        assert!(matches!(
            Config::from_vars(&vars),
            Err(ConfigError::Invalid {
                name: "AWS_LAMBDA_FUNCTION_TIMEOUT",
                ..
            })
        ));
    }

    #[test]
    fn missing_runtime_endpoint_says_what_it_is() {
        let mut vars = base();
        vars.remove("LOCALSTACK_RUNTIME_ENDPOINT");
        assert_eq!(
            Config::from_vars(&vars).unwrap_err().to_string(),
            "environment variable LOCALSTACK_RUNTIME_ENDPOINT is required (LocalStack's executor endpoint for this environment)"
        );
    }

    #[test]
    fn invoke_address_must_be_host_and_port() {
        let mut vars = base();
        vars.insert("LAMBDA_PROCESS_INIT_INVOKE_ADDR".into(), "localhost".into());
        assert!(matches!(
            Config::from_vars(&vars),
            Err(ConfigError::Invalid {
                name: "LAMBDA_PROCESS_INIT_INVOKE_ADDR",
                ..
            })
        ));
    }
}
