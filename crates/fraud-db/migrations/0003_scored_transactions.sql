-- Idempotency ledger of the score function: one row per transaction ever scored. A
-- redelivered batch inserts nothing new (ON CONFLICT DO NOTHING), so it is recognised
-- and never counted, alerted or added to card history twice.
CREATE TABLE scored_transactions (
    trans_num     text             PRIMARY KEY,
    cc_num        numeric(20, 0)   NOT NULL
                  CHECK (cc_num >= 0 AND cc_num <= 18446744073709551615),
    event_time    timestamptz      NOT NULL,
    probability   double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
    decision      text             NOT NULL CHECK (decision IN ('approve', 'block')),
    model_version text             NOT NULL,
    scored_at     timestamptz      NOT NULL DEFAULT now()
);

-- Investigating a card: its scored payments in time order.
CREATE INDEX scored_transactions_card_time ON scored_transactions (cc_num, event_time);
