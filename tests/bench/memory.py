#!/usr/bin/env python3
"""memory.py — peak memory under worst-case pages (`make bench`).

Everything on loopback under a temporary folder, torn down at the end: a
private Postgres and Redis, nginx serving one page of random words (about
PAGE_MB megabytes, just under FETCH_MAX_BYTES: every word a new one, the
worst case for the word tables), wordcount-web and wordcount-worker (-O2).

  burst   PAGES jobs of that page submitted at once to WORKER_PROCESSES
          (2) x WORKER_CONCURRENCY (64) under WORKER_MEMORY_MB; peak RSS
          (VmHWM) of each worker process against its share of the budget,
          and of the supervisor; time to finish, how many jobs waited for
          memory
  reads   READERS clients reading the full result of one of those jobs
          (GET /api/v1/jobs/{id}/result, counts included) at once; peak RSS
          of the web process (the goal: under 64 MB), the answers' statuses
          (503 when the line for a stream connection is full), and the
          slowest answer of other routes asked meanwhile (/readyz, a job
          poll, a result without counts)

Sizes: by default a run that ends in a few minutes (PAGES 16 of PAGE_MB
3.2, WORKER_MEMORY_MB 512, READERS 20); MEMORY_FULL=1 is the issue's
(64 pages of 9.9 MB, 2048 MB, 50 readers). Each setting can be given on
its own too.

Prints a table, writes tests/bench/results-memory.json; asserts nothing.
Standard library only (and e2e.py's helpers).
"""
import http.client
import json
import os
import random
import string
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

ROOT = e2e.ROOT


def worst_page(path, size):
    rnd = random.Random(14)
    letters = string.ascii_lowercase
    parts, n = ["<html><body><p>"], 15
    while n < size - 32:
        w = "".join(rnd.choices(letters, k=rnd.randint(5, 9)))
        parts.append(w)
        n += len(w) + 1
    parts.append("</p></body></html>\n")
    with open(path, "w") as f:
        f.write(" ".join(parts))
    return os.path.getsize(path)


def status_kb(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None


def probe(port, paths, stop, seen):
    """Asks each of paths in turn until stop is set; keeps the slowest
    answer's time and every status that was not 200."""
    while not stop.is_set():
        for p in paths:
            t0 = time.time()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("GET", p)
                r = c.getresponse()
                r.read()
                status = r.status
                c.close()
            except OSError as e:
                status = type(e).__name__
            took = time.time() - t0
            seen["n"] += 1
            seen["max_s"] = max(seen["max_s"], took)
            if status != 200:
                seen["not_200"][str(status)] = seen["not_200"].get(str(status), 0) + 1
        time.sleep(0.2)


def read_result(port, jid, out, i):
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", f"/api/v1/jobs/{jid}/result")
    r = c.getresponse()
    n = 0
    while True:
        chunk = r.read(65536)
        if not chunk:
            break
        n += len(chunk)
    out[i] = (r.status, n, time.time() - t0)


def main():
    full = os.environ.get("MEMORY_FULL") == "1"
    pages = int(os.environ.get("PAGES", 64 if full else 16))
    page_mb = float(os.environ.get("PAGE_MB", 9.9 if full else 3.2))
    procs = int(os.environ.get("WORKER_PROCESSES", 2))
    conc = int(os.environ.get("WORKER_CONCURRENCY", 64))
    budget = int(os.environ.get("WORKER_MEMORY_MB", 2048 if full else 512))
    readers = int(os.environ.get("READERS", 50 if full else 20))
    tmp = tempfile.mkdtemp(prefix="wc-bench-mem.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(tmp, 0o755)
    os.makedirs(f"{tmp}/pages")
    os.chmod(f"{tmp}/pages", 0o755)
    size = worst_page(f"{tmp}/pages/worst.html", int(page_mb * 1e6))
    e2e.MANUAL = f"{tmp}/pages"  # nginx's root
    sysm = e2e.System(tmp)
    report = {"pages": pages, "page_bytes": size, "worker_processes": procs,
              "worker_concurrency": conc, "worker_memory_mb": budget, "readers": readers}
    try:
        sysm.start_servers()
        sysm.env.update(FETCH_TIMEOUT="600s", JOB_TIMEOUT="900s", LOG_LEVEL="info")
        sysm.start_web()
        sysm.start("worker", [f"{ROOT}/bin/wordcount-worker"], WORKER_PROCESSES=procs,
                   WORKER_CONCURRENCY=conc, WORKER_MEMORY_MB=budget)
        time.sleep(1)
        kids = sysm.worker_children()
        sup = sysm.procs["worker"].pid
        e2e.log(f"burst: {pages} pages of {size} bytes, {procs} x {conc}, budget {budget} MB")
        urls = [f"http://127.0.0.1:{sysm.nginx_port}/worst.html?copy={i}" for i in range(pages)]
        t0 = time.time()
        ids = e2e.submit(sysm, urls)
        peak_rss = {}
        done = threading.Event()

        def sample():  # VmHWM is the peak; RSS sampled for the log
            while not done.is_set():
                for k in kids + [sup]:
                    v = status_kb(k, "VmHWM")
                    if v:
                        peak_rss[k] = max(peak_rss.get(k, 0), v)
                time.sleep(0.5)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        jobs = e2e.wait_all(sysm, ids, limit_s=3600)
        done.set()
        th.join()
        took = time.time() - t0
        fin = [j for j in jobs if j["status"] == "finished"]
        failed = {}
        for j in jobs:
            if j["status"] != "finished":
                code = (j.get("error") or {}).get("code", "?")
                failed[code] = failed.get(code, 0) + 1
        waited = open(f"{tmp}/worker.log").read().count('msg="memory budget full')
        share_kb = budget * 1024 // procs
        report["burst"] = {"seconds": round(took, 1), "finished": len(fin), "failed": failed,
                           "downloads_paused": waited, "share_mb": share_kb // 1024,
                           "worker_peak_rss_mb": {str(k): round(v / 1024, 1) for k, v in peak_rss.items()
                                                  if k != sup},
                           "supervisor_peak_rss_mb": round(peak_rss.get(sup, 0) / 1024, 1),
                           "attempts_max": max(j.get("attempts", 0) for j in jobs)}
        e2e.log("burst:", json.dumps(report["burst"]))

        if fin:
            jid = fin[0]["id"]
            web = sysm.procs["web"].pid
            before = status_kb(web, "VmHWM")
            out = [None] * readers
            # Other routes while the results are read: /readyz (Postgres on
            # the web's own connection), a job poll, a result without counts.
            stop = threading.Event()
            seen = {"n": 0, "max_s": 0.0, "not_200": {}}
            pr = threading.Thread(target=probe, args=(sysm.web_port, [
                "/readyz", f"/api/v1/jobs/{jid}", f"/api/v1/jobs/{jid}/result?counts=false"],
                stop, seen), daemon=True)
            pr.start()
            t0 = time.time()
            ths = [threading.Thread(target=read_result, args=(sysm.web_port, jid, out, i))
                   for i in range(readers)]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            took = time.time() - t0
            stop.set()
            pr.join()
            ok = [o for o in out if o and o[0] == 200]
            statuses = {}
            for o in out:
                k = str(o[0]) if o else "none"
                statuses[k] = statuses.get(k, 0) + 1
            report["reads"] = {"seconds": round(took, 1), "ok": len(ok), "statuses": statuses,
                               "slowest_read_s": round(max((o[2] for o in out if o), default=0), 1),
                               "other_routes": {"asked": seen["n"],
                                                "slowest_s": round(seen["max_s"], 2),
                                                "not_200": seen["not_200"]},
                               "bytes_each": ok[0][1] if ok else None,
                               "web_peak_rss_mb_before": round((before or 0) / 1024, 1),
                               "web_peak_rss_mb": round((status_kb(web, "VmHWM") or 0) / 1024, 1)}
            e2e.log("reads:", json.dumps(report["reads"]))
    finally:
        sysm.teardown()
    print(f"memory: {pages} worst-case pages of {size / 1e6:.1f} MB, {procs} x {conc}, "
          f"WORKER_MEMORY_MB {budget}")
    b = report.get("burst", {})
    print(f"  burst: {b.get('finished')} finished, failed {b.get('failed')}, {b.get('seconds')} s, "
          f"{b.get('downloads_paused')} waits for memory logged")
    peaks = b.get("worker_peak_rss_mb") or {}
    top = max(peaks.values()) if peaks else None
    print(f"  peak RSS: worker processes {sorted(peaks.values())} MB, the largest "
          f"{'under' if top is not None and top < b.get('share_mb', 0) else 'NOT under'} "
          f"its share of {b.get('share_mb')} MB; supervisor {b.get('supervisor_peak_rss_mb')} MB")
    r = report.get("reads", {})
    web = r.get("web_peak_rss_mb")
    print(f"  reads: {r.get('ok')}/{readers} read {r.get('bytes_each')} bytes each in "
          f"{r.get('seconds')} s (statuses {r.get('statuses')}); other routes meanwhile: "
          f"{r.get('other_routes')}; peak RSS: web {web} MB, "
          f"{'under' if web is not None and web < 64 else 'NOT under'} 64 MB "
          f"(before the reads {r.get('web_peak_rss_mb_before')} MB)")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results-memory.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
