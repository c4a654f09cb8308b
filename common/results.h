/* results — the Postgres table `results` (migrations/0001_create_results,
 * 0003_fresh_results; range-partitioned by month of created_at since
 * 0004_results_partitioned; the word maps as json since
 * 0005_results_counts_json):
 * its columns, named once for the worker that writes a row
 * (worker/store.c) and for every reader (web/h_*.c, cli/cmd_result.c).
 *
 * Owns: the column list (enum results_col) with each column's SQL name,
 * how it is written (the INSERT's placeholder cast) and how it is read
 * (an expression that gives text the readers parse).
 *
 * Nothing here is positional. The writer fills its values by column and
 * results_insert_sql names those columns in order; a reader lists the
 * columns it wants, results_select_sql selects each under its own name,
 * and results_text / results_int find a value by that name in the
 * answer (PQfnumber), wherever the column sits in the list. Pure
 * functions over caller-owned buffers; no I/O. */
#ifndef WC_RESULTS_H
#define WC_RESULTS_H

#include <libpq-fe.h>
#include <stddef.h>

enum results_col {
    /* Written by the worker, in this order. */
    RESULTS_JOB_ID,
    RESULTS_URL,
    /* JSON object word -> count: written to the json column counts
     * (0005); read as counts, or for rows stored before 0005, the jsonb
     * column result_all. */
    RESULTS_ALL,
    RESULTS_NO_STOP,     /* the same without stop words (counts_no_stop, result_no_stop_words) */
    RESULTS_TOP_WORDS,   /* JSON list of {word, count}, the most frequent first */
    RESULTS_TOTAL_WORDS, /* counts: whole numbers */
    RESULTS_UNIQUE_WORDS,
    RESULTS_TOTAL_NO_STOP,
    RESULTS_UNIQUE_NO_STOP,
    RESULTS_FINAL_URL, /* fetch metadata: each may be NULL */
    RESULTS_HTTP_STATUS,
    RESULTS_CONTENT_TYPE,
    RESULTS_CHARSET,
    RESULTS_BYTES,
    RESULTS_FETCH_MS,
    RESULTS_URL_KEY,       /* the normalised URL (common/url_norm.h): what pages are found by */
    RESULTS_ETAG,          /* the page's ETag, or NULL */
    RESULTS_LAST_MODIFIED, /* the page's Last-Modified, or NULL */
    RESULTS_NOT_MODIFIED,  /* "true": a 304, counts copied from the row before */
    /* The partition key: when the job was submitted, written as ms since
     * the epoch (NULL: now()) and read the same way. One job's rows all
     * carry the same value, so (job_id, created_at) is unique across
     * partitions and the write stays idempotent per job. */
    RESULTS_CREATED_AT,
    /* Set by Postgres. */
    RESULTS_ID,        /* bigserial: the paging cursor */
    RESULTS_STORED_AT, /* when the row was written, ms since the epoch (before
                          0004: its created_at, then the same thing) */
    /* Read only: the first ten of top_words, computed by Postgres. */
    RESULTS_TOP_TEN,
    RESULTS_NCOLS
};

/* results_col_select is how a reader selects column c, as text (NULL for
 * an unknown c). */
const char *results_col_select(enum results_col c);

/* The columns an INSERT writes: RESULTS_JOB_ID .. RESULTS_CREATED_AT. */
#define RESULTS_NWRITTEN (RESULTS_CREATED_AT + 1)

/* The partitions' upkeep, by functions the migration 0004 defines: make
 * the monthly partitions from this month to two months on (answers how
 * many it made), and drop those whose rows are all older than $1 days
 * (answers their names, one per row). Both are safe from many processes
 * at once. */
#define RESULTS_PARTITIONS_SQL "SELECT wordcount_results_partitions(2)"
#define RESULTS_RETAIN_SQL "SELECT wordcount_results_retain($1::integer)"

/* results_col_name returns the column's name in SQL and in a reader's answer. */
const char *results_col_name(enum results_col c);

/* results_insert_sql writes the idempotent INSERT of the written columns
 * ($1 is RESULTS_JOB_ID, ... in enum order; a second insert for the same
 * job and created_at does nothing). Returns 0, or -1 when out is too small. */
int results_insert_sql(char *out, size_t len);
/* results_insert_rows_sql writes the same INSERT for nrows rows in one
 * statement (row r's columns are $(r * RESULTS_NWRITTEN + 1) on). A job
 * id twice in one statement stores one row. Returns 0, or -1 when out is
 * too small or nrows < 1. */
int results_insert_rows_sql(char *out, size_t len, int nrows);

/* results_copy_sql writes the INSERT of a row that repeats stored row
 * $<RESULTS_NWRITTEN + 1> (a 304: the page has not changed since): the
 * same parameters as results_insert_sql, where every column but job_id,
 * url, url_key, not_modified and created_at falls back to the stored row's value
 * when its parameter is NULL (counts, content type, charset and, when
 * the 304 sent none, the validators). Nothing is inserted when that row
 * is gone. Returns 0, or -1 when out is too small. */
int results_copy_sql(char *out, size_t len);

/* results_select_sql writes "SELECT <col> AS <name>, ..." for cols[0..n),
 * then tail (" FROM results WHERE ..."). The expressions name columns
 * bare, so the tail's FROM has the results table alone (an alias is
 * fine). Returns 0, or -1 when out is too small. */
int results_select_sql(char *out, size_t len, const enum results_col *cols, size_t n,
                       const char *tail);

/* results_text returns column c of row as text (valid while res is), or
 * NULL when it is SQL NULL or was not selected. */
const char *results_text(const PGresult *res, int row, enum results_col c);
/* results_int returns column c of row as a number, 0 when NULL or not selected. */
long long results_int(const PGresult *res, int row, enum results_col c);

#endif
