-- Back to the jsonb columns: the rows written since the upgrade have
-- their maps copied into them (an UPDATE of those rows: on a big table,
-- plan the time), then the json columns go, the jsonb ones are NOT NULL
-- again (a scan) and the index on the URL as submitted is built again.
SET LOCAL lock_timeout = '5s';
UPDATE results SET result_all = counts::jsonb WHERE result_all IS NULL;
UPDATE results SET result_no_stop_words = counts_no_stop::jsonb
    WHERE result_no_stop_words IS NULL;
ALTER TABLE results
    DROP CONSTRAINT results_counts_present,
    DROP COLUMN counts,
    DROP COLUMN counts_no_stop,
    ALTER COLUMN result_all SET NOT NULL,
    ALTER COLUMN result_no_stop_words SET NOT NULL;
CREATE INDEX results_url_created_at_idx ON results (url, created_at DESC, id DESC);
