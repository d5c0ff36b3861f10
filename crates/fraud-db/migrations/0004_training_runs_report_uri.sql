-- Where the run's report (index.html and its figures) is stored, e.g.
-- s3://fraud-models/models/<version>/report/index.html. NULL for runs recorded before
-- reports existed, or whose report could not be written.
ALTER TABLE training_runs ADD COLUMN report_uri text CHECK (report_uri <> '');
