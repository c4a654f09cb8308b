-- results, range-partitioned by month of created_at (issue 20), so a table
-- that grows for years stays a set of monthly tables: old months drop
-- whole (RESULT_RETENTION_DAYS) instead of being deleted row by row, and
-- every index stays the size of a month.
--
-- created_at is now written by the worker: the time the job was submitted
-- (common/results.h). A job's rows thus always carry the same created_at
-- and land in the same partition, and (job_id, created_at), which a
-- partitioned table can hold unique, keeps the write idempotent per job
-- as job_id alone did. When the row was written is kept beside it, in
-- stored_at (NULL for rows written before this migration, whose
-- created_at was the time of their write); freshness (max_age) counts
-- from it.
--
-- The rows already stored are not copied: the old table, when it has
-- rows, becomes the partition results_legacy for every time up to the end
-- of the month of its newest row (UTC); when empty it is dropped. Monthly
-- partitions (results_YYYY_MM) follow: wordcount_results_partitions()
-- makes last month's to two months on; the worker calls it at start and
-- every hour, and `wordcount-migrate partitions` does too. A row for a
-- month without a partition (a job submitted long ago) goes to
-- results_default rather than fail; making that month's partition later
-- moves such rows into it.
--
-- What it locks, and for how long: everything runs in one transaction
-- under ACCESS EXCLUSIVE on the old table. Renames and catalog changes
-- take milliseconds; attaching the old table builds its two new unique
-- indexes, (id, created_at) and (job_id, created_at), and scans it to
-- check its rows fit its range: a million rows took 1.5 s here (6 s while
-- the machine was busy with other work), during which reads and writes of
-- results wait. lock_timeout bounds the wait for the lock itself: on a
-- busy table the migration fails after 5 s and can be run again.
SET LOCAL lock_timeout = '5s';

ALTER TABLE results RENAME TO results_legacy;
-- No default for the rows there (no rewrite; they stay NULL), now() for new ones.
ALTER TABLE results_legacy ADD COLUMN stored_at timestamptz;
ALTER TABLE results_legacy ALTER COLUMN stored_at SET DEFAULT now();
ALTER TABLE results_legacy DROP CONSTRAINT results_pkey;
ALTER TABLE results_legacy DROP CONSTRAINT results_job_id_key;
ALTER INDEX results_url_created_at_idx RENAME TO results_legacy_url_created_at_idx;
ALTER INDEX results_url_key_created_at_idx RENAME TO results_legacy_url_key_created_at_idx;

CREATE TABLE results (
    LIKE results_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION
) PARTITION BY RANGE (created_at);
ALTER TABLE results ADD CONSTRAINT results_pkey PRIMARY KEY (id, created_at);
ALTER TABLE results ADD CONSTRAINT results_job_id_created_at_key UNIQUE (job_id, created_at);
CREATE INDEX results_url_created_at_idx ON results (url, created_at DESC, id DESC);
CREATE INDEX results_url_key_created_at_idx ON results (url_key, created_at DESC, id DESC);
-- The ids go on from the same sequence, which now belongs to the new
-- table (dropping the legacy partition must not drop it).
ALTER SEQUENCE results_id_seq OWNED BY results.id;

CREATE TABLE results_default PARTITION OF results DEFAULT;

DO $$
DECLARE
    newest timestamptz := (SELECT max(created_at) FROM results_legacy);
BEGIN
    IF newest IS NULL THEN
        DROP TABLE results_legacy;
    ELSE
        EXECUTE format('ALTER TABLE results ATTACH PARTITION results_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                       (date_trunc('month', newest AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
    END IF;
END
$$;

-- wordcount_results_partitions makes the monthly partitions (UTC months,
-- named results_YYYY_MM) from last month to months_ahead months on, each
-- unless a partition covers it already, moving into it any rows
-- results_default holds for its month; returns how many it made. Safe to
-- call from many processes at once (one at a time, by an advisory lock).
CREATE FUNCTION wordcount_results_partitions(months_ahead integer DEFAULT 2)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    this_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    month_start timestamptz;
    month_end timestamptz;
    part text;
    made integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be 0 to 120, not %', months_ahead;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('wordcount_results_partitions'));
    PERFORM set_config('lock_timeout', '5s', true);
    FOR i IN -1..months_ahead LOOP
        month_start := (this_month + make_interval(months => i)) AT TIME ZONE 'UTC';
        month_end := (this_month + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pg_inherits, results_partition_range(inhrelid) r
            WHERE inhparent = 'results'::regclass AND NOT r.is_default
              AND (r.lo IS NULL OR r.lo < month_end) AND (r.hi IS NULL OR r.hi > month_start));
        part := 'results_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
        EXECUTE format('CREATE TABLE %I (LIKE results INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING COMPRESSION)', part);
        EXECUTE format('WITH moved AS (DELETE FROM results_default WHERE created_at >= %L'
                       ' AND created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
                       month_start, month_end, part);
        EXECUTE format('ALTER TABLE results ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, month_start, month_end);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;

-- results_partition_range reads a partition's bounds from the catalog
-- (lo, hi NULL: MINVALUE or MAXVALUE; both NULL for the default partition).
CREATE FUNCTION results_partition_range(part oid, OUT lo timestamptz, OUT hi timestamptz,
                                        OUT is_default boolean)
LANGUAGE sql STABLE AS $$
    SELECT nullif(m[1], 'MINVALUE')::timestamptz, nullif(m[2], 'MAXVALUE')::timestamptz,
           b.expr = 'DEFAULT'
    FROM (SELECT pg_get_expr(relpartbound, oid) AS expr FROM pg_class WHERE oid = part) b
    LEFT JOIN LATERAL regexp_match(b.expr,
        '^FOR VALUES FROM \(''?([^'')]*)''?\) TO \(''?([^'')]*)''?\)$') m ON true
$$;

-- wordcount_results_retain drops every partition of results whose rows
-- are all older than keep_days days (its upper bound is at or before
-- now() - keep_days) and returns the names it dropped. The data goes for
-- good: this is what RESULT_RETENTION_DAYS asks for. (results_default has
-- no bound and is never dropped.) Dropping a partition takes a brief
-- ACCESS EXCLUSIVE lock on results; lock_timeout keeps it from queueing
-- the app's queries behind a long one for more than 5 s (it fails and the
-- next upkeep tries again).
CREATE FUNCTION wordcount_results_retain(keep_days integer)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    IF keep_days IS NULL OR keep_days < 1 THEN
        RAISE EXCEPTION 'keep_days must be 1 or more, not %', keep_days;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('wordcount_results_partitions'));
    PERFORM set_config('lock_timeout', '5s', true);
    FOR part IN
        SELECT c.relname FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid,
               results_partition_range(c.oid) r
        WHERE inhparent = 'results'::regclass
          AND r.hi IS NOT NULL AND r.hi <= now() - make_interval(days => keep_days)
        ORDER BY r.hi
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
END
$$;

SELECT wordcount_results_partitions(2);
