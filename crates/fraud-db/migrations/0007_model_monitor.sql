-- The monitor (issue 20): per model version and window, drift against the training
-- distribution and the verdict. The window's volume, rates and label-based figures are
-- in model_quality under the same key (the monitor computes both); the cost at the
-- model's thresholds is here because it needs the payments' amounts.
-- `score_psi` / `max_feature_psi` are NULL when the model's artifact has no training
-- distribution (schema < 4: `not_judged` says PSI cannot be computed) or the window has
-- nothing to compare; `feature_psi` is [{feature, psi}] in feature order,
-- `score_histogram` {bins, training, live} (shares), `findings` the thresholds crossed.
CREATE TABLE model_monitor (
    model_version   text             NOT NULL,
    window_since    timestamptz      NOT NULL,
    window_until    timestamptz      NOT NULL,
    computed_at     timestamptz      NOT NULL DEFAULT now(),
    volume          bigint           NOT NULL,
    feature_rows    bigint           NOT NULL,
    score_psi       double precision,
    max_feature_psi double precision,
    max_feature     text,
    feature_psi     jsonb            NOT NULL,
    score_histogram jsonb            NOT NULL,
    cost            jsonb,
    alert           boolean          NOT NULL,
    findings        jsonb            NOT NULL,
    not_judged      jsonb            NOT NULL,
    report_uri      text,
    PRIMARY KEY (model_version, window_since, window_until)
);
