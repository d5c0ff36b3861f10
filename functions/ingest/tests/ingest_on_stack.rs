//! The ingest function against the payments API simulator and the real Kafka broker
//! (Tansu): valid payments land on the topic keyed by card, exactly once; bad pages and
//! rows land on the dead-letter topic with the reason; the API's failures are retried;
//! its rate limit (429 with Retry-After) is waited out, or fails a run that would wait
//! too long, without losing a payment.
//!
//! Needs `make stack-up`; fails (never skips) without it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fraud_core::Transaction;
use fraud_fn_ingest::{Config, FetchError, IngestError, IngestRequest, Ingestor};
use fraud_generator::{Generator, GeneratorConfig};
use payments_sim::{FaultSpec, Malformation, RateLimit, SimConfig, SourceConfig};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

async fn topics(suffix: &str) -> (String, String) {
    let (topic, dlq) = (
        format!("test-payments-{suffix}"),
        format!("test-dlq-{suffix}"),
    );
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client");
    let new = [
        NewTopic::new(&topic, 3, TopicReplication::Fixed(1)),
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)),
    ];
    let created = admin
        .create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Kafka at {} is unreachable ({e}): run `make stack-up`",
                brokers()
            )
        });
    for r in created {
        r.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
    (topic, dlq)
}

/// Reads everything on `topic` until it has been quiet for two seconds.
async fn drain(topic: &str) -> Vec<(Option<String>, Vec<u8>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let wait = if out.is_empty() {
            Duration::from_secs(12)
        } else {
            Duration::from_secs(2)
        };
        match tokio::time::timeout(wait, consumer.recv()).await {
            Ok(Ok(m)) => out.push((
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                m.payload().unwrap_or_default().to_vec(),
            )),
            Ok(Err(e)) => panic!("consume {topic}: {e}"),
            Err(_) => break,
        }
        if tokio::time::Instant::now() > deadline {
            break;
        }
    }
    out
}

fn config(api: String, topic: &str, dlq: &str) -> Config {
    Config {
        api_url: api,
        brokers: brokers(),
        topic: topic.into(),
        dlq_topic: dlq.into(),
        timeout: Duration::from_secs(2),
        max_attempts: 3,
        backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(15),
        dedup_capacity: 10_000,
    }
}

fn payments(n: usize) -> Vec<Transaction> {
    Generator::new(GeneratorConfig {
        customers: 50,
        days: 5,
        ..GeneratorConfig::default()
    })
    .unwrap()
    .all()
    .take(n)
    .collect()
}

#[tokio::test]
async fn publishes_each_payment_once_keyed_by_card_and_dead_letters_bad_pages() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, dlq) = topics(&suffix[..12]).await;
    let txs = payments(60);
    let sim = SimConfig {
        source: SourceConfig::Transactions(txs.clone()),
        batch_size: 20,
        faults: vec![
            // First call: two 500s then success (retried within one run).
            FaultSpec {
                status: Some(500),
                delay_ms: None,
                malformed: None,
                duplicate_last: false,
                count: 2,
            },
        ],
        ..SimConfig::default()
    };
    let (addr, _server) = payments_sim::spawn(sim).await.unwrap();
    let ingestor = Ingestor::new(config(format!("http://{addr}"), &topic, &dlq), None).unwrap();

    let first = ingestor.handle(IngestRequest::default()).await.unwrap();
    assert_eq!(
        (first.fetched, first.published, first.rejected),
        (20, 20, 0)
    );

    // The API serves the same page twice: the repeat is not republished.
    let client = reqwest::Client::new();
    let fault = |f: serde_json::Value| client.post(format!("http://{addr}/faults")).json(&f).send();
    fault(serde_json::json!({"duplicate_last": true}))
        .await
        .unwrap();
    let repeat = ingestor.handle(IngestRequest::default()).await.unwrap();
    assert_eq!((repeat.published, repeat.duplicates), (0, 20));

    // A truncated page and a page with the wrong schema go to the dead-letter topic.
    fault(serde_json::json!({"malformed": "truncated"}))
        .await
        .unwrap();
    let cut = ingestor.handle(IngestRequest::default()).await.unwrap();
    assert_eq!((cut.published, cut.rejected), (0, 1));
    fault(serde_json::json!({"malformed": "wrong_schema"}))
        .await
        .unwrap();
    assert_eq!(
        ingestor
            .handle(IngestRequest::default())
            .await
            .unwrap()
            .rejected,
        1
    );

    // The rest of the source arrives intact.
    let mut published = first.published;
    for _ in 0..3 {
        published += ingestor
            .handle(IngestRequest::default())
            .await
            .unwrap()
            .published;
    }
    assert_eq!(published, 60);

    let messages = drain(&topic).await;
    assert_eq!(messages.len(), 60, "every payment exactly once");
    let mut seen = HashSet::new();
    for (key, payload) in &messages {
        let tx = Transaction::from_json(payload).unwrap();
        assert_eq!(
            key.as_deref(),
            Some(tx.cc_num.to_string().as_str()),
            "keyed by card"
        );
        assert!(seen.insert(tx.trans_num.clone()));
    }
    let expected: HashSet<_> = txs.iter().map(|t| t.trans_num.clone()).collect();
    assert_eq!(seen, expected);

    let letters = drain(&dlq).await;
    assert_eq!(letters.len(), 2);
    let reasons: Vec<String> = letters
        .iter()
        .map(|(_, p)| {
            serde_json::from_slice::<serde_json::Value>(p).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("split frame")),
        "{reasons:?}"
    );
    let _ = Malformation::Truncated;
}

#[tokio::test]
async fn an_api_that_keeps_failing_fails_the_run_so_the_schedule_retries() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, dlq) = topics(&suffix[..12]).await;
    let sim = SimConfig {
        source: SourceConfig::Transactions(payments(10)),
        faults: vec![FaultSpec {
            status: Some(503),
            delay_ms: None,
            malformed: None,
            duplicate_last: false,
            count: 10,
        }],
        ..SimConfig::default()
    };
    let (addr, _server) = payments_sim::spawn(sim).await.unwrap();
    let ingestor = Ingestor::new(config(format!("http://{addr}"), &topic, &dlq), None).unwrap();
    let err = ingestor.handle(IngestRequest::default()).await.unwrap_err();
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
}

/// The trans_nums on `topic`, each message checked to be a payment keyed by its card.
async fn published_trans_nums(topic: &str) -> Vec<String> {
    drain(topic)
        .await
        .iter()
        .map(|(key, payload)| {
            let tx = Transaction::from_json(payload).unwrap();
            assert_eq!(key.as_deref(), Some(tx.cc_num.to_string().as_str()));
            tx.trans_num
        })
        .collect()
}

async fn sim_stats(addr: std::net::SocketAddr) -> serde_json::Value {
    reqwest::get(format!("http://{addr}/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn polls_through_the_rate_limit_publish_every_payment_exactly_once() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, dlq) = topics(&suffix[..12]).await;
    let txs = payments(8);
    // The real API's shape: one payment per call (the default), few calls per window.
    let sim = SimConfig {
        source: SourceConfig::Transactions(txs.clone()),
        rate_limit: Some(RateLimit {
            calls: 2,
            window: Duration::from_secs(2),
        }),
        ..SimConfig::default()
    };
    let (addr, _server) = payments_sim::spawn(sim).await.unwrap();
    let ingestor = Ingestor::new(config(format!("http://{addr}"), &topic, &dlq), None).unwrap();

    let mut published = 0;
    for poll in 0..txs.len() {
        let summary = ingestor
            .handle(IngestRequest::default())
            .await
            .unwrap_or_else(|e| panic!("poll {poll}: {e}"));
        assert_eq!((summary.fetched, summary.rejected), (1, 0), "poll {poll}");
        published += summary.published;
    }
    assert_eq!(published, txs.len());
    let stats = sim_stats(addr).await;
    assert!(
        stats["rate_limited"].as_u64().unwrap() >= 2,
        "the polls went through 429s: {stats}"
    );
    assert_eq!(stats["transactions_served"], txs.len());

    let mut seen = published_trans_nums(&topic).await;
    assert_eq!(seen.len(), txs.len(), "every payment exactly once");
    seen.sort();
    let mut expected: Vec<String> = txs.iter().map(|t| t.trans_num.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_fails_the_run_and_the_next_run_gets_the_payment() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, dlq) = topics(&suffix[..12]).await;
    let txs = payments(2);
    let sim = SimConfig {
        source: SourceConfig::Transactions(txs.clone()),
        rate_limit: Some(RateLimit {
            calls: 1,
            window: Duration::from_secs(3),
        }),
        ..SimConfig::default()
    };
    let (addr, _server) = payments_sim::spawn(sim).await.unwrap();
    let mut settings = config(format!("http://{addr}"), &topic, &dlq);
    settings.max_retry_after = Duration::from_millis(500);
    let ingestor = Ingestor::new(settings, None).unwrap();

    let first = ingestor.handle(IngestRequest::default()).await.unwrap();
    assert_eq!(first.published, 1);
    let refused_at = Instant::now();
    let err = ingestor.handle(IngestRequest::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            IngestError::Fetch(FetchError::RateLimited {
                retry_after_secs: 2..=3,
                max_ms: 500,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("(Retry-After)"), "{err}");
    let stats = sim_stats(addr).await;
    assert_eq!(stats["rate_limited"], 1, "no retry within the run: {stats}");
    assert_eq!(stats["transactions_served"], 1);

    // The next tick, once the window has passed, gets the payment the refused call did not.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(refused_at.elapsed())).await;
    let next = ingestor.handle(IngestRequest::default()).await.unwrap();
    assert_eq!(next.published, 1);
    let mut seen = published_trans_nums(&topic).await;
    seen.sort();
    let mut expected: Vec<String> = txs.iter().map(|t| t.trans_num.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected, "both payments, once each");
}
