#!/usr/bin/env python3
"""/v1/status against /metrics on a live promowatch (tests/demo_test.sh).

The status page's figures must be the ones Prometheus scrapes. The status
is sampled about once a second and /metrics moves with every batch, so each
counter is checked between two samples: status before <= metrics <= status
after (the second sample taken after the scrape). Usage:
status_vs_metrics.py HOST:PORT
"""
import json
import re
import sys
import time
import urllib.request

ADDRESS = sys.argv[1]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$')


def get(path):
    with urllib.request.urlopen(f"http://{ADDRESS}{path}", timeout=5) as r:
        return r.read().decode()


def metrics():
    out = []
    for line in get("/metrics").splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith('#'):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ''))
            out.append((m.group(1), labels, float(m.group(4))))
    return out


def fail(msg):
    sys.exit(f"FAIL: /v1/status vs /metrics: {msg}")


def status_after(wall_ms):
    """A status sampled after wall_ms (bounded wait: it samples every second)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = json.loads(get("/v1/status"))
        if (s.get("sampled_ms") or 0) > wall_ms:
            return s
        time.sleep(0.2)
    fail("no new status sample within 10 s")


before = json.loads(get("/v1/status"))
scraped_at = int(time.time() * 1000)
m = metrics()
after = status_after(scraped_at)


def total(name, **want):
    return sum(v for n, l, v in m if n == name and all(l.get(k) == x for k, x in want.items()))


def between(what, lo, value, hi):
    if not lo <= value <= hi:
        fail(f"{what}: /metrics says {value}, /v1/status {lo} before and {hi} after")
    print(f"ok: {what} {lo} <= {value} <= {hi}")


between("accepted records", before["input"]["accepted"],
        total("promowatch_records_total", outcome="accepted"), after["input"]["accepted"])
rejected = {(l["topic"], l["reason"]): v for n, l, v in m if n == "promowatch_records_rejected_total"}
if not rejected:
    fail("the demo's sale has malformed records, /metrics counts no rejection")
for key, value in sorted(rejected.items()):
    count = lambda s: next((r["count"] for r in s["rejections"]["by_reason"]
                            if (r["topic"], r["reason"]) == key), 0)
    between(f"rejected {key[0]}/{key[1]}", count(before), value, count(after))
ck = lambda s: max([c["sequence"] for c in s["checkpoints"]["recent"]] or [0])
between("checkpoints", ck(before), total("promowatch_checkpoint_duration_seconds_count"), ck(after))
wm = total("promowatch_global_watermark_timestamp_seconds") * 1000
between("global watermark (ms)", before["event_time"]["global_watermark_ms"], wm,
        after["event_time"]["global_watermark_ms"])

lagged = {(l["topic"], int(l["partition"])): v for n, l, v in m
          if n == "promowatch_consumer_lag_records"}
listed = {(p["topic"], p["partition"]) for p in after["input"]["partitions"]
          if p["next_offset"] >= 0}
if set(lagged) != listed:
    fail(f"partitions: /metrics has lag for {sorted(set(lagged))}, the status lists {sorted(listed)}")
print(f"ok: the same {len(listed)} partitions")
# (An alert may start or stop firing between the samples: one of them agrees.)
firing = total("promowatch_alerts_firing")
listed = [sum(1 for a in s["alerts"] if a["state"] == "firing") for s in (before, after)]
if firing not in listed:
    fail(f"firing alerts: /metrics {firing}, status {listed[0]} before and {listed[1]} after")
print(f"ok: {int(firing)} firing alert(s) in both")
if after["instance"]["tasks_here"] != list(range(int(total("promowatch_tasks_owned")))):
    fail(f"tasks: /metrics owns {total('promowatch_tasks_owned')}, status {after['instance']['tasks_here']}")
print("ok: tasks owned")
