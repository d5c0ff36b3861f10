//! Versioned rules documents in S3, beside the models, and the scorer's cache of the
//! current one.
//!
//! Layout under the models bucket: `rules/<version>.json` and the pointer
//! `rules/current.json` naming the version in force. [`RulesStore::put`] checks a
//! document ([`fraud_rules::Rules::parse`]: syntax, names, types) before it writes
//! anything, so a document that does not check is refused at upload; a document written
//! around it (by hand, with `aws s3 cp`) is refused again by [`RulesCache`], which keeps
//! serving the last good one. No pointer means no rules: the model decides alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use fraud_rules::{Rules, RulesError};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::s3::{get_bytes, put_bytes};
use crate::AwsError;

const POINTER: &str = "rules/current.json";

/// The rules in force, as recorded in `rules/current.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentRules {
    pub version: String,
    pub uri: String,
    pub uploaded_at: String,
}

/// Why a rules document was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RulesUploadError {
    #[error("the rules document was refused: {0}")]
    Refused(#[from] RulesError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Reads and writes rules documents in one bucket.
#[derive(Clone)]
pub struct RulesStore {
    s3: Client,
    bucket: String,
}

impl RulesStore {
    pub fn new(s3: Client, bucket: impl Into<String>) -> Self {
        RulesStore {
            s3,
            bucket: bucket.into(),
        }
    }

    /// Checks `document`, stores it under its version and makes it the one in force.
    pub async fn put(&self, document: &[u8]) -> Result<CurrentRules, RulesUploadError> {
        let rules = Rules::parse(document)?;
        let key = format!("rules/{}.json", rules.version());
        put_bytes(
            &self.s3,
            &self.bucket,
            &key,
            document.to_vec(),
            "application/json",
        )
        .await?;
        let pointer = CurrentRules {
            version: rules.version().to_owned(),
            uri: format!("s3://{}/{key}", self.bucket),
            uploaded_at: chrono::Utc::now().to_rfc3339(),
        };
        let body = serde_json::to_vec_pretty(&pointer).expect("pointer serializes");
        put_bytes(&self.s3, &self.bucket, POINTER, body, "application/json").await?;
        Ok(pointer)
    }

    /// The pointer, if rules were ever uploaded.
    pub async fn current(&self) -> Result<Option<CurrentRules>, AwsError> {
        let Some(bytes) = get_bytes(&self.s3, &self.bucket, POINTER).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.s3_error("parse rules pointer", POINTER, e))
    }

    /// Loads and checks a version's document.
    pub async fn load(&self, version: &str) -> Result<Rules, AwsError> {
        let key = format!("rules/{version}.json");
        let bytes = get_bytes(&self.s3, &self.bucket, &key)
            .await?
            .ok_or_else(|| self.s3_error("get rules", &key, "the document is missing"))?;
        Rules::parse(&bytes).map_err(|e| self.s3_error("check rules", &key, e))
    }

    fn s3_error(&self, operation: &'static str, key: &str, e: impl ToString) -> AwsError {
        AwsError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: e.to_string(),
        }
    }
}

/// The scorer's view of the rules in force: re-checked against the pointer at most
/// every `check_every`; a document that fails to load or check is never served and the
/// last good one stays; S3 being unreachable keeps the cached rules.
pub struct RulesCache {
    store: RulesStore,
    check_every: Duration,
    state: Mutex<Option<(Arc<Rules>, Instant)>>,
}

impl RulesCache {
    pub fn new(store: RulesStore, check_every: Duration) -> Self {
        RulesCache {
            store,
            check_every,
            state: Mutex::new(None),
        }
    }

    /// The rules to apply. Never fails once rules were loaded; before that, an S3
    /// error is reported (so nothing is decided without the lists that may be in force),
    /// and no pointer at all means [`Rules::none`].
    pub async fn get(&self) -> Result<Arc<Rules>, AwsError> {
        let mut state = self.state.lock().await;
        if let Some((rules, checked)) = state.as_ref() {
            if checked.elapsed() < self.check_every {
                return Ok(rules.clone());
            }
        }
        let loaded = match self.store.current().await {
            Ok(None) => Ok(Arc::new(Rules::none())),
            Ok(Some(p))
                if state
                    .as_ref()
                    .is_some_and(|(r, _)| r.version() == p.version) =>
            {
                Ok(state
                    .as_ref()
                    .map(|(r, _)| r.clone())
                    .expect("checked above"))
            }
            Ok(Some(p)) => self.store.load(&p.version).await.map(Arc::new),
            Err(e) => Err(e),
        };
        match (loaded, state.as_mut()) {
            (Ok(rules), _) => {
                if state
                    .as_ref()
                    .is_none_or(|(r, _)| r.version() != rules.version())
                {
                    tracing::info!(rules_version = %rules.version(), rules = rules.len(), "rules loaded");
                }
                *state = Some((rules.clone(), Instant::now()));
                Ok(rules)
            }
            (Err(e), Some((rules, checked))) => {
                tracing::error!(error = %e, rules_version = %rules.version(), "cannot use the rules in S3; keeping the last good rules");
                *checked = Instant::now();
                Ok(rules.clone())
            }
            (Err(e), None) => Err(e),
        }
    }
}
