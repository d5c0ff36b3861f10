-- One row per trained model: what it was trained on, how it scored, where its
-- artifact lives and whether it was promoted. The headline test-slice numbers are
-- columns (to sort and compare runs in SQL); the full parameters and metrics are kept
-- as JSON so rows written by older builds stay readable.
CREATE TABLE training_runs (
    run_id          uuid             PRIMARY KEY,
    model_version   text             NOT NULL UNIQUE CHECK (model_version <> ''),
    created_at      timestamptz      NOT NULL,
    recorded_at     timestamptz      NOT NULL DEFAULT now(),
    learner         text             NOT NULL,
    data_uri        text             NOT NULL,
    data_sha256     text             NOT NULL,
    train_rows      bigint           NOT NULL CHECK (train_rows >= 0),
    validation_rows bigint           NOT NULL CHECK (validation_rows >= 0),
    test_rows       bigint           NOT NULL CHECK (test_rows >= 0),
    threshold       double precision NOT NULL,
    pr_auc          double precision NOT NULL,
    roc_auc         double precision NOT NULL,
    f1              double precision NOT NULL,
    params          jsonb            NOT NULL,
    metrics         jsonb            NOT NULL,
    artifact_uri    text             NOT NULL CHECK (artifact_uri <> ''),
    promoted        boolean          NOT NULL DEFAULT false
);

-- `list_runs` reads the newest runs first.
CREATE INDEX training_runs_created_at ON training_runs (created_at DESC, model_version DESC);
