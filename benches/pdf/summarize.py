#!/usr/bin/env python3
"""Summarise a benches/pdf/run.sh run: the Markdown table and the JSON of every raw measurement.

Usage (run.sh calls it): summarize.py --raw RAW.jsonl --data DIR --tag 100k --n N --bin PZBENCH
                                      --repeats R --rail-repeats R --stem benches/results/pdf/DATE-HOST
Writes STEM.md and STEM.json, and prints the Markdown. Also compares, per case, pzbench
`--dialect rail` with rail_eval.py (max relative difference of KS, CvM, AD, PIT outlier rate,
CDE loss on linspace(0, 3, 301), Brier and the point statistics on the mode) and pzbench's
numbers from the qp file with those from the CSV layout.
"""
import argparse
import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys

TOOLS = {
    "rail": "qp/RAIL (rail_eval.py, qp file)",
    "pz_qp": "pzbench score, qp file",
    "pz_csv": "pzbench score, CSV",
    "pz_rail": "pzbench score --dialect rail, qp file",
}
CASES = {"knn": ("Gaussian mixtures K=7 (knn)", 20.0), "flexzboost": ("grid, 301 nodes (flexzboost)", 10.0)}
RAIL_GRID = "numpy.linspace(0, 3, 301)"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e:  # pragma: no cover
        return f"({e})"


def machine():
    lscpu = {}
    for line in sh("LC_ALL=C lscpu").splitlines():
        k, _, v = line.partition(":")
        lscpu[k.strip()] = v.strip()
    mem = sh("awk '/MemTotal/ {print $2}' /proc/meminfo")
    try:
        cores = int(lscpu.get("Core(s) per socket", 0)) * int(lscpu.get("Socket(s)", 0))
    except ValueError:
        cores = None
    return {
        "host": socket.gethostname(),
        "cpu_model": lscpu.get("Model name"),
        "cores": cores,
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "cpus_lscpu": lscpu.get("CPU(s)"),
        "nproc": sh("nproc"),
        "mem_total_gib": round(int(mem) / 2**20, 1) if mem.isdigit() else None,
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
        "kernel": platform.release(),
    }


def versions(binary, git=None):
    from importlib.metadata import version, PackageNotFoundError
    out = {"python": sys.version.split()[0]}
    for pkg in ("qp-prob", "pz-rail-base", "numpy", "scipy", "h5py"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["pzbench"] = sh(f"{binary} --version") if os.path.exists(binary) else None
    out["git"] = git or (sh("git rev-parse --short HEAD")
                         + (" + uncommitted changes" if sh("git status --porcelain --untracked-files=no") else ""))
    if os.path.exists(binary):
        out["pzbench_binary"] = binary
        out["pzbench_binary_mtime"] = datetime.datetime.fromtimestamp(os.path.getmtime(binary)).astimezone().isoformat(timespec="seconds")
    return out


def leaves(obj, prefix=""):
    """Every numeric leaf of a JSON value, keyed by its path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield prefix, float(obj)


def rel(a, b):
    if a == b:
        return 0.0
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return float("nan")
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def rail_values_of_rail_eval(j):
    cde = next(c["value"] for c in j["cde_loss"] if c["zgrid"] == RAIL_GRID)
    v = {f"pit.{k}": j["pit"][k] for k in ("ks", "cvm", "ad", "outlier_rate")}
    v["cde_loss (0..3, 301)"] = cde
    v["brier"] = j["brier"]
    v.update({f"point_on_mode.{k}": j["point_on_mode"][k] for k in ("bias", "sigma_iqr", "outlier_rate", "sigma_mad")})
    return v


def find_rail_block(obj):
    """The dict holding pit + brier (+ grids) in a pzbench --dialect rail report."""
    if isinstance(obj, dict):
        if "pit" in obj and "brier" in obj:
            return obj
        for key in ("pdf", "overall", "rail"):
            if key in obj:
                found = find_rail_block(obj[key])
                if found:
                    return found
        for v in obj.values():
            found = find_rail_block(v) if isinstance(v, (dict, list)) else None
            if found:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = find_rail_block(v)
            if found:
                return found
    return None


def rail_values_of_pzbench(j):
    b = find_rail_block(j)
    if b is None:
        return None
    v = {f"pit.{k}": b["pit"].get(k) for k in ("ks", "cvm", "ad", "outlier_rate")}
    v["brier"] = b.get("brier")
    grid = None
    if isinstance(b.get("grids"), list):
        grid = next((g for g in b["grids"] if g.get("zgrid") == RAIL_GRID), None)
    elif isinstance(b.get("cde_loss"), list):  # the reference files' layout
        c = next((c for c in b["cde_loss"] if RAIL_GRID in str(c.get("args", c.get("zgrid", "")))), None)
        grid = {"cde_loss": c and c.get("value"), "point_on_mode": {k: b["point_on_mode"][k]["value"] for k in
                                                                     ("bias", "sigma_iqr", "outlier_rate", "sigma_mad")}}
    if grid:
        v["cde_loss (0..3, 301)"] = grid.get("cde_loss")
        v.update({f"point_on_mode.{k}": grid["point_on_mode"].get(k) for k in ("bias", "sigma_iqr", "outlier_rate", "sigma_mad")})
    return v


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None


def fmt_s(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--rail-repeats", type=int)
    ap.add_argument("--note", default="")
    ap.add_argument("--base-rss-kib", default="null", help="peak RSS of `pzbench --version`")
    ap.add_argument("--git", help="the work tree's state when the run started (default: now)")
    ap.add_argument("--stem", required=True)
    a = ap.parse_args()

    runs = [json.loads(line) for line in open(a.raw) if line.strip()]
    for r in runs:
        if r["tool"] == "rail" and r["rc"] == 0:
            j = load(r["output"])
            if j:
                r["rail_internal_s"] = j["timing_s"]
    sizes = {}
    for c in CASES:
        for ext in ("qp.hdf5", "csv", "grid.csv"):
            p = os.path.join(a.data, f"{c}_{a.tag}.{ext}")
            if os.path.exists(p):
                sizes[f"{c}.{ext}"] = os.path.getsize(p)

    def file_size(case, tool):
        if tool == "pz_csv":
            return sizes.get(f"{case}.csv", 0) + sizes.get(f"{case}.grid.csv", 0)
        return sizes.get(f"{case}.qp.hdf5", 0)

    summary, lines = [], []
    for case, (label, target) in CASES.items():
        ok = {t: [r for r in runs if r["case"] == case and r["tool"] == t and r["rc"] == 0] for t in TOOLS}
        failed = {t: [r for r in runs if r["case"] == case and r["tool"] == t and r["rc"] != 0] for t in TOOLS}
        if not any(ok.values()) and not any(failed.values()):
            continue
        base = statistics.median([r["wall_s"] for r in ok["rail"]]) if ok["rail"] else None
        base_min = min([r["wall_s"] for r in ok["rail"]]) if ok["rail"] else None
        for t in TOOLS:
            if not ok[t]:
                if failed[t]:
                    summary.append({"case": case, "tool": t, "failed_runs": len(failed[t])})
                continue
            w = [r["wall_s"] for r in ok[t]]
            m = [r["peak_rss_kib"] / 1024 for r in ok[t]]
            size = file_size(case, t) / 2**20
            row = {"case": case, "case_label": label, "tool": t, "tool_label": TOOLS[t], "runs": len(w),
                   "failed_runs": len(failed[t]), "wall_median_s": statistics.median(w), "wall_min_s": min(w),
                   "wall_max_s": max(w), "peak_rss_median_mib": statistics.median(m), "peak_rss_max_mib": max(m),
                   "file_mib": size, "rss_over_file": max(m) / size if size else None}
            cpu = [r["user_s"] + r["sys_s"] for r in ok[t] if "user_s" in r]
            if cpu:
                row["cpu_median_s"] = statistics.median(cpu)
            if base and t != "rail":
                row["speedup_median"] = base / row["wall_median_s"]
                row["speedup_conservative"] = base_min / row["wall_max_s"]
                row["target_speedup"] = target
                # paired: qp/RAIL's run and this tool's run of the same repeat (run minutes apart
                # at most), which cancels the machine's slow drift
                rail_by_rep = {r["repeat"]: r["wall_s"] for r in ok["rail"]}
                paired = [rail_by_rep[r["repeat"]] / r["wall_s"] for r in ok[t] if r["repeat"] in rail_by_rep]
                if paired:
                    row["speedup_paired"] = {"median": statistics.median(paired), "min": min(paired),
                                             "max": max(paired), "n": len(paired)}
            if t == "rail":
                internal = [r["rail_internal_s"]["read_and_evaluate"] for r in ok[t] if "rail_internal_s" in r]
                if internal:
                    row["internal_read_evaluate_median_s"] = statistics.median(internal)
                    row["internal_steps_median_s"] = {
                        k: statistics.median([r["rail_internal_s"][k] for r in ok[t]])
                        for k in ("import_", "read", "pit", "cde_loss", "brier", "point_on_mode")}
            summary.append(row)

    # agreement: pzbench --dialect rail vs rail_eval.py; pzbench qp file vs CSV
    agreement = {}
    for case in CASES:
        last = {}
        for r in runs:
            if r["case"] == case and r["rc"] == 0:
                last[r["tool"]] = r["output"]
        entry = {}
        if "rail" in last and "pz_rail" in last:
            ref, pz = load(last["rail"]), load(last["pz_rail"])
            rv = rail_values_of_rail_eval(ref)
            pv = rail_values_of_pzbench(pz) if pz else None
            if pv is None:
                entry["rail_vs_pz_rail"] = "no rail block found in the pzbench JSON"
            else:
                per = {k: {"rail_eval": rv[k], "pzbench": pv.get(k), "rel_diff": rel(rv[k], pv.get(k))} for k in rv}
                diffs = [d["rel_diff"] for d in per.values() if not math.isnan(d["rel_diff"])]
                entry["rail_vs_pz_rail"] = {"max_rel_diff": max(diffs) if diffs else None,
                                            "missing": [k for k, d in per.items() if d["pzbench"] is None],
                                            "per_metric": per}
        if "pz_qp" in last and "pz_csv" in last:
            a_, b_ = load(last["pz_qp"]), load(last["pz_csv"])
            if a_ and b_ and "pdf" in a_ and "pdf" in b_:
                la, lb = dict(leaves(a_["pdf"])), dict(leaves(b_["pdf"]))
                common = set(la) & set(lb)
                diffs = [rel(la[k], lb[k]) for k in common]
                diffs = [d for d in diffs if not math.isnan(d)]
                entry["qp_vs_csv"] = {"values_compared": len(common), "only_in_one": len(set(la) ^ set(lb)),
                                      "max_rel_diff": max(diffs) if diffs else None}
        if entry:
            agreement[case] = entry

    mach, vers = machine(), versions(a.bin, a.git)
    now = datetime.datetime.now().astimezone()
    md = [f"# PDF metrics: pzbench vs qp/RAIL, {a.n:,} galaxies ({now:%Y-%m-%d %H:%M %Z})", ""]
    md.append(f"Machine: {mach['cpu_model']}, {mach['cores']} cores ({mach['threads_per_core']} thread(s) per core), "
              f"nproc {mach['nproc']}, {mach['mem_total_gib']} GiB; host `{mach['host']}`; load average at the end "
              f"{' '.join(mach['loadavg_at_end'])} (a shared, noisy machine).")
    built = f", binary of {vers['pzbench_binary_mtime']}" if vers.get("pzbench_binary_mtime") else ""
    md.append(f"Versions: pzbench `{vers['pzbench'] or 'not measured'}` (git {vers['git']} at the start of the run{built}); python {vers['python']}, qp-prob "
              f"{vers['qp-prob']}, pz-rail-base {vers['pz-rail-base']}, numpy {vers['numpy']}, scipy {vers['scipy']}, "
              f"h5py {vers['h5py']}.")
    md.append(f"Repeats: {a.repeats} per tool (qp/RAIL: {a.rail_repeats}); tools alternate within a repeat, the order "
              "rotating by one each repeat. Wall time (ns clock around `/usr/bin/time`) and peak RSS and CPU time (`/usr/bin/time -f '%e %M %U %S'`) of the whole "
              "process (Python start-up and imports included for qp/RAIL; its in-process read + evaluate time is "
              "in the notes).")
    if a.note:
        md += ["", f"**Note:** {a.note}"]
    md += ["", "| case | tool | runs | median wall s | min–max s | speed-up vs qp/RAIL median (worst case) | "
               "paired speed-up median (min–max) | CPU s median | peak RSS MiB (max) | file MiB | RSS / file |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in summary:
        if "wall_median_s" not in row:
            md.append(f"| {row['case']} | {TOOLS[row['tool']]} | 0 ({row['failed_runs']} failed) | | | | | | | | |")
            continue
        sp = (f"{row['speedup_median']:.1f}× ({row['speedup_conservative']:.1f}×)" if "speedup_median" in row
              else ("1×" if row["tool"] == "rail" else ""))
        pp = row.get("speedup_paired")
        pp = f"{pp['median']:.1f}× ({pp['min']:.1f}–{pp['max']:.1f}×)" if pp else ""
        cpu = fmt_s(row["cpu_median_s"]) if "cpu_median_s" in row else ""
        md.append(f"| {row['case_label']} | {row['tool_label']} | {row['runs']} | {fmt_s(row['wall_median_s'])} | "
                  f"{fmt_s(row['wall_min_s'])}–{fmt_s(row['wall_max_s'])} | {sp} | {pp} | {cpu} | {row['peak_rss_max_mib']:.0f} | "
                  f"{row['file_mib']:.1f} | {row['rss_over_file']:.2f} |")
    md += ["", "Speed-up = qp/RAIL's median wall time / the tool's; worst case = qp/RAIL's fastest run / the tool's "
               "slowest; paired = qp/RAIL's run / the tool's run of the same repeat (minutes apart at most). CPU = user + system."]
    base_rss = None if a.base_rss_kib in ("", "null") else int(a.base_rss_kib) / 1024
    if base_rss:
        md.append(f"The pzbench binary's own footprint (peak RSS of `pzbench --version`): {base_rss:.1f} MiB.")
    md += ["", "Targets (issue): ≥ 20× qp/RAIL on mixtures, ≥ 10× on 301-node grids, peak RSS ≤ 2× the file's size."]
    for row in summary:
        if "speedup_median" in row:
            md.append(f"- {row['case']}, {row['tool_label']}: speed-up {row['speedup_median']:.1f}× "
                      f"(target {row['target_speedup']:.0f}×: {'met' if row['speedup_median'] >= row['target_speedup'] else 'NOT met'}); "
                      f"RSS/file {row['rss_over_file']:.2f} ({'met' if row['rss_over_file'] <= 2 else 'NOT met'})")
    md += ["", "qp/RAIL in-process times (median s; `time.perf_counter` around read + evaluate, and per step):", ""]
    for row in summary:
        if row.get("internal_steps_median_s"):
            st = row["internal_steps_median_s"]
            md.append(f"- {row['case']}: read + evaluate {row['internal_read_evaluate_median_s']:.2f} "
                      f"(imports {st['import_']:.2f}, read {st['read']:.2f}, PIT + KS/CvM/AD/outlier {st['pit']:.2f}, "
                      f"CDE loss {st['cde_loss']:.2f}, Brier {st['brier']:.2f}, mode + point stats {st['point_on_mode']:.2f})")
    if agreement:
        md += ["", "Agreement:"]
        for case, e in agreement.items():
            r = e.get("rail_vs_pz_rail")
            if isinstance(r, dict):
                worst = max(r["per_metric"].items(), key=lambda kv: -1 if math.isnan(kv[1]["rel_diff"]) else kv[1]["rel_diff"])
                md.append(f"- {case}: pzbench `--dialect rail` vs rail_eval.py: max relative difference "
                          f"{r['max_rel_diff']:.3g} (largest: {worst[0]})" + (f"; missing {r['missing']}" if r["missing"] else ""))
            elif r:
                md.append(f"- {case}: pzbench `--dialect rail` vs rail_eval.py: {r}")
            q = e.get("qp_vs_csv")
            if q:
                md.append(f"- {case}: pzbench on the qp file vs on the CSV: {q['values_compared']} values, max relative "
                          f"difference {q['max_rel_diff']:.3g}" + (f", {q['only_in_one']} keys in one only" if q["only_in_one"] else ""))
    md += ["", "Method: benches/pdf/README.md. Raw measurements: the .json beside this file.", ""]
    text = "\n".join(md)
    with open(a.stem + ".md", "w") as f:
        f.write(text)
    with open(a.stem + ".json", "w") as f:
        json.dump({"date": now.isoformat(timespec="seconds"), "n": a.n, "repeats": a.repeats,
                   "rail_repeats": a.rail_repeats, "machine": mach, "versions": vers, "note": a.note,
                   "file_sizes_bytes": sizes, "pzbench_version_rss_mib": base_rss, "summary": summary, "agreement": agreement, "raw": runs}, f, indent=1)
        f.write("\n")
    print(text)
    print(f"wrote {a.stem}.md and {a.stem}.json")


if __name__ == "__main__":
    main()
