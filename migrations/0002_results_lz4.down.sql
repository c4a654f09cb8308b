-- Back to the server's default compression (pglz); like the upgrade, a
-- catalog change under a brief ACCESS EXCLUSIVE lock. Values written as
-- lz4 stay lz4 until rewritten.
SET LOCAL lock_timeout = '5s';
ALTER TABLE results
    ALTER COLUMN result_all SET COMPRESSION default,
    ALTER COLUMN result_no_stop_words SET COMPRESSION default,
    ALTER COLUMN top_words SET COMPRESSION default;
