DROP INDEX results_url_key_created_at_idx;
ALTER TABLE results DROP COLUMN not_modified;
ALTER TABLE results DROP COLUMN last_modified;
ALTER TABLE results DROP COLUMN etag;
ALTER TABLE results DROP COLUMN url_key;
