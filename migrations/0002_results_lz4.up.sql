-- The word maps (result_all, result_no_stop_words) and top_words are
-- compressed with lz4 instead of pglz (issue 19: pglz_compress alone was
-- 8 % of all CPU of a drain; lz4 compresses these maps several times
-- faster for a few per cent more bytes).
--
-- What it locks, and for how long: SET COMPRESSION changes only the
-- catalog. It takes an ACCESS EXCLUSIVE lock on results for the few
-- milliseconds that takes, with no rewrite and no scan, whatever the
-- number of rows (a million rows: the same milliseconds). The lock must
-- wait for transactions already using the table, and queries arriving
-- meanwhile queue behind it, so lock_timeout bounds that wait: on a busy
-- table the migration fails after 5 s instead of stalling the app, and can
-- simply be run again.
--
-- Rows already stored keep their pglz values (Postgres reads both kinds);
-- only values written from now on are lz4. To recompress old rows, rewrite
-- them at a quiet time (VACUUM FULL results; it locks the table while it
-- copies it).
SET LOCAL lock_timeout = '5s';
ALTER TABLE results
    ALTER COLUMN result_all SET COMPRESSION lz4,
    ALTER COLUMN result_no_stop_words SET COMPRESSION lz4,
    ALTER COLUMN top_words SET COMPRESSION lz4;
