/* queue_op — plumbing shared by queue*.c and batch*.c (private to them).
 *
 * Owns: struct queue_op, the per-call state that travels through a Redis
 * command to its reply (the user callback and argument, plus small copies
 * the reply handler needs); reply checking; and parsing of a job hash. */
#ifndef WC_QUEUE_OP_H
#define WC_QUEUE_OP_H

#include <stdint.h>

#include "common/queue.h"

struct queue_op;
/* The second step of an operation that reads job ids first
 * (queue_op_read_ids): it sends the script that needs their keys and
 * returns 0 (op travels with it), or a negative UV_* error (op untouched).
 * With nothing to do it may answer and free op itself, and return 0. */
typedef int (*queue_op_ids_step)(struct queue_op *op, const char *const *ids, size_t n);
/* How a failure reaches the operation's callback. */
typedef void (*queue_op_fail_fn)(struct queue_op *op, int status, const char *msg);

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
    char *cursor;           /* queue_rescue: the caller's cursor, updated from the reply */
    queue_op_ids_step step; /* queue_op_read_ids */
    queue_op_fail_fn fail;
    void *ctx; /* an operation's own state, freed with it by ctx_free */
    void (*ctx_free)(void *ctx);
};

struct queue_op *queue_op_new(struct queue *q, void *arg);
void queue_op_free(struct queue_op *op);
/* queue_op_error returns 0 for a usable reply, else a UV_* status and a message. */
int queue_op_error(const redisReply *r, const char *errstr, const char **msg);
/* queue_op_eval sends EVAL script with keys and args (each at most
 * QUEUE_OP_EVAL_MAX); UV_E2BIG beyond. redis_uv copies the arguments; cb gets
 * arg (an operation, or the caller's own state: common/batch*.c). */
#define QUEUE_OP_EVAL_MAX 4096
int queue_op_eval(struct queue *q, redis_uv_cb cb, void *arg, const char *script, int nkeys,
                  const char *const *keys, int nargs, const char *const *args);
/* queue_op_eval_ids is queue_op_eval for scripts that touch jobs named by
 * data (ids read from a set just before): KEYS are keys[0..nkeys) then the
 * job hash of each id (with events: the job hash and the job's event
 * stream of each id, in pairs), ARGV are args[0..nargs) then the ids. */
int queue_op_eval_ids(struct queue *q, redis_uv_cb cb, struct queue_op *op, const char *script,
                      int nkeys, const char *const *keys, int nargs, const char *const *args,
                      size_t nids, const char *const *ids, bool events);
/* queue_op_read_ids sends argv, a read that answers job ids (ZRANGE and
 * the like), and hands the ids to step; a failure of either goes to fail,
 * and op is freed. Scripts get each key in KEYS[], so a script about jobs
 * named by data runs as this second step. Returns what redis_uv_command
 * does (on < 0, op is the caller's). */
int queue_op_read_ids(struct queue_op *op, int argc, const char **argv, queue_op_ids_step step,
                      queue_op_fail_fn fail);
/* queue_op_on_int answers op's queue_done_cb with an integer reply, and frees op. */
void queue_op_on_int(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg);
/* queue_op_done_now answers op's queue_done_cb with value and frees op. */
void queue_op_done_now(struct queue_op *op, long long value);
/* queue_op_fail_done is the fail function of operations with a queue_done_cb. */
void queue_op_fail_done(struct queue_op *op, int status, const char *msg);
/* queue_op_job parses an HGETALL-style array into j (job_free it); -1 if malformed. */
int queue_op_job(const redisReply *r, struct job *j);
/* The search indexes' upkeep arguments (common/lua/lib/ix.lua): floor,
 * "(" and the UUIDv7 time prefix of now minus the horizon (the ids of
 * jobs older than that have expired: QUEUE_LIVE_TTL_S bounds a job's
 * life, result_ttl_s its hash's after its end), and the horizon in ms. */
struct queue_ix_args {
    char floor[24];
    char ttl_ms[24];
};
void queue_op_ix_args(const struct queue *q, int64_t now, struct queue_ix_args *out);
/* queue_op_ms formats ms into out (24 bytes). */
const char *queue_op_ms(int64_t ms, char out[24]);

#endif
