#!/usr/bin/env python3
"""e2e.py — the end-to-end benchmark of wordcount (`make bench`).

Everything on loopback, under a temporary folder, torn down at the end:
a private Postgres and Redis (deploy/postgres.sh, deploy/redis.sh), the
migrations, Debian's nginx serving the HTML pages of the PostgreSQL manual
(postgresql-doc-15, about 1,100 pages), wordcount-web and wordcount-worker
(built with -O2, no sanitizers). It measures, printing a table at the end
and writing JSON to tests/bench/results-e2e.json (git-ignored):

  throughput   every page of the manual, REPEAT times over as distinct jobs,
               submitted as fast as the API takes them; jobs finished per
               second and submit -> finished latency p50/p99, for each
               WORKER_PROCESSES x WORKER_CONCURRENCY in the grid; medians of
               RUNS runs
  ceilings     nginx to a curl-multi client (pages/s), libxml2's bare parse
               (pages/s per core, and times the cores), Postgres inserting
               rows of the measured size (pgbench), Redis running the
               queue's per-job scripts (redis-benchmark, EVALSHA); and the
               ratio of the best end-to-end figure to the lowest ceiling
  memory       peak RSS (VmHWM) of the web and each worker process at the
               highest concurrency
  growth       throughput and poll latency with 10 000, 100 000 and
               1 000 000 jobs queued behind the measured ones, and with
               1 000 000 rows in results
  politeness   the manual's pages spread over POLITE_HOSTS loopback hosts
               (nginx on 127.0.0.2, 127.0.0.3, ...) at POLITE_GRID, with
               politeness on (FETCH_HOST_CONCURRENCY=2, robots.txt
               respected: nginx answers 404) and off, runs taking turns in
               the same bench; each run fills the queue first, then starts
               the workers and times them from the first start to the last
               finish; jobs/s of each and the drop (issue 16's bar: at
               most 5 %)

The other sections measure the system itself on one host, so they run
with politeness off (FETCH_HOST_CONCURRENCY=0, FETCH_ROBOTS=ignore).

Nothing is asserted. Environment: RUNS (3), REPEAT (3), GRID ("1x16 1x64
2x16 2x64"), GROWTH ("10000 100000 1000000"), RESULT_ROWS (1000000),
POLITE_HOSTS (50), POLITE_GRID ("2x64"), ONLY (a comma-separated list of
sections to run: throughput, ceilings, growth, politeness; default all),
TMPDIR. Standard library only.
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANUAL = "/usr/share/doc/postgresql-doc-15/html"
PREFIX = "wc:"
# BENCH_BIN: the programs measured (another build, e.g. the one before a change).
BIN = os.environ.get("BENCH_BIN", f"{ROOT}/bin")


class PartsDone(Exception):
    """The parts PARTS asked for have run."""


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class System:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.pg_port, self.redis_port = free_port(), free_port()
        self.web_port, self.nginx_port = free_port(), free_port()
        nhosts = int(os.environ.get("POLITE_HOSTS", 50))
        self.polite_ips = [f"127.0.0.{i + 2}" for i in range(nhosts)]
        self.extra_listen = " ".join(f"listen {ip}:{self.nginx_port};" for ip in self.polite_ips)

    def start_servers(self):
        out = sh(f"{ROOT}/deploy/postgres.sh", "start", f"{self.tmp}/pg", str(self.pg_port))
        self.db = re.search(r"^DATABASE_URL=(\S+)", out, re.M).group(1)
        out = sh(f"{ROOT}/deploy/redis.sh", "start", f"{self.tmp}/redis", str(self.redis_port))
        self.redis = re.search(r"^REDIS_URL=(\S+)", out, re.M).group(1)
        self.env = dict(os.environ, DATABASE_URL=self.db, REDIS_URL=self.redis, APP_ENV="testing",
                        SUBMIT_RATE="0", FETCH_ALLOW_PRIVATE="true", LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "warn"),
                        REDIS_KEY_PREFIX=PREFIX, JOB_TIMEOUT="60s",
                        FETCH_HOST_CONCURRENCY="0", FETCH_ROBOTS="ignore")
        sh(f"{BIN}/wordcount-migrate", "upgrade", env=self.env)
        conf = f"""worker_processes 2;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    include /etc/nginx/mime.types;
    server {{ listen 127.0.0.1:{self.nginx_port}; {self.extra_listen} root {MANUAL}; }}
}}
"""
        open(f"{self.tmp}/nginx.conf", "w").write(conf)
        sh("/usr/sbin/nginx", "-c", f"{self.tmp}/nginx.conf")

    def start(self, name, argv, **env):
        e = dict(self.env, **{k: str(v) for k, v in env.items()})
        logf = open(f"{self.tmp}/{name}.log", "a")
        self.procs[name] = subprocess.Popen(argv, env=e, stdout=logf, stderr=logf)

    def stop(self, name, timeout=30):
        p = self.procs.pop(name, None)
        if not p:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def start_web(self, processes=1):
        self.start("web", [f"{BIN}/wordcount-web"], PORT=self.web_port, WEB_CONCURRENCY=processes)
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit("bench: the web server did not become ready")

    def start_workers(self, procs, conc):
        self.start("worker", [f"{BIN}/wordcount-worker"], WORKER_PROCESSES=procs,
                   WORKER_CONCURRENCY=conc)
        time.sleep(0.5)

    def worker_children(self):
        p = self.procs.get("worker")
        if not p:
            return []
        try:
            return [int(x) for x in open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()]
        except OSError:
            return []

    def redis_cli(self, *args, stdin=None):
        return subprocess.run(["redis-cli", "-p", str(self.redis_port), *args], input=stdin, text=True,
                              capture_output=True, check=True).stdout

    def psql(self, sql):
        return sh("psql", "-X", "-q", "-t", "-A", self.db, "-c", sql)

    def reset(self):
        self.redis_cli("FLUSHALL")
        self.psql("TRUNCATE results")

    def teardown(self):
        for name in list(self.procs):
            self.stop(name)
        if os.path.exists(f"{self.tmp}/nginx.pid"):
            subprocess.run(["/usr/sbin/nginx", "-c", f"{self.tmp}/nginx.conf", "-s", "quit"])
        subprocess.run([f"{ROOT}/deploy/redis.sh", "stop", f"{self.tmp}/redis"], capture_output=True)
        subprocess.run([f"{ROOT}/deploy/postgres.sh", "stop", f"{self.tmp}/pg"], capture_output=True)


def submit(sysm, urls):
    c = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=30)
    ids = []
    for url in urls:
        c.request("POST", "/api/v1/jobs", json.dumps({"url": url, "fresh": True}), {"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 202:
            sys.exit(f"bench: submit {url}: {r.status} {body[:200]!r}")
        ids.append(json.loads(body)["id"])
    return ids


def wait_all(sysm, ids, limit_s=1800):
    c = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=30)
    pending, jobs, t0 = list(ids), {}, time.time()
    while pending:
        rest = []
        for i, jid in enumerate(pending):
            c.request("GET", f"/api/v1/jobs/{jid}")
            j = json.loads(c.getresponse().read())
            if j["status"] in ("finished", "failed", "canceled"):
                jobs[jid] = j
            else:
                rest = pending[i:]
                break
        pending = rest
        if pending:
            time.sleep(0.05)
        if time.time() - t0 > limit_s:
            sys.exit(f"bench: {len(pending)} jobs still pending after {limit_s} s")
    return list(jobs.values())


def summarize(jobs, span_from="created_at"):
    fin = [j for j in jobs if j["status"] == "finished"]
    failed = {}
    for j in jobs:
        if j["status"] == "failed":
            code = (j.get("error") or {}).get("code", "?")
            failed[code] = failed.get(code, 0) + 1
    start = min(ts(j[span_from]) for j in jobs if j.get(span_from))
    end = max(ts(j["finished_at"]) for j in jobs if j.get("finished_at"))
    lat = sorted(ts(j["finished_at"]) - ts(j["created_at"]) for j in fin)
    pct = lambda q: round(1000 * lat[min(len(lat) - 1, int(len(lat) * q))], 1) if lat else None
    return {"jobs": len(jobs), "finished": len(fin), "failed": failed,
            "jobs_per_s": round(len(fin) / max(end - start, 1e-9), 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def wrk_get(port, path, seconds=5, conns=16):
    out = sh("wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}{path}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(p):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, out, re.M)
        v, u = float(m.group(1)), m.group(2)
        return round(v / 1000 if u == "us" else v * 1000 if u == "s" else v, 3)
    return {"rps": round(rps), "p50_ms": ms(50), "p99_ms": ms(99)}


def seed_queue(sysm, n, url):
    """n queued jobs behind everything in the stream, in bulk (redis-cli --pipe)."""
    now = int(time.time() * 1000)
    lines = []
    for i in range(n):
        jid = f"00000000-0000-7000-8000-{i:012x}"
        key = f"{PREFIX}job:{jid}"
        lines.append(f"HSET {key} id {jid} url {url} status queued attempts 0 created_at {now}\r\n")
        lines.append(f"XADD {PREFIX}queue * id {jid}\r\n")
    subprocess.run(["redis-cli", "-p", str(sysm.redis_port), "--pipe"], input="".join(lines), text=True,
                   capture_output=True, check=True)


def vmhwm_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None


def politeness(sysm, pages, runs, repeat):
    """The manual spread over the loopback hosts, politeness on and off in
    turns; returns the medians of each and the drop."""
    procs, conc = map(int, os.environ.get("POLITE_GRID", "2x64").split("x"))
    ips = sysm.polite_ips
    urls = [f"http://{ips[i % len(ips)]}:{sysm.nginx_port}/{os.path.basename(p)}"
            for i, p in enumerate(pages)]
    modes = {
        "on": dict(FETCH_HOST_CONCURRENCY=2, FETCH_ROBOTS="respect"),
        "off": dict(FETCH_HOST_CONCURRENCY=0, FETCH_ROBOTS="ignore"),
    }
    samples = {m: [] for m in modes}
    for r in range(runs):
        for m, env in modes.items():
            # The queue is filled first and drained by the workers: the
            # figure is the workers' pace, not one client's submissions.
            sysm.reset()
            ids = submit(sysm, urls * repeat)
            sysm.start("worker", [f"{BIN}/wordcount-worker"], WORKER_PROCESSES=procs,
                       WORKER_CONCURRENCY=conc, **env)
            s = summarize(wait_all(sysm, ids), span_from="started_at")
            sysm.stop("worker")
            log(f"politeness {m} ({len(ips)} hosts, {procs}x{conc}) run {r + 1}: {s}")
            samples[m].append(s)
    out = {"hosts": len(ips), "config": f"{procs}x{conc}"}
    for m in modes:
        out[m] = {k: statistics.median(s[k] for s in samples[m]) for k in ("jobs_per_s", "p50_ms", "p99_ms")}
        out[m]["failed"] = samples[m][-1]["failed"]
    off = out["off"]["jobs_per_s"]
    out["drop_pct"] = round(100 * (off - out["on"]["jobs_per_s"]) / off, 1) if off else None
    return out


def print_politeness(p):
    print(f"\npoliteness: the manual over {p['hosts']} loopback hosts at {p['config']}, limit 2 per host")
    for m in ("off", "on"):
        print(f"  politeness {m:<4} {p[m]['jobs_per_s']:>8} jobs/s   p50 {p[m]['p50_ms']} ms   p99 {p[m]['p99_ms']} ms"
              f"   failed {p[m]['failed'] or '-'}")
    print(f"  drop {p['drop_pct']} % (the bar: at most 5 %)")


def proc_children():
    """Every live process's children, and its CPU clock ticks (user + system
    of itself and of its reaped children: a dead process's time is in its
    reaper's cutime/cstime, so every tick is counted once)."""
    kids, ticks = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        kids.setdefault(int(f[1]), []).append(int(d))
        ticks[int(d)] = sum(int(x) for x in f[11:15])
    return kids, ticks


def proc_tree(root, kids):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def proc_tree_ticks(root):
    """CPU clock ticks of root and all its descendants."""
    kids, ticks = proc_children()
    return sum(ticks.get(p, 0) for p in proc_tree(root, kids))


def kind_pids(sysm):
    """The root pid of each process kind of the system under test."""
    pids = {"postgres": int(open(f"{sysm.tmp}/pg/data/postmaster.pid").readline()),
            "nginx": int(open(f"{sysm.tmp}/nginx.pid").read().split()[0]),
            "web": sysm.procs["web"].pid}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = open(f"/proc/{d}/cmdline").read()
            except OSError:
                continue
            if "redis-server" in cmd and f":{sysm.redis_port}" in cmd:
                pids["redis"] = int(d)
    if "worker" in sysm.procs:
        pids["worker"] = sysm.procs["worker"].pid
    return pids


def cpu_snapshot(sysm):
    return {k: proc_tree_ticks(p) for k, p in kind_pids(sysm).items()}


def stats_done(sysm):
    c = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=10)
    c.request("GET", "/api/v1/stats?window=60")
    n = json.loads(c.getresponse().read())["counts"]
    return n["finished"] + n["failed"], n["failed"]


def wait_drained(sysm, n, t0, limit_s=1800):
    """Waits until the statistics count n jobs ended (from t0, at most
    limit_s); returns how many failed."""
    while True:
        done, failed = stats_done(sysm)
        if done >= n:
            return failed
        if time.time() - t0 > limit_s:
            sys.exit(f"bench: drain stuck at {done} of {n}")
        time.sleep(0.2)


SUBMIT_LOAD = f"{ROOT}/build/bench/submit_load"


def build_submit_load():
    os.makedirs(os.path.dirname(SUBMIT_LOAD), exist_ok=True)
    sh("sh", "-c", f"cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o {SUBMIT_LOAD} "
       f"{ROOT}/tests/bench/submit_load.c $(pkg-config --cflags --libs libcurl)")


def submit_load(sysm, n):
    """Starts tests/bench/submit_load.c submitting the n jobs of drain_run
    (job k is urls.txt's line k mod lines, ?job=k) over SUBMIT_CONNS
    keep-alive connections (16: many clients at once; with 4, one request
    in flight on each, the submitting drain measured the round trip of a
    submission under load, not the system, and the workers waited for
    jobs): a C client, so that its own CPU stays small beside the
    system's (a Python client on these 2 cores took a large share of one).
    Refused submissions are sent again; returns the process, which ends
    once n are accepted (load_wait)."""
    conns = os.environ.get("SUBMIT_CONNS", "16")
    return subprocess.Popen([SUBMIT_LOAD, f"http://127.0.0.1:{sysm.web_port}/api/v1/jobs", f"{sysm.tmp}/urls.txt",
                             str(n), conns], stdout=subprocess.PIPE, text=True)


def load_wait(proc):
    """The submissions submit_load's client saw refused (and sent again)."""
    out = proc.communicate(timeout=600)[0]
    if proc.returncode != 0:
        sys.exit(f"bench: submit_load failed (exit {proc.returncode})")
    return int(out.split()[1])


def all_pids(sysm):
    """Every pid of the system under test (process trees of each kind)."""
    kids, _ = proc_children()
    return [p for root in kind_pids(sysm).values() for p in proc_tree(root, kids)]


def perf_start(sysm, path, seconds):
    """perf record -g of the system's processes only (the machine is shared)."""
    time.sleep(1)  # the workers' connections (Postgres backends) are up
    pids = ",".join(map(str, all_pids(sysm)))
    return subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-o", path, "-p", pids, "--",
                             "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def redis_counters(sysm):
    """Redis's calls and microseconds per command (a script's commands are
    counted as commands, and in the script's own time too), and bytes
    received/sent so far."""
    calls = {}
    for m in re.finditer(r"^cmdstat_(\w+):calls=(\d+),usec=(\d+)", sysm.redis_cli("INFO", "commandstats"), re.M):
        calls[m.group(1)] = int(m.group(2))
        calls["usec:" + m.group(1)] = int(m.group(3))
    st = sysm.redis_cli("INFO", "stats")
    net = {k: int(re.search(rf"^{k}:(\d+)", st, re.M).group(1))
           for k in ("total_net_input_bytes", "total_net_output_bytes")}
    cpu = sysm.redis_cli("INFO", "cpu")
    net["cpu_s"] = sum(float(re.search(rf"^{k}:([\d.]+)", cpu, re.M).group(1))
                       for k in ("used_cpu_sys", "used_cpu_user"))
    mem = sysm.redis_cli("INFO", "memory")
    net["used_memory"] = int(re.search(r"^used_memory:(\d+)", mem, re.M).group(1))
    return calls, net


def pg_wal_lsn(sysm):
    return sysm.psql("SELECT pg_current_wal_lsn()").strip()


def store_counters(sysm, calls0, net0, lsn0, rows):
    """What a job cost Redis and Postgres over its whole life (submission,
    drain, and the client's polls of /api/v1/stats): calls per job of each
    Redis command (scripts are evalsha), bytes into Redis, WAL bytes and
    table bytes (the results partitions with their TOAST and indexes)."""
    calls1, net1 = redis_counters(sysm)
    per = max(rows, 1)
    diff = {k: (v - calls0.get(k, 0)) / per for k, v in calls1.items() if v - calls0.get(k, 0) > 0}
    calls = {k: round(v, 2) for k, v in diff.items() if not k.startswith("usec:")}
    usec = {k[5:]: round(v, 1) for k, v in diff.items() if k.startswith("usec:")}
    wal = int(sysm.psql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn0}')").strip())
    table = int(sysm.psql("SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
                          " WHERE inhparent = 'results'::regclass").strip())
    return {"redis_calls_per_job": calls, "redis_usec_per_job": usec,
            "redis_commands_per_job": round(sum(calls.values()), 2),
            "redis_scripts_per_job": round(sum(v for k, v in calls.items() if k in ("evalsha", "eval", "fcall")), 2),
            "redis_bytes_in_per_job": round((net1["total_net_input_bytes"] - net0["total_net_input_bytes"]) / per),
            "redis_bytes_out_per_job": round((net1["total_net_output_bytes"] - net0["total_net_output_bytes"]) / per),
            "redis_cpu_us_per_job": round((net1["cpu_s"] - net0["cpu_s"]) * 1e6 / per, 1),
            "redis_memory_bytes_per_job": round((net1["used_memory"] - net0["used_memory"]) / per),
            "pg_wal_bytes_per_job": round(wal / per),
            "pg_table_bytes_per_job": round(table / per)}


def drain_run(sysm, n, procs, conc, submit_while, perf=None):
    """One drain of n jobs by procs x conc workers: queued first, or (with
    submit_while) submitted while the workers take them, by submit_load
    either way.
    Throughput is n / (last row's commit - workers' start). Each job is a
    page of its own (?job=k: nginx serves the manual's page, wordcount sees
    a URL it never stored), so every job is a full fetch, as issue 19
    measures it; the same URL again would be a conditional re-fetch
    answered 304 (issue 17), another workload."""
    sysm.reset()
    calls0, net0 = redis_counters(sysm)
    lsn0 = pg_wal_lsn(sysm)
    refused = 0 if submit_while else load_wait(submit_load(sysm, n))
    hz = os.sysconf("SC_CLK_TCK")
    commits_sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    commits0 = int(sysm.psql(commits_sql).strip())
    before = cpu_snapshot(sysm)
    t0 = time.time()
    sysm.start("worker", [f"{BIN}/wordcount-worker"], WORKER_PROCESSES=procs, WORKER_CONCURRENCY=conc)
    prof = perf_start(sysm, perf, int(os.environ.get("PERF_S", 5))) if perf else None
    load = submit_load(sysm, n) if submit_while else None
    failed = wait_drained(sysm, n, t0)
    after = cpu_snapshot(sysm)
    if prof:
        prof.wait()
    rss = [vmhwm_kb(p) for p in sysm.worker_children()]
    if load:
        refused = load_wait(load)
    sysm.stop("worker")
    end = float(sysm.psql("SELECT extract(epoch FROM max(stored_at)) FROM results").strip())
    rows = int(sysm.psql("SELECT count(*) FROM results").strip())
    time.sleep(0.6)  # the backends' statistics reach pg_stat_database (at most every 500 ms)
    commits = int(sysm.psql(commits_sql).strip()) - commits0
    span = max(end - t0, 1e-9)
    cpu = {k: round(1000 * (after.get(k, 0) - before.get(k, 0)) / hz / max(rows, 1), 3) for k in after}
    return {"jobs": n, "rows": rows, "failed": failed, "jobs_per_s": round(rows / span, 1),
            "rows_per_commit": round(rows / max(commits, 1), 2), "refused": refused,
            "cpu_ms_per_job": cpu, "worker_rss_kb": rss, "web_rss_kb": vmhwm_kb(sysm.procs["web"].pid),
            **store_counters(sysm, calls0, net0, lsn0, rows)}


def drain(sysm, runs):
    """The drain figures (DRAIN jobs, DRAIN_GRID): queued first, and submitted
    while draining; medians of runs."""
    n = int(os.environ.get("DRAIN", 10000))
    procs, conc = map(int, os.environ.get("DRAIN_GRID", "2x64").split("x"))
    build_submit_load()
    out = {}
    # DRAIN_MODES picks some (comma-separated); PERF=file: a profile of the
    # first drain of PERF_MODE (queued unless said), tests/bench/README.md.
    modes = os.environ.get("DRAIN_MODES", "queued,submit_while_draining").split(",")
    for mode in ("queued", "submit_while_draining"):
        if mode not in modes:
            continue
        samples = []
        for r in range(runs):
            perf = os.environ.get("PERF") if mode == os.environ.get("PERF_MODE", "queued") and r == 0 else None
            s = drain_run(sysm, n, procs, conc, mode != "queued", perf)
            log(f"drain {mode} {procs}x{conc} run {r + 1}: {s}")
            samples.append(s)
        m = {"jobs": n, "config": f"{procs}x{conc}",
             "jobs_per_s": statistics.median(s["jobs_per_s"] for s in samples),
             "runs": [s["jobs_per_s"] for s in samples],
             "failed": max(s["failed"] for s in samples),
             "rows_per_commit": statistics.median(s["rows_per_commit"] for s in samples),
             "cpu_ms_per_job": {k: statistics.median(s["cpu_ms_per_job"][k] for s in samples)
                                for k in samples[0]["cpu_ms_per_job"]},
             "worker_rss_kb": max(max(s["worker_rss_kb"] or [0]) for s in samples),
             "web_rss_kb": max(s["web_rss_kb"] or 0 for s in samples)}
        for k in ("redis_commands_per_job", "redis_scripts_per_job", "redis_bytes_in_per_job",
                  "redis_bytes_out_per_job", "redis_cpu_us_per_job", "redis_memory_bytes_per_job",
                  "pg_wal_bytes_per_job", "pg_table_bytes_per_job"):
            m[k] = statistics.median(s[k] for s in samples)
        m["redis_calls_per_job"] = samples[len(samples) // 2]["redis_calls_per_job"]
        m["redis_usec_per_job"] = samples[len(samples) // 2]["redis_usec_per_job"]
        out[mode] = m
    if "submit_while_draining" in out:
        out["capacity"] = capacity(out["submit_while_draining"])
    return out


def capacity(d):
    """The capacity model from one drain's per-job costs: a process kind
    whose jobs cost c ms of CPU carries 1000 / c jobs/s per core, and a
    deployment carries the least of (its cores of that kind x that) over
    the kinds. Measured with the client submitting while the workers drain,
    so the CPU is each job's whole life (submission, queue, fetch, count,
    store, the polls of the stats)."""
    per_core = {k: round(1000 / v) for k, v in d["cpu_ms_per_job"].items() if v > 0}
    return {"jobs_per_s_per_core": per_core,
            "cpu_ms_per_job": d["cpu_ms_per_job"],
            "redis_commands_per_job": d["redis_commands_per_job"],
            "redis_scripts_per_job": d["redis_scripts_per_job"],
            "redis_bytes_in_per_job": d["redis_bytes_in_per_job"],
            "redis_cpu_us_per_job": d["redis_cpu_us_per_job"],
            "redis_memory_bytes_per_job": d["redis_memory_bytes_per_job"],
            "pg_wal_bytes_per_job": d["pg_wal_bytes_per_job"],
            "pg_table_bytes_per_job": d["pg_table_bytes_per_job"]}


def print_capacity(c):
    print("\ncapacity model (per job, whole life; jobs/s one core of each kind carries = 1000 / CPU ms):")
    for k in sorted(c["cpu_ms_per_job"]):
        v = c["cpu_ms_per_job"][k]
        print(f"  {k:<9} {v:>7} ms CPU per job  ->  {c['jobs_per_s_per_core'].get(k, '-'):>7} jobs/s per core")
    print(f"  Redis: {c['redis_commands_per_job']} commands per job ({c['redis_scripts_per_job']} script calls), "
          f"{c['redis_bytes_in_per_job']} bytes in, {c['redis_cpu_us_per_job']} us of Redis CPU, "
          f"{c['redis_memory_bytes_per_job']} bytes of Redis memory held after the drain")
    print(f"  Postgres: {c['pg_wal_bytes_per_job']} WAL bytes and {c['pg_table_bytes_per_job']} table bytes per job")


def main():
    runs = int(os.environ.get("RUNS", 3))
    repeat = int(os.environ.get("REPEAT", 3))
    grid = [tuple(map(int, g.split("x"))) for g in os.environ.get("GRID", "1x16 1x64 2x16 2x64").split()]
    parts = os.environ.get("PARTS", "drain throughput ceilings growth politeness").split()
    growth = [int(n) for n in os.environ.get("GROWTH", "10000 100000 1000000").split()]
    result_rows = int(os.environ.get("RESULT_ROWS", 1000000))
    pages = sorted(glob.glob(f"{MANUAL}/*.html"))
    if not pages:
        sys.exit(f"bench: no pages under {MANUAL}")
    tmp = tempfile.mkdtemp(prefix="wc-bench-e2e.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(tmp, 0o755)
    sysm = System(tmp)
    report = {"cores": os.cpu_count(), "pages": len(pages), "repeat": repeat, "runs": runs}
    try:
        sysm.start_servers()
        urls = [f"http://127.0.0.1:{sysm.nginx_port}/{os.path.basename(p)}" for p in pages]
        open(f"{tmp}/urls.txt", "w").write("\n".join(urls) + "\n")
        report["versions"] = {
            "redis": sh("redis-server", "--version").split()[2].removeprefix("v="),
            "postgres": sysm.psql("SHOW server_version").strip(),
            "nginx": subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1],
        }
        sysm.start_web()
        if os.environ.get("ONLY") == "politeness":
            report["politeness"] = politeness(sysm, pages, runs, repeat)
            json.dump(report, open(f"{ROOT}/tests/bench/results-e2e-politeness.json", "w"), indent=1)
            print_politeness(report["politeness"])
            return

        # --- drain: DRAIN jobs queued first, then the same submitted while draining ---
        if "drain" in parts:
            report["drain"] = drain(sysm, runs)

        # --- throughput over the grid ---
        report["throughput"] = {}
        best = None
        for procs, conc in (grid if "throughput" in parts else []):
            samples = []
            for r in range(runs):
                sysm.reset()
                sysm.start_workers(procs, conc)
                ids = submit(sysm, urls * repeat)
                s = summarize(wait_all(sysm, ids))
                if (procs, conc) == max(grid) and r == runs - 1:
                    report["memory_kb"] = {"web": vmhwm_kb(sysm.procs["web"].pid),
                                           "workers": [vmhwm_kb(p) for p in sysm.worker_children()]}
                sysm.stop("worker")
                log(f"{procs}x{conc} run {r + 1}: {s}")
                samples.append(s)
            med = {k: statistics.median(s[k] for s in samples) for k in ("jobs_per_s", "p50_ms", "p99_ms")}
            med["failed"] = samples[-1]["failed"]
            med["jobs"] = samples[-1]["jobs"]
            report["throughput"][f"{procs}x{conc}"] = med
            if not best or med["jobs_per_s"] > best[1]["jobs_per_s"]:
                best = (f"{procs}x{conc}", med)
        avg_row = sysm.psql("SELECT round(avg(octet_length(coalesce(counts::text, result_all::text)) + octet_length("
                            "coalesce(counts_no_stop::text, result_no_stop_words::text)) + octet_length(top_words::text))) FROM results").strip()

        if "ceilings" not in parts:
            raise PartsDone
        # --- ceilings ---
        bdir = f"{ROOT}/build/bench"
        os.makedirs(bdir, exist_ok=True)
        cflags = ["-O2", "-std=c17", "-D_GNU_SOURCE"]
        sh("sh", "-c", f"cc {' '.join(cflags)} -o {bdir}/fetch_ceiling {ROOT}/tests/bench/fetch_ceiling.c $(pkg-config --cflags --libs libcurl)")
        sh("sh", "-c", f"cc {' '.join(cflags)} -o {bdir}/parse_ceiling {ROOT}/tests/bench/parse_ceiling.c $(pkg-config --cflags --libs libxml-2.0)")
        ceil = {}
        # Five tries whatever RUNS says: this client's figure is bimodal on
        # this machine (see tests/bench/README.md), the median is what counts.
        f = [float(sh(f"{bdir}/fetch_ceiling", f"{tmp}/urls.txt", "64", "3").split()[0]) for _ in range(max(runs, 5))]
        ceil["fetch_pages_per_s"] = round(statistics.median(f), 1)
        plist = "\n".join(pages) + "\n"
        p = [float(sh(f"{bdir}/parse_ceiling", "3", input=plist).split()[0]) for _ in range(runs)]
        ceil["parse_pages_per_s_per_core"] = round(statistics.median(p), 1)
        ceil["parse_pages_per_s_all_cores"] = round(statistics.median(p) * os.cpu_count(), 1)
        # Postgres: rows of the measured size, the same INSERT the worker runs.
        size = int(float(avg_row or 1000))
        open(f"{tmp}/insert.sql", "w").write(
            "INSERT INTO results (job_id, url, result_all, result_no_stop_words, top_words, total_words,"
            " unique_words, total_words_no_stop, unique_words_no_stop)"
            f" VALUES (gen_random_uuid(), 'http://bench/', jsonb_build_object('w', repeat('x', {size // 2})),"
            f" jsonb_build_object('w', repeat('x', {size // 2})), '[]', 1, 1, 1, 1)"
            " ON CONFLICT (job_id, created_at) DO NOTHING;\n")
        pgbench = "/usr/lib/postgresql/15/bin/pgbench"
        t = []
        for _ in range(runs):
            out = sh(pgbench, "-n", "-c", "8", "-j", "2", "-T", "5", "-f", f"{tmp}/insert.sql", sysm.db)
            t.append(float(re.search(r"tps = ([\d.]+)", out).group(1)))
        ceil["postgres_rows_per_s"] = round(statistics.median(t), 1)
        sysm.psql("TRUNCATE results")
        # Redis: one job's scripted steps (submit, start, finish) as EVALSHA.
        script = ("redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[1], 'status', 'queued', 'created_at', ARGV[1]) "
                  "redis.call('HINCRBY', KEYS[2], 'n', 1) redis.call('HSET', KEYS[1], 'status', 'finished') return 1")
        sha = sysm.redis_cli("SCRIPT", "LOAD", script).strip()
        r = []
        for _ in range(runs):
            out = sh("redis-benchmark", "-p", str(sysm.redis_port), "-n", "200000", "-c", "50", "-q",
                     "EVALSHA", sha, "2", "bench:job:__rand_int__", "bench:stats", "__rand_int__")
            r.append(float(re.search(r"([\d.]+) requests per second", out).group(1)))
        # A job costs about 8 Redis round trips (submit, take, start, renew,
        # finish, a few polls); count it as 8 scripted calls.
        ceil["redis_jobs_per_s"] = round(statistics.median(r) / 8, 1)
        sysm.redis_cli("FLUSHALL")
        report["ceilings"] = ceil
        lowest = min(ceil["fetch_pages_per_s"], ceil["parse_pages_per_s_all_cores"],
                     ceil["postgres_rows_per_s"], ceil["redis_jobs_per_s"])
        if "drain" in report:
            d = report["drain"]["queued"]
            if not best or d["jobs_per_s"] > best[1]["jobs_per_s"]:
                best = (f"drain {d['config']}", d)
            for m in report["drain"].values():
                m["ratio_to_lowest_ceiling"] = round(m["jobs_per_s"] / lowest, 3)
        report["best"] = {"config": best[0], "jobs_per_s": best[1]["jobs_per_s"], "lowest_ceiling": lowest,
                          "ratio": round(best[1]["jobs_per_s"] / lowest, 3)}
        if "growth" not in parts:
            raise PartsDone

        # --- growth ---
        procs, conc = max(grid)
        poll_url = f"http://127.0.0.1:{sysm.nginx_port}/index.html"
        report["growth"] = {}

        def med(samples):
            return {"jobs_per_s": statistics.median(x[0] for x in samples),
                    "poll": {k: statistics.median(x[1][k] for x in samples) for k in ("rps", "p50_ms", "p99_ms")}}

        for n in [0] + growth:
            samples = []
            for _ in range(runs):
                sysm.reset()
                ids = submit(sysm, urls)  # in front of the backlog
                if n:
                    seed_queue(sysm, n, poll_url)
                sysm.start_workers(procs, conc)
                jobs = wait_all(sysm, ids)
                sysm.stop("worker")
                samples.append((summarize(jobs, span_from="started_at")["jobs_per_s"],
                                wrk_get(sysm.web_port, f"/api/v1/jobs/{ids[0]}")))
            report["growth"][f"queued_{n}"] = med(samples)
            log(f"growth {n} queued: {report['growth'][f'queued_{n}']}")
        if result_rows:
            sysm.reset()
            log(f"seeding {result_rows} rows in results")
            sysm.psql(f"INSERT INTO results (job_id, url, result_all, result_no_stop_words, top_words, total_words,"
                      f" unique_words, total_words_no_stop, unique_words_no_stop, created_at)"
                      f" SELECT gen_random_uuid(), 'http://seed/' || (g % 50000), '{{\"w\": 1}}', '{{\"w\": 1}}', '[]',"
                      f" 1, 1, 1, 1, now() - g * interval '1 second' FROM generate_series(1, {result_rows}) g")
            # Settle the table first (autovacuum of a fresh million rows
            # would otherwise run during the measurement on the same cores).
            sysm.psql("VACUUM ANALYZE results")
            samples, hist = [], []
            for _ in range(runs):
                sysm.redis_cli("FLUSHALL")
                ids = submit(sysm, urls)
                sysm.start_workers(procs, conc)
                jobs = wait_all(sysm, ids)
                sysm.stop("worker")
                samples.append((summarize(jobs)["jobs_per_s"], wrk_get(sysm.web_port, f"/api/v1/jobs/{ids[0]}")))
                hist.append(wrk_get(sysm.web_port, "/api/v1/results?url=http%3A%2F%2Fseed%2F123&limit=20"))
            g = med(samples)
            g["history"] = {k: statistics.median(h[k] for h in hist) for k in ("rps", "p50_ms", "p99_ms")}
            report["growth"][f"results_rows_{result_rows}"] = g
            log(f"growth {result_rows} rows: {g}")

        # --- politeness on and off, over many hosts ---
        if "politeness" not in parts:
            raise PartsDone
        sysm.reset()
        report["politeness"] = politeness(sysm, pages, runs, repeat)
    except PartsDone:
        pass
    finally:
        sysm.teardown()
        if not os.environ.get("KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)

    out = f"{ROOT}/tests/bench/results-e2e.json"
    json.dump(report, open(out, "w"), indent=1)
    v = report["versions"]
    print(f"\nwordcount end to end: {report['cores']} cores, Redis {v['redis']}, Postgres {v['postgres']}, "
          f"nginx {v['nginx']}; {report['pages']} pages x {repeat}; medians of {runs} runs")
    for mode, d in report.get("drain", {}).items():
        if mode == "capacity":
            continue
        cpu = ", ".join(f"{k} {v}" for k, v in sorted(d["cpu_ms_per_job"].items()))
        ratio = f" = {d['ratio_to_lowest_ceiling']:.2f} of the lowest ceiling" if "ratio_to_lowest_ceiling" in d else ""
        print(f"drain {d['jobs']} jobs, {mode} ({d['config']}): {d['jobs_per_s']} jobs/s{ratio} (runs {d['runs']}, "
              f"failed {d['failed']}, {d['rows_per_commit']} rows per commit)\n  CPU ms per job: {cpu}\n  peak RSS: workers {d['worker_rss_kb']} kB, "
              f"web {d['web_rss_kb']} kB")
        us = d.get("redis_usec_per_job", {})
        top = sorted(((v, k) for k, v in us.items() if k not in ("evalsha", "eval")), reverse=True)[:8]
        print(f"  Redis us per job (commands' own time; scripts {us.get('evalsha', 0)} in all): "
              + ", ".join(f"{k} {v}" for v, k in top))
    if report.get("throughput"):
        print(f"{'processes x concurrency':<24} {'jobs/s':>8} {'p50 ms':>9} {'p99 ms':>9}  failed")
    for k, m in report.get("throughput", {}).items():
        print(f"{k:<24} {m['jobs_per_s']:>8} {m['p50_ms']:>9} {m['p99_ms']:>9}  {m['failed'] or '-'}")
    c = report.get("ceilings")
    if c:
        print("\nceilings (the same pages, this machine):")
        print(f"  nginx -> curl multi (64)       {c['fetch_pages_per_s']:>10} pages/s")
        print(f"  libxml2 bare parse              {c['parse_pages_per_s_per_core']:>10} pages/s per core, "
              f"{c['parse_pages_per_s_all_cores']} on all cores")
        print(f"  Postgres INSERT (pgbench)       {c['postgres_rows_per_s']:>10} rows/s")
        print(f"  Redis scripted steps            {c['redis_jobs_per_s']:>10} jobs/s")
        b = report["best"]
        print(f"  best end to end {b['jobs_per_s']} jobs/s ({b['config']}) = {b['ratio']:.2f} of the lowest ceiling "
              f"({b['lowest_ceiling']})")
    mem = report.get("memory_kb")
    if mem:
        print(f"\npeak RSS at {max(grid)[0]}x{max(grid)[1]}: web {mem.get('web')} kB, workers {mem.get('workers')} kB")
    if report.get("growth"):
        print("\ncost as the work grows (throughput of the manual's pages, poll of a finished job):")
    for k, g in report.get("growth", {}).items():
        extra = f", history p50 {g['history']['p50_ms']} ms" if "history" in g else ""
        print(f"  {k:<24} {g['jobs_per_s']:>8} jobs/s   poll {g['poll']['rps']} req/s p50 {g['poll']['p50_ms']} ms "
              f"p99 {g['poll']['p99_ms']} ms{extra}")
    if report.get("drain", {}).get("capacity"):
        print_capacity(report["drain"]["capacity"])
    if report.get("politeness"):
        print_politeness(report["politeness"])
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
