-- Synchronous decisions share the ledger with the stream. A payment decided through the
-- decision API keeps the answer it was given (so the same trans_num asked again gets it
-- back) and is marked `emitted = false` until the stream meets the payment and writes
-- its scored record and alert once. The outcome (approve / review / block, after the
-- rules) is kept for every row; older rows have none.
ALTER TABLE scored_transactions
    ADD COLUMN outcome text CHECK (outcome IN ('approve', 'review', 'block')),
    ADD COLUMN via     text    NOT NULL DEFAULT 'stream' CHECK (via IN ('stream', 'decide')),
    ADD COLUMN answer  jsonb,
    ADD COLUMN emitted boolean NOT NULL DEFAULT true;

-- The stream looks for decided payments whose record is still to be written.
CREATE INDEX scored_transactions_pending ON scored_transactions (trans_num) WHERE NOT emitted;
