#!/usr/bin/env python3
"""Soak: the embedded default (`promowatch demo`) at a steady rate for a long
time, sampled every interval, then plotted.

With --processes the same load runs as three processes, so that each one's
memory is its own: the embedded cluster (`promowatch mock-kafka`), the
generator (`promowatch gen --brokers`) and the pipeline (`promowatch run`,
with the demo's settings). The demo's resident memory holds all three; a
deployment's is only the pipeline's.

Each sample: resident memory and open file descriptors of the process
(/proc), the consumer lag, records read per second and the checkpoint pauses
(mean and the histogram bucket holding the longest) from /metrics, and the
state's size. Writes OUT/soak.csv and OUT/soak.svg (the plot needs only the
Python standard library). Not part of the test command: it runs for
--minutes. Usage: scripts/soak.py --minutes 30 --rate 20000 [--processes]
"""

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def scrape(address):
    """The /metrics text as {(name, labels): value}."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = SAMPLE_RE.match(line)
        if m and not line.startswith('#'):
            out[(m.group(1), m.group(2) or '')] = float(m.group(3))
    return out


def total(metrics, name):
    return sum(v for (n, _), v in metrics.items() if n == name)


def part(metrics, name):
    """promowatch_state_memory_bytes of one part."""
    return sum(v for (n, labels), v in metrics.items()
               if n == 'promowatch_state_memory_bytes' and f'part="{name}"' in labels)


def buckets(metrics, name):
    """{le: cumulative count} summed over label sets."""
    out = {}
    for (n, labels), v in metrics.items():
        if n == name + '_bucket':
            le = re.search(r'le="([^"]+)"', labels).group(1)
            out[float(le)] = out.get(float(le), 0) + v
    return out


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(l.split()[1]) for l in f if l.startswith('VmRSS:'))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def wait_for_metrics(address, proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"soak: the pipeline exited with {proc.returncode} before serving /metrics")
        try:
            return scrape(address)
        except OSError:
            time.sleep(0.5)
    sys.exit(f"soak: no /metrics on {address} after {seconds} s (see its log in --out)")


def svg_plot(rows, path, title):
    """Small multiples: one panel per series, minutes on x."""
    series = [('rss_mib', 'resident memory (MiB)'),
              ('cluster_rss_mib', 'resident memory of mock-kafka (MiB)'),
              ('gen_rss_mib', 'resident memory of gen (MiB)'),
              ('open_fds', 'open file descriptors'),
              ('lag_records', 'consumer lag (records)'), ('read_per_s', 'records read per second'),
              ('checkpoint_mean_ms', 'checkpoint pause, mean (ms)'),
              ('checkpoint_max_le_ms', 'checkpoint pause, longest bucket (ms)'),
              ('state_mib', 'state size (MiB)'),
              ('rocksdb_mem_mib', 'RocksDB memory: cache, memtables, readers (MiB)'),
              ('window_users_mib', "windows' unique-visitor sets (MiB)"),
              ('dedup_mib', 'dedup ids (MiB)')]
    # (A CSV of an older soak lacks the later columns.)
    series = [sr for sr in series if rows[0].get(sr[0]) not in (None, '')]
    w, ph, left, top = 760, 150, 90, 40
    h = top + len(series) * (ph + 30) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="22" font-size="15">{title}</text>']
    xs = [float(r['minute']) for r in rows]
    xmax = max(xs) if xs and max(xs) > 0 else 1
    for i, (key, label) in enumerate(series):
        y0 = top + i * (ph + 30)
        vals = [float(r[key]) for r in rows]
        vmax = max(vals) if vals and max(vals) > 0 else 1
        vmax *= 1.1
        pw = w - left - 20
        parts.append(f'<text x="{left}" y="{y0 + 12}">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y0 + 18}" width="{pw}" height="{ph - 18}" '
                     f'fill="none" stroke="#999"/>')
        for frac in (0, 0.5, 1):
            yy = y0 + ph - frac * (ph - 18)
            parts.append(f'<text x="{left - 6}" y="{yy + 4}" text-anchor="end">'
                         f'{vmax * frac:,.4g}</text>')
        for m in range(0, int(xmax) + 1, max(1, int(xmax) // 6)):
            xx = left + m / xmax * pw
            parts.append(f'<text x="{xx}" y="{y0 + ph + 14}" text-anchor="middle">{m} min</text>')
        pts = ' '.join(f'{left + x / xmax * pw:.1f},{y0 + ph - v / vmax * (ph - 18):.1f}'
                       for x, v in zip(xs, vals))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    parts.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(parts) + '\n')


# `run` with what the demo sets in code (demo.cc): its alert rule, 2 s
# checkpoints and idle timeout, no clock-skew guard (the sale runs ahead of
# the wall clock by --speed), JSON results.
RUN_CONFIG = """\
watermark:
  idle_timeout: 2s
  max_future_skew: 0s
state:
  checkpoint_interval: 2s
kafka:
  group: promowatch-soak
  results_format: json
  properties:
    session.timeout.ms: "6000"
alerts:
  rules:
    - name: low_ctr
      metric: ctr
      window: 1m
      scope: campaign_channel
      op: "<"
      threshold: 0.015
      min_volume: 500
"""


def start_processes(args, duration):
    """mock-kafka, then run, then gen: ({pipeline}, {name: process})."""
    out = args.out
    cluster = subprocess.Popen([args.binary, 'mock-kafka', '--partitions', '4'],
                               stdout=subprocess.PIPE, text=True,
                               stderr=open(os.path.join(out, 'mock-kafka.log'), 'w'))
    brokers = cluster.stdout.readline().strip()
    if not brokers:
        sys.exit("soak: mock-kafka printed no bootstrap address (see mock-kafka.log)")
    config = os.path.join(out, 'run.yaml')
    with open(config, 'w') as f:
        f.write(RUN_CONFIG)
    state_dir = os.path.join(out, 'state')
    subprocess.run(['rm', '-rf', state_dir], check=True)
    run = subprocess.Popen([args.binary, 'run', '--brokers', brokers, '--state-dir', state_dir,
                            '--config', config, '--metrics-address', args.metrics_address],
                           stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(out, 'run.log'), 'w'))
    # The demo's sale: `rate` records per wall second, event time `speed`
    # times faster, from now.
    gen = subprocess.Popen([args.binary, 'gen', '--brokers', brokers,
                            '--rate', str(args.rate / args.speed), '--peak-factor', '1',
                            '--rate-limit', str(int(args.rate)),
                            '-n', str(int(args.rate * duration)),
                            '--start-ms', str(int(time.time() * 1000))],
                           stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(out, 'gen.log'), 'w'))
    return run, {'mock-kafka': cluster, 'gen': gen}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes', type=float, default=30, help='how long (default 30)')
    ap.add_argument('--rate', type=float, default=20000, help='events per second (default 20000)')
    ap.add_argument('--speed', type=float, default=100,
                    help='event time runs this many times faster than wall time (default 100: '
                         'a day of the sale in 14.4 minutes, so day-long state turns over)')
    ap.add_argument('--interval', type=float, default=60, help='seconds between samples (60)')
    ap.add_argument('--binary', default='build/promowatch', help='the promowatch binary')
    ap.add_argument('--metrics-address', default='127.0.0.1:9474')
    ap.add_argument('--out', default='soak-out', help='folder for soak.csv, soak.svg, demo.log')
    ap.add_argument('--processes', action='store_true',
                    help='mock-kafka, gen and run as processes of their own (memory of each)')
    ap.add_argument('--plot-only', action='store_true', help='re-plot OUT/soak.csv, run nothing')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    csv_path, svg_path = os.path.join(args.out, 'soak.csv'), os.path.join(args.out, 'soak.svg')
    title = (f'promowatch soak: embedded default at {args.rate:,.0f} events/s, '
             f'event time x{args.speed:g}')
    if args.plot_only:
        with open(csv_path) as f:
            svg_plot(list(csv.DictReader(f)), svg_path, title)
        return 0
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"soak: no binary at {args.binary} (build first: cmake --build build)")

    duration = args.minutes * 60 + 2 * args.interval
    if args.processes:
        proc, others = start_processes(args, duration)
    else:
        proc = subprocess.Popen([args.binary, 'demo', '--rate', str(args.rate), '--speed',
                                 str(args.speed), '--duration', str(duration),
                                 '--metrics-address', args.metrics_address],
                                stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(args.out, 'demo.log'), 'w'))
        others = {}
    fields = ['minute', 'rss_mib', 'cluster_rss_mib', 'gen_rss_mib', 'open_fds', 'lag_records', 'read_per_s',
              'checkpoint_mean_ms', 'checkpoint_max_le_ms', 'checkpoint_count', 'state_mib',
              'rocksdb_mem_mib', 'window_users_mib', 'dedup_mib']
    rows = []
    try:
        prev = wait_for_metrics(args.metrics_address, proc, 60)
        start = prev_t = time.monotonic()
        samples = int(args.minutes * 60 / args.interval)
        for i in range(1, samples + 1):
            # (A fixed schedule, not a sleep per loop: samples stay `interval` apart.)
            time.sleep(max(0.0, start + i * args.interval - time.monotonic()))
            if proc.poll() is not None:
                sys.exit(f"soak: the pipeline exited with {proc.returncode} at sample {i}")
            for name, other in others.items():
                if other.poll() is not None:
                    sys.exit(f"soak: {name} exited with {other.returncode} at sample {i}")
            now_t, cur = time.monotonic(), scrape(args.metrics_address)
            rss, fds = proc_sample(proc.pid)
            name = 'promowatch_checkpoint_duration_seconds'
            d_count = total(cur, name + '_count') - total(prev, name + '_count')
            d_sum = total(cur, name + '_sum') - total(prev, name + '_sum')
            b_now, b_prev = buckets(cur, name), buckets(prev, name)
            longest = next((le for le in sorted(b_now)
                            if b_now[le] - b_prev.get(le, 0) >= d_count), float('inf'))
            row = {
                'minute': round((now_t - start) / 60, 2),
                'rss_mib': round(rss, 1),
                'cluster_rss_mib': (round(proc_sample(others['mock-kafka'].pid)[0], 1)
                                    if others else ''),
                'gen_rss_mib': round(proc_sample(others['gen'].pid)[0], 1) if others else '',
                'open_fds': fds,
                'lag_records': int(total(cur, 'promowatch_consumer_lag_records')),
                'read_per_s': round((total(cur, 'promowatch_records_total') -
                                     total(prev, 'promowatch_records_total')) / (now_t - prev_t)),
                'checkpoint_mean_ms': round(1000 * d_sum / d_count, 2) if d_count else 0,
                'checkpoint_max_le_ms': 1000 * longest if d_count else 0,
                'checkpoint_count': int(d_count),
                'state_mib': round(total(cur, 'promowatch_state_size_bytes') / 2**20, 2),
                'rocksdb_mem_mib': round(sum(
                    v for (n, labels), v in cur.items()
                    if n == 'promowatch_state_memory_bytes' and 'rocksdb' in labels) / 2**20, 2),
                'window_users_mib': round(part(cur, 'window_user_sets') / 2**20, 2),
                'dedup_mib': round(part(cur, 'dedup_ids') / 2**20, 2),
            }
            rows.append(row)
            print(' '.join(f'{k}={v}' for k, v in row.items()), flush=True)
            prev, prev_t = cur, now_t
    finally:
        # The pipeline first (its SIGTERM checkpoints against a live cluster).
        for p in [proc] + [others[n] for n in ('gen', 'mock-kafka') if n in others]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
        with open(csv_path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        if rows:
            svg_plot(rows, svg_path, title)
    print(f"soak: {len(rows)} samples in {csv_path}, plot {svg_path}; "
          f"the pipeline exited {proc.returncode}")
    return 0 if proc.returncode == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
