/* queue_op — plumbing shared by queue.c and queue_work.c (private to them).
 *
 * Owns: struct queue_op, the per-call state that travels through a Redis
 * command to its reply (the user callback and argument, plus small copies
 * the reply handler needs); reply checking; and parsing of a job hash. */
#ifndef WC_QUEUE_OP_H
#define WC_QUEUE_OP_H

#include <stdint.h>

#include "common/queue.h"

struct queue_op {
    struct queue *q;
    union {
        queue_job_cb job;
        queue_done_cb done;
        queue_take_cb take;
        queue_cancel_cb cancel;
        queue_list_cb list;
        queue_renew_cb renew;
        queue_submit_cb submit;
    } cb;
    void *arg;
    char id[JOB_ID_LEN + 1];
    char *url;
    int64_t now;
    int count;
    char *cursor; /* queue_rescue: the caller's cursor, updated from the reply */
};

struct queue_op *queue_op_new(struct queue *q, void *arg);
void queue_op_free(struct queue_op *op);
/* queue_op_error returns 0 for a usable reply, else a UV_* status and a message. */
int queue_op_error(const redisReply *r, const char *errstr, const char **msg);
/* queue_op_eval sends EVAL script with keys and args (each at most
 * QUEUE_OP_EVAL_MAX); UV_E2BIG beyond. redis_uv copies the arguments. */
#define QUEUE_OP_EVAL_MAX 4096
int queue_op_eval(struct queue *q, redis_uv_cb cb, struct queue_op *op, const char *script,
                  int nkeys, const char *const *keys, int nargs, const char *const *args);
/* queue_op_eval_ids is queue_op_eval for scripts that touch jobs named by
 * data (ids read from a set just before): KEYS are keys[0..nkeys) then the
 * job hash of each id, ARGV are args[0..nargs) then the ids. */
int queue_op_eval_ids(struct queue *q, redis_uv_cb cb, struct queue_op *op, const char *script,
                      int nkeys, const char *const *keys, int nargs, const char *const *args,
                      size_t nids, const char *const *ids);
/* queue_op_ids collects the strings of an array reply (valid while the
 * reply is); returns how many, or -1 when r is not an array of strings.
 * *out is malloc'd (free it) and NULL when there are none. */
int queue_op_ids(const redisReply *r, const char ***out);
/* queue_op_job parses an HGETALL-style array into j (job_free it); -1 if malformed. */
int queue_op_job(const redisReply *r, struct job *j);
/* queue_op_ms formats ms into out (24 bytes). */
const char *queue_op_ms(int64_t ms, char out[24]);

#endif
