-- Labels in (issue 20). The payments API carries the truth (`is_fraud`) on each payment;
-- the score function keeps it with the result. Later truth (chargebacks, analyst
-- verdicts) arrives in batches through the track function and is kept in `labels`, one
-- row per trans_num: the first label stays (a conflicting second one is refused and
-- reported), and only payments in the ledger are labelled (see fraud_db::labels).
ALTER TABLE scored_transactions ADD COLUMN is_fraud boolean;

CREATE TABLE labels (
    trans_num   text        PRIMARY KEY,
    is_fraud    boolean     NOT NULL,
    labelled_at timestamptz NOT NULL,
    source      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Live quality: one model version's payments in a time window.
CREATE INDEX scored_transactions_version_time ON scored_transactions (model_version, event_time);

-- Live quality per model version and window, recomputed idempotently (upsert on the key).
-- `window_since` / `window_until` are the window's bounds ('-infinity' / 'infinity' when
-- open); the figures that need labels (PR-AUC of the probabilities; precision, recall
-- and F1 of the alert, outcome review or block) are NULL when no payment in the window
-- has one.
CREATE TABLE model_quality (
    model_version text             NOT NULL,
    window_since  timestamptz      NOT NULL,
    window_until  timestamptz      NOT NULL,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    volume        bigint           NOT NULL,
    labelled      bigint           NOT NULL,
    frauds        bigint           NOT NULL,
    alerts        bigint           NOT NULL,
    blocks        bigint           NOT NULL,
    alert_rate    double precision,
    block_rate    double precision,
    pr_auc        double precision,
    alert_precision double precision,
    alert_recall  double precision,
    alert_f1      double precision,
    PRIMARY KEY (model_version, window_since, window_until)
);
