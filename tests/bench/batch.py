#!/usr/bin/env python3
"""batch.py — batches (issue 17's bar), part of `make bench`.

The system of e2e.py (a private Postgres and Redis, nginx serving the
PostgreSQL manual on loopback, wordcount-web and wordcount-worker built
with -O2) and:

  accept   POST /api/v1/batches of BATCH (10,000) distinct URLs (the
           manual's pages under ?copy=N), as text/plain and as JSON, with
           no worker running: the time from the request's first byte to the
           202 (bar: under 1 s); RUNS (5) runs each, Redis emptied between
  status   GET /api/v1/batches/{id} of that batch while its jobs are
           queued, and once it is done (its counts kept)
  export   the workers (WORKERS, "2x64") take the batch; once done, its
           export read whole, NDJSON and CSV: lines per second (bar: at
           least 20,000); RUNS runs each

Besides the wall time, the CPU time the web process and Redis spent
(/proc/<pid>/stat, INFO cpu): on a loaded shared machine the wall time is
mostly waiting for a core, and the CPU time tells what an idle one would
take. Medians with min and max; nothing asserted. JSON goes to
tests/bench/results-batch.json (git-ignored). Standard library only.
"""
import http.client
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import MANUAL, ROOT, System, log  # noqa: E402

RUNS = int(os.environ.get("RUNS", 5))
BATCH = int(os.environ.get("BATCH", 10000))
WORKERS = os.environ.get("WORKERS", "2x64")


def urls(sysm):
    pages = sorted(f for f in os.listdir(MANUAL) if f.endswith(".html"))
    out = []
    copy = 0
    while len(out) < BATCH:
        copy += 1
        for p in pages:
            out.append(f"http://127.0.0.1:{sysm.nginx_port}/{p}?copy={copy}")
            if len(out) == BATCH:
                break
    return out


def post(sysm, ctype, body):
    c = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=60)
    t0 = time.perf_counter()
    c.request("POST", "/api/v1/batches", body, {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    took = time.perf_counter() - t0
    if r.status != 202:
        sys.exit(f"bench: batch refused: {r.status} {data[:300]!r}")
    return json.loads(data)["id"], took


def get(sysm, path, accept="application/json"):
    for _ in range(10):
        c = http.client.HTTPConnection("127.0.0.1", sysm.web_port, timeout=120)
        t0 = time.perf_counter()
        c.request("GET", path, headers={"Accept": accept})
        r = c.getresponse()
        data = r.read()
        took = time.perf_counter() - t0
        if r.status == 200:
            return data, took
        # A loaded machine can keep Redis past the web's 3 s command
        # timeout: the web reconnects; ask again.
        log(f"GET {path}: {r.status}, again")
        time.sleep(1)
    sys.exit(f"bench: GET {path}: {r.status} {data[:300]!r}")


def cpu_ms(sysm):
    """CPU ms used so far by the web process and by Redis."""
    f = open(f"/proc/{sysm.procs['web'].pid}/stat").read().rsplit(")", 1)[1].split()
    web = (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    info = sysm.redis_cli("INFO", "cpu")
    vals = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
    redis = (float(vals["used_cpu_sys"]) + float(vals["used_cpu_user"])) * 1000
    return web, redis


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def main():
    tmp = tempfile.mkdtemp(prefix="wc-bench-batch.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(tmp, 0o755)  # the postgres user reads it
    sysm = System(tmp)
    res = {"batch": BATCH, "runs": RUNS}
    try:
        sysm.start_servers()
        sysm.start_web()
        lines = urls(sysm)
        text = "\n".join(lines) + "\n"
        js = json.dumps({"urls": lines})
        log(f"{BATCH} URLs: {len(text)} bytes as text, {len(js)} as JSON")
        for name, ctype, body in (("text", "text/plain", text), ("json", "application/json", js)):
            times, web, red = [], [], []
            for _ in range(RUNS):
                sysm.reset()
                w0, r0 = cpu_ms(sysm)
                _, took = post(sysm, ctype, body)
                w1, r1 = cpu_ms(sysm)
                times.append(took * 1000)
                web.append(w1 - w0)
                red.append(r1 - r0)
            res[f"accept_{name}_ms"] = spread(times)
            res[f"accept_{name}_web_cpu_ms"] = spread(web)
            res[f"accept_{name}_redis_cpu_ms"] = spread(red)
            log(f"accept ({name}): median {statistics.median(times):.0f} ms")
        sysm.reset()
        bid, _ = post(sysm, "text/plain", text)
        st = [get(sysm, f"/api/v1/batches/{bid}")[1] * 1000 for _ in range(RUNS)]
        res["status_queued_ms"] = spread(st)
        procs, conc = WORKERS.split("x")
        sysm.start_workers(int(procs), int(conc))
        t0 = time.time()
        while True:
            body, _ = get(sysm, f"/api/v1/batches/{bid}")
            b = json.loads(body)
            if b["status"] == "done":
                break
            if time.time() - t0 > 1800:
                sys.exit("bench: the batch did not end within 30 min")
            time.sleep(1)
        res["drain_s"] = time.time() - t0
        res["counts"] = b["counts"]
        log(f"done in {res['drain_s']:.1f} s: {b['counts']}")
        st = [get(sysm, f"/api/v1/batches/{bid}")[1] * 1000 for _ in range(RUNS)]
        res["status_done_ms"] = spread(st)
        for name, accept in (("ndjson", "application/x-ndjson"), ("csv", "text/csv")):
            rates, cpu = [], []
            for _ in range(RUNS):
                w0, r0 = cpu_ms(sysm)
                data, took = get(sysm, f"/api/v1/batches/{bid}/results", accept)
                w1, r1 = cpu_ms(sysm)
                cpu.append(w1 - w0 + r1 - r0)
                n = data.count(b"\n") - (1 if name == "csv" else 0)
                if n != BATCH:
                    sys.exit(f"bench: the {name} export has {n} lines, not {BATCH}")
                rates.append(n / took)
            res[f"export_{name}_lines_per_s"] = spread(rates)
            res[f"export_{name}_cpu_ms"] = spread(cpu)
            log(f"export ({name}): median {statistics.median(rates):.0f} lines/s")
    finally:
        sysm.teardown()
    out = f"{ROOT}/tests/bench/results-batch.json"
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\nbatches of {BATCH} URLs ({RUNS} runs; median [min, max])")
    for k in ("accept_text_ms", "accept_text_web_cpu_ms", "accept_text_redis_cpu_ms",
              "accept_json_ms", "accept_json_web_cpu_ms", "accept_json_redis_cpu_ms",
              "status_queued_ms", "status_done_ms", "export_ndjson_cpu_ms", "export_csv_cpu_ms"):
        v = res[k]
        print(f"  {k:28} {v['median']:9.1f} [{v['min']:.1f}, {v['max']:.1f}]")
    for k in ("export_ndjson_lines_per_s", "export_csv_lines_per_s"):
        v = res[k]
        print(f"  {k:28} {v['median']:9.0f} [{v['min']:.0f}, {v['max']:.0f}]")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
