-- Back to one plain table: every row is copied out of the partitions (a
-- full rewrite under ACCESS EXCLUSIVE: on a big table, plan the time).
-- A job stored twice under two created_at values (only possible for a job
-- with no submission time) keeps its first row.
SET LOCAL lock_timeout = '5s';
DROP FUNCTION wordcount_results_retain(integer);
DROP FUNCTION wordcount_results_partitions(integer);
DROP FUNCTION results_partition_range(oid);
ALTER TABLE results RENAME TO results_partitioned;
ALTER TABLE results_partitioned RENAME CONSTRAINT results_pkey TO results_partitioned_pkey;
ALTER INDEX results_url_created_at_idx RENAME TO results_partitioned_url_created_at_idx;
ALTER INDEX results_url_key_created_at_idx RENAME TO results_partitioned_url_key_created_at_idx;
CREATE TABLE results (
    LIKE results_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION
);
INSERT INTO results
    SELECT DISTINCT ON (job_id) * FROM results_partitioned ORDER BY job_id, id;
ALTER SEQUENCE results_id_seq OWNED BY results.id;
DROP TABLE results_partitioned;
ALTER TABLE results DROP COLUMN stored_at;
ALTER TABLE results ADD CONSTRAINT results_pkey PRIMARY KEY (id);
ALTER TABLE results ADD CONSTRAINT results_job_id_key UNIQUE (job_id);
CREATE INDEX results_url_created_at_idx ON results (url, created_at DESC, id DESC);
CREATE INDEX results_url_key_created_at_idx ON results (url_key, created_at DESC, id DESC);
