"""Collects and summarizes tools/bench_baseline.sh's runs.

    python3 summarize.py run SCENARIO REP BUILD RC STDOUT STDERR >> runs.jsonl
        One client_bench invocation (--library ours --runs 1 --json) ->
        one normalized JSON record on stdout. Exits 1 when the output has a
        line for the scenario but not the fields we need (the tool's JSON
        changed: fix this script rather than report wrong numbers).
    python3 summarize.py report RUNS_JSONL META_JSON [--json]
        Medians per build and the per-repetition ratios current/baseline.

The fields read from client_bench's JSON line: scenario, library,
median_msgs_per_s, client_cpu_us_per_message (< 0: not measured), runs_ok,
and if present runs_incomplete, context_switches_per_message,
allocations_per_message.
"""
import json
import statistics
import sys

# Issue 12: publisher-only against the fake broker, QoS 0, current vs the
# 0038861 build measured in the same run.
TARGET_RATE = 2.0   # current/baseline msg/s: at least
TARGET_CPU = 0.57   # current/baseline CPU per message: at most
TARGET_SCENARIOS = {"fake_publish_qos0"}


def _number(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def cmd_run(scenario, rep, build, rc, out_path, err_path):
    rec = {"kind": "run", "scenario": scenario, "rep": int(rep), "build": build,
           "exit_code": int(rc), "ok": False, "msgs_per_s": None, "cpu_us_per_message": None,
           "context_switches_per_message": None, "allocations_per_message": None, "error": None}
    line = None
    others = []
    with open(out_path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if obj.get("scenario") == scenario and obj.get("library") == "ours":
                line = obj
            else:
                others.append(raw)
    if line is None and others:
        # JSON came out, but not the row we asked for: the tool's names changed.
        print("bench_baseline: client_bench printed no JSON line with scenario %r and library 'ours'; "
              "it printed:\n  %s" % (scenario, "\n  ".join(others[:5])), file=sys.stderr)
        return 1
    with open(err_path, encoding="utf-8", errors="replace") as f:
        err_lines = [l.strip() for l in f if l.strip()]
    if line is None:
        rec["error"] = "no JSON line for ours/" + scenario + (": " + err_lines[-1] if err_lines else "")
        print(json.dumps(rec))
        return 0
    missing = [k for k in ("median_msgs_per_s", "client_cpu_us_per_message", "runs_ok") if k not in line]
    if missing:
        print("bench_baseline: client_bench's JSON has no field(s) %s; line: %s" %
              (", ".join(missing), json.dumps(line)), file=sys.stderr)
        return 1
    rate = _number(line["median_msgs_per_s"])
    cpu = _number(line["client_cpu_us_per_message"])
    runs_ok = _number(line["runs_ok"]) or 0
    incomplete = _number(line.get("runs_incomplete", 0)) or 0
    rec["payload"] = _number(line.get("payload"))
    rec["context_switches_per_message"] = _number(line.get("context_switches_per_message"))
    rec["allocations_per_message"] = _number(line.get("allocations_per_message"))
    if runs_ok >= 1 and incomplete == 0 and rate and rate > 0:
        rec["ok"] = True
        rec["msgs_per_s"] = rate
        rec["cpu_us_per_message"] = cpu if cpu is not None and cpu > 0 else None
    else:
        bad = [l for l in err_lines if "INCOMPLETE" in l]
        rec["error"] = (bad[-1] if bad else err_lines[-1] if err_lines else "incomplete run")
    if rec["ok"] and int(rc) != 0:
        rec["error"] = "client_bench exited with %s" % rc
    print(json.dumps(rec))
    return 0


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec, none="n/a"):
    return none if v is None else format(v, spec)


def cmd_report(runs_path, meta_path, as_json):
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    runs = []
    with open(runs_path, encoding="utf-8") as f:
        for raw in f:
            if raw.strip():
                runs.append(json.loads(raw))
    if as_json:
        for r in runs:
            print(json.dumps(r))
    verdicts = []
    for scenario in meta["scenarios"]:
        by = {}
        for r in runs:
            if r["scenario"] == scenario:
                by[(r["build"], r["rep"])] = r
        reps = sorted({rep for (_, rep) in by})
        summary = {"kind": "summary", "scenario": scenario, "messages": meta["messages"],
                   "repetitions": meta["runs"], "baseline_commit": meta["baseline_commit"],
                   "current": meta["current"], "load_average_at_start": meta.get("load_average")}
        cols = {}
        for build in ("baseline", "current"):
            ok = [by[(build, rep)] for rep in reps if (build, rep) in by and by[(build, rep)]["ok"]]
            rates = [r["msgs_per_s"] for r in ok]
            cols[build] = {
                "runs_ok": len(ok),
                "median_msgs_per_s": med(rates),
                "min_msgs_per_s": min(rates) if rates else None,
                "max_msgs_per_s": max(rates) if rates else None,
                "median_cpu_us_per_message": med([r["cpu_us_per_message"] for r in ok]),
                "median_context_switches_per_message": med([r["context_switches_per_message"] for r in ok]),
                "median_allocations_per_message": med([r["allocations_per_message"] for r in ok]),
            }
            for k, v in cols[build].items():
                summary[build + "_" + k] = v
        rate_ratios, cpu_ratios = [], []
        for rep in reps:
            a, b = by.get(("baseline", rep)), by.get(("current", rep))
            if not (a and b and a["ok"] and b["ok"]):
                rate_ratios.append(None)
                cpu_ratios.append(None)
                continue
            rate_ratios.append(b["msgs_per_s"] / a["msgs_per_s"])
            ca, cb = a["cpu_us_per_message"], b["cpu_us_per_message"]
            cpu_ratios.append(cb / ca if ca and cb else None)
        summary["rate_ratios"] = [None if v is None else round(v, 4) for v in rate_ratios]
        summary["cpu_ratios"] = [None if v is None else round(v, 4) for v in cpu_ratios]
        mr, mc = med(rate_ratios), med(cpu_ratios)
        summary["median_rate_ratio"] = mr
        summary["median_cpu_ratio"] = mc
        is_target = scenario in TARGET_SCENARIOS
        summary["target_rate_ratio_min"] = TARGET_RATE
        summary["target_cpu_ratio_max"] = TARGET_CPU
        summary["targets_from_issue_12"] = is_target
        summary["rate_target_met"] = None if mr is None else mr >= TARGET_RATE
        summary["cpu_target_met"] = None if mc is None else mc <= TARGET_CPU
        summary["payloads"] = sorted({int(r["payload"]) for r in runs
                                      if r["scenario"] == scenario and r.get("payload")})
        summary["incomplete"] = [dict(build=r["build"], rep=r["rep"], error=r["error"])
                                 for r in runs if r["scenario"] == scenario and not r["ok"]]
        if as_json:
            print(json.dumps(summary))
            continue
        n = meta["runs"]
        print()
        payloads = sorted({int(r["payload"]) for r in runs if r["scenario"] == scenario and r.get("payload")})
        print("%s: %d messages of %s B, %d interleaved repetitions (baseline, current, baseline, ...)"
              % (scenario, meta["messages"], "/".join(map(str, payloads)) or "?", n))
        print("  %-28s %7s %12s %21s %11s %9s %10s" % ("build", "runs ok", "median msg/s", "min..max msg/s",
                                                     "CPU us/msg", "ctx sw", "allocs"))
        names = {"baseline": "baseline " + meta["baseline_commit"], "current": "current " + meta["current"]}
        for build in ("baseline", "current"):
            c = cols[build]
            span = ("%.0f..%.0f" % (c["min_msgs_per_s"], c["max_msgs_per_s"])) if c["runs_ok"] else "n/a"
            print("  %-28s %7s %12s %21s %11s %9s %10s" % (
                names[build][:28], "%d/%d" % (c["runs_ok"], n), fmt(c["median_msgs_per_s"], ".0f"), span,
                fmt(c["median_cpu_us_per_message"], ".3f"), fmt(c["median_context_switches_per_message"], ".3f"),
                fmt(c["median_allocations_per_message"], ".2f")))
        label = "issue 12 target" if is_target else "QoS 0's target, for reference"
        print("  current/baseline msg/s per repetition: %s  median %s  (%s >= %.2fx: %s)" % (
            " ".join(fmt(v, ".2f", "-") for v in rate_ratios), fmt(mr, ".2f") + ("x" if mr else ""), label,
            TARGET_RATE, "n/a" if mr is None else "MET" if mr >= TARGET_RATE else "NOT MET"))
        print("  current/baseline CPU/msg per repetition: %s  median %s  (%s <= %.2fx: %s)" % (
            " ".join(fmt(v, ".2f", "-") for v in cpu_ratios), fmt(mc, ".2f") + ("x" if mc else ""), label,
            TARGET_CPU, "n/a" if mc is None else "MET" if mc <= TARGET_CPU else "NOT MET"))
        for inc in summary["incomplete"]:
            print("  INCOMPLETE %s repetition %d, not in the medians: %s" % (inc["build"], inc["rep"], inc["error"]))
        if is_target:
            verdicts.append(bool(summary["rate_target_met"]) and bool(summary["cpu_target_met"]))
    if not as_json:
        print()
        print("Noise: 2 shared virtual CPUs; load average at start %s. Ratios are per repetition "
              "(baseline and current back to back), so slow phases hit both." % meta.get("load_average", "?"))
    return 0


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "run":
        return cmd_run(*sys.argv[2:8])
    if len(sys.argv) in (4, 5) and sys.argv[1] == "report":
        return cmd_report(sys.argv[2], sys.argv[3], len(sys.argv) == 5 and sys.argv[4] == "--json")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
