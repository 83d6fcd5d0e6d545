#!/usr/bin/env python3
"""Regenerates the table "which protocol shows which anomaly" in README.md
(between the <!-- table --> markers) from runs: each protocol scenario of
this folder that promises a level (s2pl, si, rc, read-uncommitted) runs on
seeds 1..N (default 200) with the checker, and each cell is the share of
seeds whose history shows that anomaly (or on which that level holds).

Usage, from the repository root after `sh .ci/build`:
    python3 scenarios/05-transactions/isolation/table.py [--seeds N] [--faultline PATH]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = ["s2pl", "si", "rc", "read-uncommitted"]
ANOMALIES = ["G0", "G1a", "G1b", "G1c", "G-single", "G-nonadjacent", "G2-item",
             "lost-update", "internal", "incompatible-order"]
LEVELS = ["read-uncommitted", "read-committed", "snapshot-isolation", "serializable",
          "strict-serializable"]


def run(faultline, scenario, seed, out):
    subprocess.run([faultline, "run", scenario, "--seed", str(seed), "--out", out, "--no-trace"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)["check"]["result"]


def cell(count, seeds):
    if count == 0:
        return "0"
    return "%d/%d (%s%%)" % (count, seeds, ("%.1f" % (100.0 * count / seeds)).rstrip("0").rstrip("."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--faultline", default="build/faultline")
    args = ap.parse_args()
    lines = ["| protocol (scenario) | workload | " + " | ".join(ANOMALIES) + " | " +
             " | ".join("holds: " + l for l in LEVELS) + " |",
             "|---" * (2 + len(ANOMALIES) + len(LEVELS)) + "|"]
    with tempfile.TemporaryDirectory() as tmp:
        for row in ROWS:
            path = os.path.join(HERE, row + ".json")
            with open(path) as f:
                model = json.load(f)["workload"]["model"]
            seen = {a: 0 for a in ANOMALIES}
            holds = {l: 0 for l in LEVELS}
            for seed in range(1, args.seeds + 1):
                r = run(args.faultline, path, seed, os.path.join(tmp, "%s-%d" % (row, seed)))
                for a in r.get("anomalies", {}):
                    if a in seen:
                        seen[a] += 1
                for l in LEVELS:
                    holds[l] += 1 if r["models"].get(l) else 0
            lines.append("| `%s` (%s.json) | %s | " % (row, row, model) +
                         " | ".join(cell(seen[a], args.seeds) for a in ANOMALIES) + " | " +
                         " | ".join(cell(holds[l], args.seeds) for l in LEVELS) + " |")
            print(lines[-1], file=sys.stderr)
    readme = os.path.join(HERE, "README.md")
    with open(readme) as f:
        text = f.read()
    begin, end = "<!-- table -->\n", "<!-- /table -->\n"
    i, j = text.index(begin) + len(begin), text.index(end)
    text = text[:i] + "\n".join(lines) + "\n" + text[j:]
    with open(readme, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
