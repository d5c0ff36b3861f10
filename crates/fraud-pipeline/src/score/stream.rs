//! A batch (the stream): decoded, scored, written and committed. See the module doc for
//! the guarantees.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use base64::Engine;
use fraud_core::features::CardHistory;
use fraud_core::scoring::{Alert, Decision, DecisionAnswer, Score, ScoredRecord};
use fraud_core::Transaction;

use super::{
    boxed, judge, ms, BatchRecord, ItemFailure, ScoreError, ScorePorts, ScoreResponse,
    ScoredTransaction, Scoring,
};
use crate::ports::{
    AlertSink, ModelSource, Rejected, ResultsStore, ScoreDatabase, ScoreTransaction,
    ScoredPublisher,
};

/// A payment of the batch: the payment, its record (`topic-partition@offset`), and the
/// producer's timestamp (epoch ms).
type Payment = (Transaction, String, i64);

/// What the writes of a batch produced, and how long each took (ms).
#[derive(Debug, Default)]
struct Timings {
    results_uri: Option<String>,
    payments_uri: Option<String>,
    /// The results file and the payments archive, written at once.
    s3_ms: f64,
    kafka_ms: f64,
    sqs_ms: f64,
}

/// Decodes and validates every record; what fails becomes a dead letter (its `source`
/// the record it came from). One bad row of a frame does not stop the others.
fn decode(records: &[BatchRecord]) -> (Vec<Payment>, Vec<Rejected>) {
    let mut payments = Vec::new();
    let mut letters = Vec::new();
    for r in records {
        let id = &r.id;
        let letter = |reason: String, trans_num, raw| Rejected {
            source: id.clone(),
            reason,
            trans_num,
            raw,
        };
        let bytes = r
            .value
            .as_deref()
            .map(|v| base64::engine::general_purpose::STANDARD.decode(v));
        match bytes {
            Some(Ok(bytes)) => match fraud_core::message::decode(&bytes) {
                Ok(decoded) => {
                    let rows = decoded.payments.len();
                    for payment in decoded.payments {
                        match payment {
                            Ok(tx) => payments.push((tx, id.clone(), r.published_at_ms)),
                            Err(row) => letters.push(letter(
                                format!("row {} of {rows}: {}", row.line, row.reason),
                                row.trans_num,
                                row.raw,
                            )),
                        }
                    }
                }
                Err(e) => {
                    let raw = String::from_utf8_lossy(&bytes).into_owned();
                    letters.push(letter(e.to_string(), None, raw));
                }
            },
            Some(Err(e)) => letters.push(letter(
                format!("value is not base64: {e}"),
                None,
                r.value.clone().unwrap_or_default(),
            )),
            None => letters.push(letter("record has no value".into(), None, String::new())),
        }
    }
    (payments, letters)
}

/// The alert of a blocked payment, stamped with when its record was published.
fn alert_of(tx: &Transaction, score: &Score, threshold: f64, published_at: i64) -> Alert {
    let mut alert = Alert::new(tx, score, threshold);
    alert.published_at_ms = Some(published_at);
    alert
}

impl<P: ScorePorts> Scoring<P> {
    /// Sends the dead letters, all at once; each one's delivery is awaited on its own, so
    /// one that cannot be written asks for its record's redelivery without holding up
    /// the others.
    async fn dead_letter(&self, letters: &[Rejected], response: &mut ScoreResponse) {
        let sent = futures::future::join_all(
            letters
                .iter()
                .map(|letter| self.publisher.dead_letter(letter)),
        )
        .await;
        for (letter, sent) in letters.iter().zip(sent) {
            let id = &letter.source;
            match sent {
                Ok(()) => response.dead_lettered += 1,
                Err(e) => {
                    tracing::error!(record = %id, error = %e, "cannot dead-letter a record; asking for redelivery");
                    if !response
                        .batch_item_failures
                        .iter()
                        .any(|f| f.item_identifier == *id)
                    {
                        response.batch_item_failures.push(ItemFailure {
                            item_identifier: id.clone(),
                        });
                    }
                }
            }
        }
    }

    /// Scores one batch (its records in partition and offset order).
    pub async fn score_batch(&self, records: &[BatchRecord]) -> Result<ScoreResponse, ScoreError> {
        let started = Instant::now();
        let mut response = ScoreResponse {
            received: records.len(),
            ..ScoreResponse::default()
        };

        // 1. Decode and validate; what fails goes to the dead-letter topic.
        let (mut payments, letters) = decode(records);
        self.dead_letter(&letters, &mut response).await;
        if payments.is_empty() {
            return Ok(response);
        }

        // 2. Model, rules and card histories.
        let model = self
            .models
            .model()
            .await
            .map_err(|e| ScoreError::Model(boxed(e)))?;
        let rules = self
            .models
            .rules()
            .await
            .map_err(|e| ScoreError::Rules(boxed(e)))?;
        response.model_version = Some(model.version.clone());
        payments.sort_by_key(|(tx, _, _)| tx.event_time());
        let mut cards: Vec<u64> = payments.iter().map(|(tx, _, _)| tx.cc_num).collect();
        cards.sort_unstable();
        cards.dedup();
        let db_err = |e: <P::Db as ScoreDatabase>::Error| ScoreError::Db(boxed(e));
        let t = Instant::now();
        let mut db = self.db.lock().await;
        let txn = db.begin().await.map_err(db_err)?;
        // The batch's cards are locked before their histories are read, and stay locked
        // until the commit: producers that do not key by card put one card on several
        // partitions, and the decision API may be deciding one of its payments right
        // now. Both statements go out at once (one round trip); the load runs after the
        // lock is granted.
        let (_, mut histories): ((), HashMap<u64, CardHistory>) =
            futures::future::try_join(txn.lock_cards(&cards), txn.load_cards(&cards))
                .await
                .map_err(db_err)?;
        let load_ms = ms(t);
        let t = Instant::now();

        // 3. Features (the shared pipeline), scores, rules. A replayed trans_num does not
        //    change its card's history, so its features and score come out the same.
        let now = chrono::Utc::now().to_rfc3339();
        let features: Vec<_> = payments
            .iter()
            .map(|(tx, _, _)| histories.entry(tx.cc_num).or_default().observe(tx))
            .collect();
        let assessments = model.assess_batch(&features);
        let candidates: Vec<(&Payment, Score)> = payments
            .iter()
            .zip(features.iter().zip(assessments))
            .map(|(p, (f, a))| (p, judge(&model, &rules, &p.0, f, a).0))
            .collect();
        let score_ms = ms(t);
        let t = Instant::now();

        // 4.–6. Ledger claim, side effects, card histories, commit. The claim goes out
        //    first and the histories save right behind it on the same connection
        //    (pipelined: the save runs on the server while the side effects run here);
        //    the side effects start as soon as the claim answers and run at once; the
        //    commit comes last. If anything fails the transaction rolls back (claims
        //    included) and the event source redelivers the batch.
        let rows: Vec<ScoredTransaction> = candidates
            .iter()
            .map(|((tx, _, _), score)| ScoredTransaction::of(tx, score))
            .collect();
        let changed: Vec<(u64, &CardHistory)> = cards
            .iter()
            .filter_map(|c| histories.get(c).map(|h| (*c, h)))
            .collect();
        let effects = async {
            let mut fresh: HashSet<String> = txn
                .claim(&rows)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect();
            let claim_ms = ms(t);
            let mut scored = Vec::with_capacity(fresh.len());
            // The payments of `scored`, in the same order: the payments archive.
            let mut archived: Vec<&Transaction> = Vec::with_capacity(fresh.len());
            let mut alerts = Vec::new();
            let mut seen = Vec::new();
            for ((tx, id, published_at), score) in &candidates {
                // Taken out once used: a trans_num twice in one batch counts once.
                if !fresh.remove(&score.trans_num) {
                    seen.push(score.trans_num.as_str());
                    continue;
                }
                if score.decision == Decision::Block {
                    alerts.push(alert_of(tx, score, model.threshold, *published_at));
                }
                scored.push(ScoredRecord::new(
                    tx,
                    score,
                    now.clone(),
                    id.clone(),
                    *published_at,
                ));
                archived.push(tx);
            }
            // Payments the decision API decided before they reached the stream: their
            // record and alert are written now, once, with the answer they were given.
            let mut decided: HashMap<String, String> = txn
                .take_undelivered_decisions(&seen)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect();
            let n_decided = decided.len();
            for ((tx, id, published_at), _) in &candidates {
                // Taken out once used, like the fresh ones.
                let Some(answer) = decided.remove(&tx.trans_num) else {
                    continue;
                };
                let Ok(answer) = serde_json::from_str::<DecisionAnswer>(&answer) else {
                    tracing::error!(trans_num = %tx.trans_num, "the ledger's answer is unreadable; no record written");
                    continue;
                };
                let score = answer.score(tx);
                if score.decision == Decision::Block {
                    alerts.push(alert_of(tx, &score, model.threshold, *published_at));
                }
                let mut record = ScoredRecord::new(
                    tx,
                    &score,
                    answer.decided_at.clone(),
                    id.clone(),
                    *published_at,
                );
                record.decided_synchronously = true;
                scored.push(record);
                archived.push(tx);
            }
            let duplicates = seen.len() - n_decided;
            let timings = if scored.is_empty() {
                Timings::default()
            } else {
                self.write_effects(records, &scored, &archived, &alerts)
                    .await?
            };
            Ok::<_, ScoreError>((
                scored.len() - n_decided,
                n_decided,
                alerts.len(),
                duplicates,
                claim_ms,
                timings,
            ))
        };
        let save = async {
            let t = Instant::now();
            txn.save_cards(&changed).await.map_err(db_err)?;
            Ok::<_, ScoreError>(ms(t))
        };
        // `try_join` polls `effects` first, so the claim is sent before the save.
        let ((scored, decided, alerts, duplicates, claim_ms, effects), save_ms) =
            futures::future::try_join(effects, save).await?;
        let t = Instant::now();
        txn.commit().await.map_err(db_err)?;
        let commit_ms = ms(t);
        response.scored = scored;
        response.decided_synchronously = decided;
        response.alerts = alerts;
        response.duplicates = duplicates;
        response.results_uri = effects.results_uri;
        response.payments_uri = effects.payments_uri;
        let Timings {
            s3_ms,
            kafka_ms,
            sqs_ms,
            ..
        } = effects;
        // Where the batch's time went (ms): card histories loaded, features + model +
        // rules, ledger claim; then, at once: S3 results file and payments archive (two
        // PUTs at once, one figure), scored topic (delivery
        // confirmed), SQS alerts, histories saved (on the server, behind the claim);
        // then the commit.
        tracing::info!(received = response.received, scored = response.scored, decided_synchronously = decided, duplicates = response.duplicates, alerts = response.alerts, dead_lettered = response.dead_lettered, model_version = %model.version, rules_version = %rules.version(), load_ms, score_ms, claim_ms, s3_ms, kafka_ms, sqs_ms, save_ms, commit_ms, total_ms = ms(started), "batch scored");
        Ok(response)
    }

    /// Results file and payments archive, scored topic and alerts, at once; fails if any
    /// of them failed. The ledger commits only after all of them are confirmed.
    async fn write_effects(
        &self,
        records: &[BatchRecord],
        scored: &[ScoredRecord],
        archived: &[&Transaction],
        alerts: &[Alert],
    ) -> Result<Timings, ScoreError> {
        let ((results_uri, payments_uri, s3_ms), kafka_ms, sqs_ms) = futures::future::try_join3(
            self.write_results(records, scored, archived),
            self.publish_scored(scored),
            self.send_alerts(alerts),
        )
        .await?;
        Ok(Timings {
            results_uri: Some(results_uri),
            payments_uri: Some(payments_uri),
            s3_ms,
            kafka_ms,
            sqs_ms,
        })
    }

    /// One JSON-lines file per batch, under `results/dt=<day>/`, named by the batch's
    /// first record so a redelivered batch overwrites rather than duplicates; beside it,
    /// at the same time, the payments archive: the same payments as a Sparkov CSV under
    /// `payments/dt=<day>/`, the same name (`.csv`). Returns both URIs and the time the
    /// two PUTs took together.
    async fn write_results(
        &self,
        records: &[BatchRecord],
        scored: &[ScoredRecord],
        archived: &[&Transaction],
    ) -> Result<(String, String, f64), ScoreError> {
        let t = Instant::now();
        let first = records
            .first()
            .map(|r| r.id.as_str())
            .unwrap_or_default()
            .replace('@', "-");
        let day = scored[0]
            .trans_date_trans_time
            .get(..10)
            .unwrap_or("unknown")
            .to_owned();
        let key = format!("results/dt={day}/batch-{first}.jsonl");
        let mut body = Vec::new();
        for s in scored {
            serde_json::to_writer(&mut body, s).expect("records serialize");
            body.push(b'\n');
        }
        let payments_key = format!("payments/dt={day}/batch-{first}.csv");
        let mut payments = Vec::new();
        fraud_core::csv_input::write_transactions(&mut payments, archived.iter().copied())
            .expect("writing CSV to memory cannot fail");
        let (uri, payments_uri) = futures::future::try_join(
            self.results.put(&key, body),
            self.results.put_payments(&payments_key, payments),
        )
        .await
        .map_err(|e| ScoreError::Results(boxed(e)))?;
        Ok((uri, payments_uri, ms(t)))
    }

    /// Every scored record to the scored topic; returns once the broker confirmed them
    /// all (ms taken).
    async fn publish_scored(&self, scored: &[ScoredRecord]) -> Result<f64, ScoreError> {
        let t = Instant::now();
        let sends = scored.iter().map(|s| self.publisher.publish_scored(s));
        for result in futures::future::join_all(sends).await {
            result.map_err(|e| ScoreError::Publish(boxed(e)))?;
        }
        Ok(ms(t))
    }

    /// The alerts (notify passes each one's `trans_num` on as the webhook's idempotency
    /// key); fails if any was refused (ms taken).
    async fn send_alerts(&self, alerts: &[Alert]) -> Result<f64, ScoreError> {
        let t = Instant::now();
        if alerts.is_empty() {
            return Ok(0.0);
        }
        self.alerts
            .send(alerts)
            .await
            .map_err(|e| ScoreError::Alerts(boxed(e)))?;
        Ok(ms(t))
    }
}
