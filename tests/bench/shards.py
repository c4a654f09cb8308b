#!/usr/bin/env python3
"""shards.py — the queue on 1, 2 and 3 Redis shards (issue 20's curve),
part of `make bench`.

The system of e2e.py (a private Postgres, nginx serving the PostgreSQL
manual on loopback at 127.0.0.2 ... 127.0.0.51, wordcount-web with
WEB_CONCURRENCY=2 and wordcount-worker built with -O2) with up to
max(SHARDS) private Redis servers. For each shard count n in SHARDS
(default "1 2 3"), RUNS times (default 3), taking turns:

  submit   wrk POSTs distinct URLs for SUBMIT_SECONDS (3), spread over
           the 50 loopback hosts (a job's shard is its host's), with no
           worker running: submissions per second, and how the jobs spread
           over the shards (each shard's stream length)
  drain    the workers (WORKERS, "2x64") start and take every queued job:
           jobs per second from their start to the last row's commit
  cpu      CPU ms per job of each process kind over both phases
           (/proc/<pid>/stat; Redis summed over its servers, and the
           busiest server's share: what one Redis core must carry)
  redis    the queue's scripted steps straight against n servers at once
           (one redis-benchmark per server, EVALSHA of a job's steps):
           what the Redis side alone carries with n shards

Every number is printed with the medians; JSON goes to
tests/bench/results-shards.json (git-ignored). Nothing is asserted. On a
2-core machine the whole system is bound by its cores (web, workers and
Postgres share them with Redis), so the submit and drain curves flatten
at once; the Redis curve shows what a shard adds until the cores are
full. Standard library only.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import BIN, MANUAL, PREFIX, ROOT, System, free_port, log, proc_tree_ticks, sh, wait_drained  # noqa: E402

SHARDS = [int(x) for x in os.environ.get("SHARDS", "1 2 3").split()]
RUNS = int(os.environ.get("RUNS", 3))
SUBMIT_SECONDS = int(os.environ.get("SUBMIT_SECONDS", 3))
WORKERS = os.environ.get("WORKERS", "2x64")
WRK_CONNS = int(os.environ.get("WRK_CONNS", 32))


class Fleet:
    """Shard 0 is the System's own Redis; shards 1.. are started here."""

    def __init__(self, sysm, n):
        self.sysm = sysm
        self.ports = [sysm.redis_port]
        self.dirs = [f"{sysm.tmp}/redis"]
        self.urls = [sysm.redis]
        for i in range(1, n):
            port, d = free_port(), f"{sysm.tmp}/redis-{i}"
            out = sh(f"{ROOT}/deploy/redis.sh", "start", d, str(port))
            self.urls.append(re.search(r"^REDIS_URL=(\S+)", out, re.M).group(1))
            self.ports.append(port)
            self.dirs.append(d)

    def cli(self, i, *args):
        return subprocess.run(["redis-cli", "-p", str(self.ports[i]), *args], text=True,
                              capture_output=True, check=True).stdout

    def pid(self, i):
        return int(open(f"{self.dirs[i]}/redis.pid").read())

    def queue_key(self, i):
        return f"{PREFIX}queue" if i == 0 else f"{PREFIX}{{s{i}}}queue"

    def calls(self, n):
        """Calls of each Redis command so far, summed over the first n
        servers (INFO commandstats: the commands inside scripts count)."""
        out = {}
        for i in range(n):
            for m in re.finditer(r"^cmdstat_(\w+):calls=(\d+)", self.cli(i, "INFO", "commandstats"), re.M):
                out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
        return out

    def stop(self):
        for d in self.dirs[1:]:
            subprocess.run([f"{ROOT}/deploy/redis.sh", "stop", d], capture_output=True)


def wrk_script(sysm, pages, path):
    """A wrk script POSTing distinct URLs over the hosts (two threads)."""
    names = ",".join(f'"{p}"' for p in pages)
    open(path, "w").write(f"""
local pages = {{{names}}}
local hosts, port = {len(sysm.polite_ips)}, {sysm.nginx_port}
local headers = {{["Content-Type"] = "application/json"}}
counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local sent = 0
request = function()
  sent = sent + 1
  local k = sent * 2 + tid
  local url = string.format("http://127.0.0.%d:%d/%s?job=%d", 2 + k % hosts, port, pages[1 + k % #pages], k)
  return wrk.format("POST", "/api/v1/jobs", headers, '{{"url": "' .. url .. '", "fresh": true}}')
end
""")


def ticks(sysm, fleet, n):
    """CPU clock ticks so far of each process kind, and of each Redis."""
    t = {"web": proc_tree_ticks(sysm.procs["web"].pid),
         "postgres": proc_tree_ticks(int(open(f"{sysm.tmp}/pg/data/postmaster.pid").readline())),
         "nginx": proc_tree_ticks(int(open(f"{sysm.tmp}/nginx.pid").read().split()[0]))}
    if "worker" in sysm.procs:
        t["worker"] = proc_tree_ticks(sysm.procs["worker"].pid)
    t["redis_each"] = [proc_tree_ticks(fleet.pid(i)) for i in range(n)]
    return t


def one_run(sysm, fleet, n, script):
    sysm.stop("worker")
    sysm.stop("web")
    for i in range(len(fleet.ports)):
        fleet.cli(i, "FLUSHALL")
    sysm.psql("TRUNCATE results")
    sysm.env["REDIS_URL"] = ",".join(fleet.urls[:n])
    sysm.start_web(processes=2)
    hz = os.sysconf("SC_CLK_TCK")
    calls0 = fleet.calls(n)
    t_a = ticks(sysm, fleet, n)
    out = sh("wrk", "-t2", f"-c{WRK_CONNS}", f"-d{SUBMIT_SECONDS}s", "-s", script, f"http://127.0.0.1:{sysm.web_port}/api/v1/jobs")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    spread = [int(fleet.cli(i, "XLEN", fleet.queue_key(i)).strip() or 0) for i in range(n)]
    queued = sum(spread)
    t_b = ticks(sysm, fleet, n)
    procs, conc = WORKERS.split("x")
    t0 = time.time()
    sysm.start("worker", [f"{BIN}/wordcount-worker"], WORKER_PROCESSES=procs, WORKER_CONCURRENCY=conc)
    failed = wait_drained(sysm, queued, t0)
    t_c = ticks(sysm, fleet, n)
    calls1 = fleet.calls(n)
    sysm.stop("worker")
    end = float(sysm.psql("SELECT extract(epoch FROM max(stored_at)) FROM results").strip())
    rows = int(sysm.psql("SELECT count(*) FROM results").strip())
    per = max(rows, 1)
    ms = lambda a, b: round(1000 * (b - a) / hz / per, 3)
    cpu = {k: ms(t_a.get(k, 0), t_c[k]) for k in ("web", "postgres", "nginx", "worker")}
    each = [ms(a, c) for a, c in zip(t_a["redis_each"], t_c["redis_each"])]
    cpu["redis"] = round(sum(each), 3)
    cpu["redis_busiest"] = max(each)
    calls = {k: round((v - calls0.get(k, 0)) / per, 2) for k, v in calls1.items() if v - calls0.get(k, 0) > 0}
    r = {"shards": n, "redis_commands_per_job": round(sum(calls.values()), 2), "redis_calls_per_job": calls, "submit_per_s": round(rps), "refused": int(bad.group(1)) if bad else 0,
         "queued": queued, "spread": spread, "rows": rows, "failed": failed,
         "drain_per_s": round(rows / max(end - t0, 1e-9), 1), "cpu_ms_per_job": cpu,
         "submit_cpu_ms_per_job": {"web": ms(t_a["web"], t_b["web"]),
                                   "redis": round(sum(ms(a, b) for a, b in zip(t_a["redis_each"], t_b["redis_each"])), 3)}}
    return r


def redis_curve(fleet, n):
    """One redis-benchmark per server, at once: EVALSHA of a job's steps
    per second over the n servers together."""
    script = ("redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[1], 'status', 'queued', 'created_at', ARGV[1]) "
              "redis.call('HINCRBY', KEYS[2], 'n', 1) redis.call('HSET', KEYS[1], 'status', 'finished') return 1")
    benches = []
    for i in range(n):
        sha = fleet.cli(i, "SCRIPT", "LOAD", script).strip()
        tag = "" if i == 0 else f"{{s{i}}}"
        benches.append(subprocess.Popen(
            ["redis-benchmark", "-p", str(fleet.ports[i]), "-n", "200000", "-c", "25", "-P", "4", "-q",
             "EVALSHA", sha, "2", f"bench:{tag}job:__rand_int__", f"bench:{tag}stats", "__rand_int__"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    total = 0.0
    for b in benches:
        out, _ = b.communicate()
        total += float(re.findall(r"([\d.]+) requests per second", out)[-1])
    for i in range(n):
        fleet.cli(i, "FLUSHALL")
    return round(total)


def main():
    tmp = tempfile.mkdtemp(prefix="wc-bench-shards.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(tmp, 0o755)
    sysm = System(tmp)
    fleet = None
    res = {"cores": os.cpu_count(), "submit_seconds": SUBMIT_SECONDS, "runs": RUNS, "workers": WORKERS, "by_shards": {}}
    try:
        sysm.start_servers()
        fleet = Fleet(sysm, max(SHARDS))
        pages = sorted(f for f in os.listdir(MANUAL) if f.endswith(".html"))
        script = f"{tmp}/submit.lua"
        wrk_script(sysm, pages, script)
        samples = {n: [] for n in SHARDS}
        curve = {n: [] for n in SHARDS}
        for r in range(RUNS):
            for n in SHARDS:  # the shard counts take turns: drift hits them alike
                s = one_run(sysm, fleet, n, script)
                log(f"{n} shard(s), run {r + 1}: {s}")
                samples[n].append(s)
                sysm.stop("web")
                curve[n].append(redis_curve(fleet, n))
                log(f"{n} shard(s), run {r + 1}: redis scripted steps {curve[n][-1]}/s")
        for n in SHARDS:
            ss = samples[n]
            med = lambda f: statistics.median(f(s) for s in ss)
            res["by_shards"][n] = {
                "submit_per_s": med(lambda s: s["submit_per_s"]),
                "drain_per_s": med(lambda s: s["drain_per_s"]),
                "redis_steps_per_s": statistics.median(curve[n]),
                "runs_submit": [s["submit_per_s"] for s in ss], "runs_drain": [s["drain_per_s"] for s in ss],
                "runs_redis": curve[n],
                "refused": max(s["refused"] for s in ss), "failed": max(s["failed"] for s in ss),
                "spread": ss[len(ss) // 2]["spread"],
                "redis_commands_per_job": med(lambda s: s["redis_commands_per_job"]),
                "redis_calls_per_job": ss[len(ss) // 2]["redis_calls_per_job"],
                "cpu_ms_per_job": {k: med(lambda s: s["cpu_ms_per_job"][k]) for k in ss[0]["cpu_ms_per_job"]},
                "submit_cpu_ms_per_job": {k: med(lambda s: s["submit_cpu_ms_per_job"][k])
                                          for k in ss[0]["submit_cpu_ms_per_job"]}}
    finally:
        if fleet:
            fleet.stop()
        sysm.teardown()
    out = f"{ROOT}/tests/bench/results-shards.json"
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    base = res["by_shards"][SHARDS[0]]
    print(f"\nthe queue on {', '.join(map(str, SHARDS))} Redis shards: {res['cores']} cores, jobs submitted for "
          f"{SUBMIT_SECONDS} s over 50 hosts, workers {WORKERS}; medians of {RUNS} runs (ratio to {SHARDS[0]} shard)")
    print(f"{'shards':>6} {'submit/s':>9} {'x':>5} {'drain/s':>8} {'x':>5} {'redis steps/s':>14} {'x':>5}"
          f"   CPU ms/job: redis (busiest) worker postgres web   jobs per shard")
    for n, m in res["by_shards"].items():
        c = m["cpu_ms_per_job"]
        print(f"{n:>6} {m['submit_per_s']:>9} {m['submit_per_s'] / base['submit_per_s']:>5.2f}"
              f" {m['drain_per_s']:>8} {m['drain_per_s'] / base['drain_per_s']:>5.2f}"
              f" {m['redis_steps_per_s']:>14} {m['redis_steps_per_s'] / base['redis_steps_per_s']:>5.2f}"
              f"   {c['redis']} ({c['redis_busiest']}) {c['worker']} {c['postgres']} {c['web']}   {m['spread']}"
              f"{'  refused ' + str(m['refused']) if m['refused'] else ''}{'  failed ' + str(m['failed']) if m['failed'] else ''}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
