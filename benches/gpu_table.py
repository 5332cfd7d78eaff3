"""The throughput table of a `benches/gpu_bench.sh` log: galaxies/s of training and inference per
implementation and image size (median of the repeated runs, [smallest, largest]), pzbench's host
queueing time, and the ratios of pzbench with CUDA graphs (f32, and bf16 where measured) to each
PyTorch variant.

usage: python3 benches/gpu_table.py OUTDIR/log.txt
"""
import json
import statistics
import sys

PZBENCH = {"fast, CUDA graphs": "pzbench, CUDA graphs", "fast": "pzbench, every step direct",
           "stock": "pzbench, candle's stock kernels"}


def read(path):
    runs = {}  # (implementation, size) -> {"train": [...], "infer": [...], "host_ms": [...]}
    for line in open(path):
        line = line.strip()
        if line.startswith('{') and '"kernels"' in line:
            r = json.loads(line)
            name = PZBENCH[r["kernels"]] + (", bf16" if r.get("precision") == "bf16" else "")
            key = (name, r["image_size"])
            run = runs.setdefault(key, {"train": [], "infer": [], "host_ms": [], "step_ms": []})
            run["train"].append(r["result"]["train_galaxies_per_s"])
            run["infer"].append(r["result"]["infer_galaxies_per_s"])
            run["host_ms"].append(r["result"]["host_ms_per_step"])
            run["step_ms"].append(r["result"]["train_ms_per_step"])
        elif line.startswith("JSON "):
            r = json.loads(line[5:])
            runs[(r["implementation"], r["image_size"])] = {"train": r["train"], "infer": r["infer"]}
    return runs


def cell(values):
    if not values:
        return "–"
    return f"{statistics.median(values):,.0f} [{min(values):,.0f}–{max(values):,.0f}]"


def main(path):
    runs = read(path)
    sizes = sorted({size for _, size in runs}, reverse=True)
    names = list(dict.fromkeys(name for name, _ in runs))
    head = "| implementation | " + " | ".join(f"{s} px train | {s} px infer" for s in sizes) + " |"
    print(head)
    print("|---|" + "---:|---:|" * len(sizes))
    for name in names:
        cells = []
        for s in sizes:
            run = runs.get((name, s), {})
            cells += [cell(run.get("train", [])), cell(run.get("infer", []))]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for ours in ("pzbench, CUDA graphs", "pzbench, CUDA graphs, bf16"):
        for s in sizes:
            mine = runs.get((ours, s))
            if not mine:
                continue
            host = statistics.median(mine["host_ms"])
            step = statistics.median(mine["step_ms"])
            print(f"{s} px, {ours}: host queueing {host:.2f} of {step:.2f} ms/step ({100 * host / step:.0f} %)")
            for name in names:
                if name.startswith("torch") and (name, s) in runs:
                    other = runs[(name, s)]
                    train = statistics.median(mine["train"]) / statistics.median(other["train"])
                    infer = statistics.median(mine["infer"]) / statistics.median(other["infer"])
                    print(f"  vs {name}: {train:.2f}x training, {infer:.2f}x inference")


if __name__ == "__main__":
    main(sys.argv[1])
