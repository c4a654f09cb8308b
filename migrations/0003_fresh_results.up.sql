-- One key per page and conditional re-fetches (issue 17).
-- url_key is the normalised URL (common/url_norm.h): history, freshness
-- (max_age) and dedup look pages up by it; url stays as submitted. Rows
-- stored before it existed take their url as key (normalising needs curl,
-- not SQL; they were accepted by the same URL check).
-- etag and last_modified are the page's validators, sent back as
-- If-None-Match / If-Modified-Since on its next fetch; not_modified marks a
-- row whose fetch was answered 304 (its counts are the previous row's).
ALTER TABLE results ADD COLUMN url_key text;
UPDATE results SET url_key = url;
ALTER TABLE results ALTER COLUMN url_key SET NOT NULL;
ALTER TABLE results ADD COLUMN etag text;
ALTER TABLE results ADD COLUMN last_modified text;
ALTER TABLE results ADD COLUMN not_modified boolean NOT NULL DEFAULT false;
CREATE INDEX results_url_key_created_at_idx ON results (url_key, created_at DESC, id DESC);
