/* job_search_shards — a job search (common/job_search.h) over several
 * Redis shards (common/shards.h), merged newest first.
 *
 * A page's jobs are on its host's shard and a batch's on the batch's, so
 * those searches ask that one shard. Every other search asks each shard
 * for a page from the same cursor and merges the answers by id (ids sort
 * by creation time; the cursor is the last id handed out, so it works on
 * every shard). A shard that stopped early (it examined
 * JOB_SEARCH_EXAMINE candidates, or filled its page) has answered for
 * the ids above where it stopped only: the merged page ends there, and
 * the next cursor goes on from it, so nothing is skipped or repeated.
 *
 * Callbacks follow queue.h's contract; the jobs and the cursor handed to
 * one are valid only during it. */
#ifndef WC_JOB_SEARCH_SHARDS_H
#define WC_JOB_SEARCH_SHARDS_H

#include "common/job_search.h"

/* job_search_shards is job_search over the n shards' queues qs (shard i's
 * at qs[i]; the array is copied). One shard: job_search on it. */
int job_search_shards(struct queue *const *qs, int n, const struct job_search_filter *f,
                      const char *cursor, int limit, job_search_cb cb, void *arg);

#endif
