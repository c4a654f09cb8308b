-- The word maps are stored as json, not jsonb (issue 19). jsonb parses
-- every map into a tree, sorts its keys and converts each count to a
-- numeric: in a drain's profile, about a fifth of Postgres's CPU per row
-- (qsort_arg, memcmp, json_lex, numeric_in, copying). json keeps the text
-- as sent, after checking it is JSON; nothing reads the maps inside SQL
-- (the API streams them out whole), so nothing is lost.
--
-- Changing a column's type would rewrite every row under an ACCESS
-- EXCLUSIVE lock (minutes on a million rows), so the maps get new
-- columns, counts and counts_no_stop, written from now on; the old jsonb
-- columns keep the rows stored before and become nullable, and readers
-- take coalesce(new, old) (common/results.c). A CHECK, NOT VALID so that
-- no row is scanned, makes every new row carry one of each.
--
-- The index on the URL as submitted goes: every lookup is by the
-- normalised URL (url_key, which has its own index), and each row paid
-- for one more text index insert.
--
-- What it locks, and for how long: ADD COLUMN without a default, DROP
-- NOT NULL, a NOT VALID CHECK and DROP INDEX change only the catalog, on
-- results and each partition, under an ACCESS EXCLUSIVE lock held for
-- milliseconds whatever the number of rows; lock_timeout bounds the wait
-- for transactions already using the table (the migration fails after
-- 5 s and can be run again).
SET LOCAL lock_timeout = '5s';
ALTER TABLE results
    ADD COLUMN counts json COMPRESSION lz4,
    ADD COLUMN counts_no_stop json COMPRESSION lz4,
    ALTER COLUMN result_all DROP NOT NULL,
    ALTER COLUMN result_no_stop_words DROP NOT NULL;
ALTER TABLE results ADD CONSTRAINT results_counts_present
    CHECK ((counts IS NOT NULL OR result_all IS NOT NULL)
           AND (counts_no_stop IS NOT NULL OR result_no_stop_words IS NOT NULL)) NOT VALID;
DROP INDEX results_url_created_at_idx;
