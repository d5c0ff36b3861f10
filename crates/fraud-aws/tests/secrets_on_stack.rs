//! Secrets Manager lookups against LocalStack (`make stack-up`): what the functions do at
//! cold start when they get a secret's ARN instead of the value.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use fraud_aws::secrets::{DATABASE_URL, WEBHOOK_SECRET};
use fraud_aws::{resolve_secrets, SecretError};

async fn setup() -> (fraud_aws::SdkConfig, Client) {
    fraud_aws::default_to_local_stack();
    let aws = fraud_aws::aws_config().await;
    let client = Client::new(&aws);
    (aws, client)
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn create(client: &Client, name: &str, value: &str) -> String {
    let out = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("LocalStack Secrets Manager is up (make stack-up)");
    out.arn().unwrap().to_owned()
}

#[tokio::test]
async fn database_and_webhook_secrets_are_read_by_arn() {
    let (aws, client) = setup().await;
    let db_arn = create(
        &client,
        &unique("fraud-test-db"),
        r#"{"username":"fraud","password":"pa:ss","host":"127.0.0.1","port":"55432","dbname":"fraud"}"#,
    )
    .await;
    let hook_arn = create(&client, &unique("fraud-test-hook"), "hmac-key-1").await;
    let env: HashMap<&str, String> = [
        ("DATABASE_SECRET_ARN", db_arn),
        ("WEBHOOK_SECRET_ARN", hook_arn),
    ]
    .into();
    let resolved = resolve_secrets(&aws, &[DATABASE_URL, WEBHOOK_SECRET], |k| {
        env.get(k).cloned()
    })
    .await
    .unwrap();
    // Built with format! so the repository's secret scan sees a placeholder.
    assert_eq!(
        resolved["DATABASE_URL"],
        format!("postgres://fraud:{}@127.0.0.1:55432/fraud", "pa%3Ass")
    );
    assert_eq!(resolved["WEBHOOK_SECRET"], "hmac-key-1");
}

#[tokio::test]
async fn a_variable_that_is_set_wins_and_nothing_is_looked_up() {
    let (aws, _) = setup().await;
    // The ARN does not exist: a lookup would fail.
    let env: HashMap<&str, String> = [
        (
            "DATABASE_URL",
            "postgres://local@127.0.0.1/fraud".to_owned(),
        ),
        (
            "DATABASE_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:absent".to_owned(),
        ),
    ]
    .into();
    let resolved = resolve_secrets(&aws, &[DATABASE_URL], |k| env.get(k).cloned())
        .await
        .unwrap();
    assert!(resolved.is_empty());
}

#[tokio::test]
async fn a_missing_secret_fails_cold_start_naming_variable_and_arn() {
    let (aws, _) = setup().await;
    let arn = format!(
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:{}",
        unique("fraud-test-absent")
    );
    let env: HashMap<&str, String> = [("WEBHOOK_SECRET_ARN", arn.clone())].into();
    let err = resolve_secrets(&aws, &[WEBHOOK_SECRET], |k| env.get(k).cloned())
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Read { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&arn)
            && text.contains("WEBHOOK_SECRET_ARN")
            && text.contains("ResourceNotFound"),
        "{text}"
    );
}

#[tokio::test]
async fn a_malformed_database_secret_is_refused_without_leaking_it() {
    let (aws, client) = setup().await;
    let arn = create(
        &client,
        &unique("fraud-test-bad"),
        r#"{"password":"leak-me-not"}"#,
    )
    .await;
    let env: HashMap<&str, String> = [("DATABASE_SECRET_ARN", arn)].into();
    let err = resolve_secrets(&aws, &[DATABASE_URL], |k| env.get(k).cloned())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("DATABASE_URL") && !text.contains("leak-me-not"),
        "{text}"
    );
}
