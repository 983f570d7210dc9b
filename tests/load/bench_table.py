#!/usr/bin/env python3
"""bench_table.py — the table of `make bench`: callrelay against Nchan, with issue 12's goals.

  bench_table.py --one JSONLINE                       one progress line for one crbench run
  bench_table.py --env env.json --runs runs.jsonl [--out FILE]

runs.jsonl holds crbench's JSON lines, each with "system" (nchan-memory, nchan-redis, callrelay)
and "scenario" (A..E) added. Prints the table (markdown) and writes it, the environment and the
raw runs as JSON to --out. Standard library only.
"""
import argparse
import json
import sys

SYSTEMS = ["nchan-memory", "nchan-redis", "callrelay"]
NAMES = {"nchan-memory": "Nchan, memory", "nchan-redis": "Nchan, Redis AOF", "callrelay": "callrelay"}

# (key, scenario, label, field, unit, goal). goal: (op, factor, against): against is a system
# (the goal is on the ratio callrelay / that system) or "abs" (on callrelay's own value).
METRICS = [
    ("A_events_per_s", "A", "A: events/s (1000 users x 1 tab, 16 conns)", "events_per_s", "/s", (">=", 0.8, "nchan-memory")),
    ("A_events_per_s_redis", "A", "A: events/s against Nchan-Redis", "events_per_s", "/s", (">=", 3.0, "nchan-redis")),
    ("A_server_us", "A", "A: server CPU per event, us", "server_cpu_us_per_event", "us", ("<=", 12.0, "abs")),
    ("A_redis_us", "A", "A: Redis CPU per event, us", "aux_cpu_us_per_event", "us", ("<=", 8.0, "abs")),
    ("A_lat_p99_ms", "A", "A: latency p99 under saturation, ms", "lat_p99_us", "ms", None),
    ("B_lat_p50_ms", "B", "B: latency p50 at 2000/s, ms", "lat_p50_us", "ms", None),
    ("B_lat_p99_ms", "B", "B: latency p99 at 2000/s, ms", "lat_p99_us", "ms", ("<=", 1.5, "nchan-memory")),
    ("B_lat_p999_ms", "B", "B: latency p99.9 at 2000/s, ms", "lat_p999_us", "ms", None),
    ("C_deliveries_per_s", "C", "C: deliveries/s (100 users x 5 tabs)", "delivery_per_s", "/s", (">=", 0.8, "nchan-memory")),
    ("D_kib_per_conn", "D", "D: KiB per idle websocket (RSS)", "kib_per_conn_rss", "KiB", ("<=", 0.2, "nchan-memory")),
    ("D_kib_per_conn_pss", "D", "D: KiB per idle websocket (PSS)", "kib_per_conn_pss", "KiB", None),
    ("E_replay_ms", "E", "E: replay of missed events, ms", "replay_all_ms", "ms", ("<=", 0.02, "nchan-redis")),
]
GOAL_NAMES = {"nchan-memory": "Nchan-memory", "nchan-redis": "Nchan-Redis"}


def clean(r):
    """Every acked event delivered exactly once, nothing refused, nothing broken."""
    if not r or r.get("mode") == "none" or r.get("server_died"):
        return False
    if r.get("mode") == "idle":
        return r.get("ok", False)
    return (r.get("ok", False) and r.get("lost", 1) == 0 and r.get("duplicates", 1) == 0
            and r.get("misrouted", 1) == 0 and r.get("errors", 1) == 0)


def why_not_clean(r):
    if not r:
        return "no run"
    if r.get("server_died"):
        return "the server died"
    if r.get("error"):
        return r["error"]
    if r.get("mode") == "idle":
        return f"{r.get('failed', 0)} of {r.get('target', 0)} connections failed, {r.get('disconnects_during_hold', 0)} dropped"
    parts = [f"{r.get(k)} {k}" for k in ("lost", "duplicates", "misrouted", "errors", "sub_connect_errors",
                                          "sub_disconnects") if r.get(k)]
    if r.get("timed_out"):
        parts.append("timed out")
    return ", ".join(parts) or "run not clean"


def value(r, field):
    if r and field == "aux_cpu_us_per_event" and "aux_cpu_s" in r and r.get("events"):
        return r["aux_cpu_s"] * 1e6 / r["events"]  # Redis, beside the server
    if not r or field not in r:
        return None
    v = r[field]
    if field.endswith("_us"):
        v = v / 1000.0
    if field == "replay_all_ms" and v < 0:
        return None
    return v


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "/s":
        return f"{v:,.0f}"
    if unit in ("KiB", "us"):
        return f"{v:.1f}"
    if unit == "ms" and v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def one_line(d):
    s, sysname = d.get("scenario", "?"), d.get("system", "")
    if d.get("mode") == "idle":
        return (f"  {sysname} {s}: {d.get('established', 0)}/{d.get('target', 0)} up in {d.get('connect_s', 0):.1f} s, "
                f"{d.get('kib_per_conn_rss', 0):.1f} KiB/conn RSS, {d.get('kib_per_conn_pss', 0):.1f} PSS, ok={d.get('ok')}")
    if d.get("mode") != "run":
        return f"  {sysname} {s}: no result{': ' + d['error'] if d.get('error') else ''}"
    out = (f"  {sysname} {s}: {d['events_per_s']:,.0f} events/s, {d['delivery_per_s']:,.0f} deliveries/s, "
           f"lat p50 {d['lat_p50_us'] / 1000:.2f} p99 {d['lat_p99_us'] / 1000:.2f} ms, "
           f"lost {d['lost']} dup {d['duplicates']} misrouted {d['misrouted']} err {d['errors']}, "
           f"cpu crbench {d['tool_cpu_pct']:.0f}% server {d.get('server_cpu_pct', 0):.0f}% aux {d.get('aux_cpu_pct', 0):.0f}%")
    if d.get("order") == "replay":
        out += f", replay {d.get('replay_all_ms', -1):.0f} ms"
    return out + ("" if d.get("ok") else "  [NOT OK]")


def build(runs):
    by = {(r.get("system"), r.get("scenario")): r for r in runs}
    rows = []
    for key, scen, label, field, unit, goal in METRICS:
        vals = {s: value(by.get((s, scen)), field) for s in SYSTEMS}
        cr, nm, nr = vals["callrelay"], vals["nchan-memory"], vals["nchan-redis"]
        row = {"key": key, "scenario": scen, "metric": label, "unit": unit, "values": vals,
               "ratio_nchan_memory": cr / nm if cr is not None and nm else None,
               "ratio_nchan_redis": cr / nr if cr is not None and nr else None}
        if goal:
            op, k, against = goal
            if against == "abs":
                row["goal"] = f"{op} {k:g} {unit}"
                ratio = cr
            else:
                row["goal"] = f"{op} {k:g}x {GOAL_NAMES[against]}"
                ratio = cr / vals[against] if cr is not None and vals[against] else None
            run = by.get(("callrelay", scen))
            if ratio is None:
                row["met"] = False if run and run.get("error") else None
                if run and run.get("error"):
                    row["why"] = run["error"]
            else:
                ok = ratio >= k if op == ">=" else ratio <= k
                row["met"] = bool(ok and clean(run))
                if ok and not clean(run):
                    row["why"] = why_not_clean(run)
        rows.append(row)
    # zero lost / duplicated everywhere
    per = {}
    for s in SYSTEMS:
        rs = [r for r in runs if r.get("system") == s and r.get("mode") == "run"]
        per[s] = {"lost": sum(r.get("lost", 0) for r in rs), "duplicates": sum(r.get("duplicates", 0) for r in rs),
                  "misrouted": sum(r.get("misrouted", 0) for r in rs), "errors": sum(r.get("errors", 0) for r in rs),
                  "failed_conns": sum(r.get("failed", 0) + r.get("disconnects_during_hold", 0)
                                      for r in runs if r.get("system") == s and r.get("mode") == "idle"),
                  "all_clean": all(clean(r) for r in runs if r.get("system") == s) and
                  any(r.get("system") == s for r in runs)}
    for s in SYSTEMS:
        per[s]["failed_runs"] = sum(1 for r in runs if r.get("system") == s and
                                    (r.get("mode") not in ("run", "idle") or r.get("server_died")))
    cr = per["callrelay"]
    rows.append({"key": "zero_loss", "scenario": "*", "metric": "lost / duplicated (every scenario)", "unit": "",
                 "values": {s: (f"{per[s]['lost']} / {per[s]['duplicates']}" if any(r.get("system") == s for r in runs)
                                else "-") for s in SYSTEMS},
                 "goal": "0 / 0 for callrelay",
                 "met": cr["lost"] == 0 and cr["duplicates"] == 0 and cr["misrouted"] == 0 and cr["errors"] == 0
                 and cr["failed_runs"] == 0 and any(r.get("system") == "callrelay" for r in runs)})
    if cr["failed_runs"]:
        rows[-1]["why"] = f"{cr['failed_runs']} callrelay run(s) without a result"
    return rows, per


def markdown(rows, per, runs, env):
    out = []
    if env:
        out.append(f"{env.get('date', '')}: {env.get('cpus')} x {env.get('cpu_model')}, kernel {env.get('kernel')}, "
                   f"nginx {env.get('nginx')} + nchan {env.get('nchan')}, redis {env.get('redis')}, "
                   f"callrelay {env.get('callrelay_commit')} ({env.get('callrelay_bin')}, workers {env.get('callrelay_workers')})"
                   f"{', QUICK' if env.get('quick') else ''}; "
                   f"load average at start {' '.join(env.get('loadavg_start', []))}")
        out.append("")
    out.append("| metric | " + " | ".join(NAMES[s] for s in SYSTEMS) +
               " | callrelay / Nchan-memory | callrelay / Nchan-Redis | goal | met |")
    out.append("|---|" + "---|" * (len(SYSTEMS) + 4))
    for r in rows:
        vals = [r["values"][s] if isinstance(r["values"][s], str) else fmt(r["values"][s], r["unit"]) for s in SYSTEMS]
        rm = f"{r['ratio_nchan_memory']:.2f}" if r.get("ratio_nchan_memory") is not None else "-"
        rr = f"{r['ratio_nchan_redis']:.2f}" if r.get("ratio_nchan_redis") is not None else "-"
        met = {True: "**met**", False: "not met", None: "n/a"}[r["met"]] if "met" in r else ""
        if r.get("why"):
            met += f" ({r['why']})"
        out.append(f"| {r['metric']} | " + " | ".join(vals) + f" | {rm} | {rr} | {r.get('goal', '')} | {met} |")
    out.append("")
    out.append("| system | scen | events/s | deliveries/s | lat p50 / p99 / p99.9 ms | lost | dup | misrouted | errors "
               "| crbench CPU | server CPU | redis CPU | ok |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(runs, key=lambda x: (x.get("scenario", ""), SYSTEMS.index(x["system"]) if x.get("system") in SYSTEMS else 9)):
        if r.get("mode") == "idle":
            out.append(f"| {r['system']} | {r['scenario']} | {r.get('established', 0):,}/{r.get('target', 0):,} conns "
                       f"| {r.get('kib_per_conn_rss', 0):.1f} KiB/conn | - | {r.get('failed', 0)} failed | - | "
                       f"{r.get('disconnects_during_hold', 0)} dropped | - | - | - | - | {r.get('ok')} |")
        elif r.get("mode") == "run":
            out.append(f"| {r['system']} | {r['scenario']} | {r['events_per_s']:,.0f} | {r['delivery_per_s']:,.0f} | "
                       f"{r['lat_p50_us'] / 1000:.2f} / {r['lat_p99_us'] / 1000:.2f} / {r['lat_p999_us'] / 1000:.2f} | "
                       f"{r['lost']} | {r['duplicates']} | {r['misrouted']} | {r['errors']} | {r['tool_cpu_pct']:.0f}% | "
                       f"{r.get('server_cpu_pct', 0):.0f}% | {str(round(r['aux_cpu_pct'])) + '%' if 'aux_cpu_pct' in r else '-'} | "
                       f"{r.get('ok')} |")
        else:
            out.append(f"| {r.get('system')} | {r.get('scenario')} | no result: {r.get('error', '')} | | | | | | | | | | False |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--one")
    ap.add_argument("--env")
    ap.add_argument("--runs")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.one:
        print(one_line(json.loads(a.one)))
        return 0
    env = json.load(open(a.env)) if a.env else {}
    runs = [json.loads(line) for line in open(a.runs) if line.strip()]
    with open("/proc/loadavg") as f:
        env["loadavg_end"] = f.read().split()[:3]
    rows, per = build(runs)
    md = markdown(rows, per, runs, env)
    print(md)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"env": env, "table": rows, "per_system": per, "runs": runs, "markdown": md}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
