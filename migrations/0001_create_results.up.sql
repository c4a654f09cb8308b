-- Results of finished jobs: one row per job (job_id is unique, so a job run
-- twice stores one result). result_all and result_no_stop_words are JSON
-- objects word -> count, as in the original app; top_words is the sorted
-- list of the 100 most frequent words without stop words.
CREATE TABLE results (
    id                   bigserial PRIMARY KEY,
    job_id               uuid NOT NULL UNIQUE,
    url                  text NOT NULL,
    result_all           jsonb NOT NULL,
    result_no_stop_words jsonb NOT NULL,
    top_words            jsonb NOT NULL,
    total_words          bigint NOT NULL CHECK (total_words >= 0),
    unique_words         integer NOT NULL CHECK (unique_words >= 0),
    total_words_no_stop  bigint NOT NULL CHECK (total_words_no_stop >= 0),
    unique_words_no_stop integer NOT NULL CHECK (unique_words_no_stop >= 0),
    final_url            text,
    http_status          integer,
    content_type         text,
    charset              text,
    bytes                bigint,
    fetch_ms             integer,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX results_url_created_at_idx ON results (url, created_at DESC, id DESC);
