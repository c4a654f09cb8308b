#!/usr/bin/env python3
"""search.py — issue 17's search bar: a page of GET /api/v1/jobs answers
in under 50 ms with one million jobs in the system (`make bench`).

The system of e2e.py (a private Redis and Postgres, wordcount-web built
with -O2; no worker: nothing changes while it measures). JOBS (1,000,000)
job hashes are written straight into Redis by a Lua script run in slices
(the fields submit writes), then their search indexes (common/job_search.h:
every job, HOSTS (1,000) hosts, one page per ten jobs, the error codes of
the failed ones, a 10,000-job batch), as the queue's scripts would have
made them. Of the jobs, 90 % are finished, 4 % failed http_404, 1 % failed
timeout, 4 % queued, 1 % canceled.

It prints the memory the indexes take per job (INFO used_memory before and
after they are written), then, for each kind of search, REPS (50) first
pages (limit 20) and PAGES (5) pages followed by cursor, timed from the
client (keep-alive): median and p95 in ms, and the jobs per page. Results
in tests/bench/results-search.json. Nothing is asserted. Standard library
only.
"""
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import PREFIX, ROOT, System, log  # noqa: E402

JOBS = int(os.environ.get("JOBS", 1_000_000))
HOSTS = int(os.environ.get("HOSTS", 1000))
REPS = int(os.environ.get("REPS", 50))
PAGES = int(os.environ.get("PAGES", 5))
PAGES_PER_URL = 10
SLICE = 50_000
BATCH = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"

# The loader: job i is created at t0 + i ms (so ids and times rise
# together); its page is i // 10 (ten submissions in a row), the host of
# page u is (u // 10) % HOSTS; its state and error code follow i % 100,
# independent of its host. ID is the two scripts' head, up to the loop's
# body over job i.
ID = """
local function id_of(t0, i)
  local ms = t0 + i
  return string.format('%08x-%04x-7%03x-8%03x-%012x', math.floor(ms / 65536), ms % 65536,
                       i % 4096, math.floor(i / 4096) % 4096, i)
end
local function job_of(i, hosts, pages)
  local u, r = math.floor(i / 10), i % 100
  local h = math.floor(u / 10) % hosts
  local host = 'host' .. h .. '.test'
  local st, code = 'finished', nil
  if r < 4 then st, code = 'failed', 'http_404'
  elseif r == 4 then st, code = 'failed', 'timeout'
  elseif r < 9 then st = 'queued'
  elseif r == 9 then st = 'canceled' end
  return host, u, 'https://' .. host .. '/page/' .. u, st, code
end
local p, first, n, t0 = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local hosts, pages, total, batch = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
for i = first, first + n - 1 do
  local id = id_of(t0, i)
  local host, u, url, st, code = job_of(i, hosts, pages)
"""
LOAD_HASHES = ID + """
  local f = {'id', id, 'url', url, 'url_key', url, 'status', st, 'attempts', 1,
             'created_at', t0 + i}
  if st ~= 'queued' then f[#f + 1] = 'finished_at'; f[#f + 1] = t0 + i + 500 end
  if code then
    f[#f + 1] = 'error_code'; f[#f + 1] = code
    f[#f + 1] = 'error'; f[#f + 1] = 'the page answered 404 Not Found'
  end
  if i >= total - 10000 then f[#f + 1] = 'batch'; f[#f + 1] = batch end
  redis.call('HSET', p .. 'job:' .. id, unpack(f))
end
return n
"""
LOAD_INDEXES = ID + """
  redis.call('ZADD', p .. 'ix:all', 0, id)
  redis.call('ZADD', p .. 'ix:host:' .. host, 0, id)
  redis.call('ZADD', p .. 'ix:url:' .. redis.call('LINDEX', 'bench:urls', u), 0, id)
  if code then redis.call('ZADD', p .. 'ix:err:' .. code, 0, id) end
  if i >= total - 10000 then redis.call('RPUSH', p .. 'batch:' .. batch .. ':jobs', id) end
end
return n
"""


def used_memory(sysm):
    for line in sysm.redis_cli("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def load(sysm, script, t0, pages):
    for first in range(0, JOBS, SLICE):
        n = min(SLICE, JOBS - first)
        sysm.redis_cli("EVAL", script, "0", PREFIX, str(first), str(n), str(t0), str(HOSTS),
                       str(pages), str(JOBS), BATCH)


def load_all(sysm):
    pages = max(1, JOBS // PAGES_PER_URL)
    t0 = int(time.time() * 1000) - JOBS - 60_000
    started = time.time()
    lines = []
    for u in range(pages):
        url = f"https://host{(u // 10) % HOSTS}.test/page/{u}"
        lines.append(f"RPUSH bench:urls {hashlib.sha256(url.encode()).hexdigest()}\r\n")
    subprocess.run(["redis-cli", "-p", str(sysm.redis_port), "--pipe"], input="".join(lines),
                   text=True, capture_output=True, check=True)
    base = used_memory(sysm)
    load(sysm, LOAD_HASHES, t0, pages)
    hashes = used_memory(sysm)
    load(sysm, LOAD_INDEXES, t0, pages)
    indexes = used_memory(sysm)
    sysm.redis_cli("DEL", "bench:urls")
    log(f"{JOBS} jobs loaded in {time.time() - started:.1f} s")
    return {"job_hash_bytes_per_job": round((hashes - base) / JOBS, 1),
            "index_bytes_per_job": round((indexes - hashes) / JOBS, 1)}


def get(conn, path):
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        sys.exit(f"bench: {path}: {r.status} {body[:300]!r}")
    return ms, json.loads(body)


def redis_usec(sysm):
    """Redis's time in the search's commands so far (INFO commandstats), µs."""
    total = 0
    for line in sysm.redis_cli("INFO", "commandstats").splitlines():
        if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_zrange:", "cmdstat_lrange:")):
            total += int(line.split("usec=")[1].split(",")[0])
    return total


def measure(sysm, name, query):
    conn = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=30)
    usec0 = redis_usec(sysm)
    first, follow, sizes = [], [], []
    sep = "&" if query else ""
    for _ in range(REPS):
        ms, page = get(conn, f"/api/v1/jobs?{query}{sep}limit=20")
        first.append(ms)
        sizes.append(len(page["jobs"]))
    cursor = page["next_cursor"]
    for _ in range(PAGES):
        if not cursor:
            break
        ms, page = get(conn, f"/api/v1/jobs?{query}{sep}limit=20&cursor={cursor}")
        follow.append(ms)
        sizes.append(len(page["jobs"]))
        cursor = page["next_cursor"]
    conn.close()
    redis_ms = (redis_usec(sysm) - usec0) / 1000 / (len(first) + len(follow))

    def q(v, p):
        v = sorted(v)
        return round(v[min(len(v) - 1, int(p * len(v)))], 2) if v else None
    row = {"search": name, "query": query, "median_ms": round(statistics.median(first), 2),
           "p95_ms": q(first, 0.95),
           "next_median_ms": round(statistics.median(follow), 2) if follow else None,
           "next_p95_ms": q(follow, 0.95), "jobs_per_page": round(statistics.mean(sizes), 1),
           "redis_ms_per_page": round(redis_ms, 2)}
    log(json.dumps(row))
    return row


def main():
    tmp = tempfile.mkdtemp(prefix="wc-bench-search.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(tmp, 0o755)  # the postgres user reads it
    sysm = System(tmp)
    try:
        sysm.start_servers()
        sysm.start_web()
        mem = load_all(sysm)
        h = 7
        searches = [
            ("every job", ""),
            ("host", f"host=host{h}.test"),
            ("url exact", f"url=https://host{h}.test/page/{h * 10}"),
            ("url prefix, whole host", f"url=https://host{h}.test/page/7*"),
            ("url prefix, no whole host", f"url=https://host{h}*"),
            ("status finished (90 %)", "status=finished"),
            ("status queued (4 %)", "status=queued"),
            ("status canceled (1 %)", "status=canceled"),
            ("error http_404 (4 %)", "error=http_404"),
            ("error timeout + host (0.001 %)", f"error=timeout&host=host{h}.test"),
            ("status failed + host", f"status=failed&host=host{h}.test"),
            ("batch (10,000 jobs)", f"batch={BATCH}"),
        ]
        rows = [measure(sysm, name, q) for name, q in searches]
        print(f"\nsearch: {JOBS} jobs, {HOSTS} hosts; indexes {mem['index_bytes_per_job']} B/job "
              f"(job hashes as loaded {mem['job_hash_bytes_per_job']} B/job)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (the machine's other work inflates these)")
        print(f"{'search (ms)':34} {'median':>8} {'p95':>8} {'next med':>9} {'next p95':>9} {'jobs/page':>9} "
              f"{'Redis/page':>10}")
        for r in rows:
            print(f"{r['search']:34} {r['median_ms']:8} {r['p95_ms']:8} {str(r['next_median_ms']):>9} "
                  f"{str(r['next_p95_ms']):>9} {r['jobs_per_page']:9} {r['redis_ms_per_page']:10}")
        with open(f"{ROOT}/tests/bench/results-search.json", "w") as f:
            json.dump({"jobs": JOBS, "hosts": HOSTS, "memory": mem, "searches": rows}, f, indent=1)
    finally:
        sysm.teardown()


if __name__ == "__main__":
    main()
