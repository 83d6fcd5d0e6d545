#!/usr/bin/env python3
"""Regenerates the table "each attack without and with its defence" in
README.md (between the <!-- table --> markers) from runs: each scenario of
this folder runs on seeds 1..N (default 200) and each row gives, over those
seeds, the share whose history is linearizable, the fewest and the mean
operations completed ok, the mean of the runs' p99 latency, what the
attacker did (attack.* counters, mean per run) and what the network's
defences dropped (net.* counters, mean per run).  Rows come in pairs: an
attack without, then with, the defence that stops it (the scenario files
say which).

Usage, from the repository root after `sh .ci/build`:
    python3 scenarios/14-security/table.py [--seeds N] [--faultline PATH] [--print]
--print writes the table to stdout instead of README.md.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (scenario, attack, defence), in the table's order.
ROWS = [
    ("raft-sniff", "sniff", "none"),
    ("raft-sniff-encrypt", "sniff", "encrypt"),
    ("raft-tamper", "tamper (bytes)", "none"),
    ("raft-tamper-auth", "tamper (bytes)", "auth mac"),
    ("raft-tamper-field", "tamper (field)", "none"),
    ("raft-tamper-field-auth", "tamper (field)", "auth mac"),
    ("raft-inject", "inject", "none"),
    ("raft-inject-auth", "inject", "auth mac"),
    ("raft-replay", "replay", "auth mac only"),
    ("raft-replay-window", "replay", "auth mac + replay_window"),
    ("raft-drop-appendentries", "drop-selective AppendEntries", "none"),
    ("raft-drop-appendentries-encrypt", "drop-selective AppendEntries", "encrypt"),
    ("raft-flood", "flood (cpu model)", "none"),
    ("raft-flood-auth", "flood (cpu model)", "auth mac"),
    ("pb-sniff", "sniff", "none"),
    ("pb-sniff-encrypt", "sniff", "encrypt"),
    ("pb-tamper", "tamper (bytes)", "none"),
    ("pb-tamper-auth", "tamper (bytes)", "auth mac"),
    ("pb-inject", "inject", "none"),
    ("pb-inject-auth", "inject", "auth mac"),
    ("pb-replay", "replay", "auth mac only"),
    ("pb-replay-window", "replay", "auth mac + replay_window"),
    ("pb-drop-ack", "drop-selective ACK", "none"),
    ("pb-drop-ack-encrypt", "drop-selective ACK", "encrypt"),
]

ACTS = ["attack.secrets_seen", "attack.tampered", "attack.injected", "attack.replayed",
        "attack.dropped", "attack.opaque", "attack.flooded"]
DROPS = ["net.auth_dropped", "net.replay_dropped", "net.malformed_dropped"]


def run(faultline, scenario, seed, out):
    subprocess.run([faultline, "run", scenario, "--seed", str(seed), "--out", out, "--no-trace",
                    "--quiet"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def share(count, seeds):
    if count == seeds:
        return "all %d" % seeds
    return "%d/%d" % (count, seeds)


def means(sums, names, seeds):
    parts = ["%s %s" % (n.split(".", 1)[1], fmt(sums[n] / seeds)) for n in names if sums[n] > 0]
    return ", ".join(parts) if parts else "0"


def fmt(x):
    return ("%.1f" % x).rstrip("0").rstrip(".") if x < 100 else "%d" % round(x)


def row(faultline, tmp, name, attack, defence, seeds):
    path = os.path.join(HERE, name + ".json")
    with open(path) as f:
        proto = json.load(f)["cluster"]["protocol"]
    valid = 0
    oks = []
    p99 = 0.0
    sums = {n: 0.0 for n in ACTS + DROPS}
    for seed in range(1, seeds + 1):
        out = os.path.join(tmp, "%s-%d" % (name, seed))
        m = run(faultline, path, seed, out)
        valid += 1 if m["check"]["verdicts"].get("linearizable") == "valid" else 0
        oks.append(m["ops"]["ok"])
        p99 += m["latency_ns"].get("p99", 0) / 1e6
        for n in sums:
            sums[n] += m["counters"].get(n, 0)
        subprocess.run(["rm", "-rf", out], check=False)
    return "| %s | %s | %s | [%s](%s.json) | %s | %d / %s | %s | %s | %s |" % (
        proto, attack, defence, name, name, share(valid, seeds), min(oks),
        fmt(sum(oks) / seeds), fmt(p99 / seeds), means(sums, ACTS, seeds),
        means(sums, DROPS, seeds))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--faultline", default="build/faultline")
    ap.add_argument("--print", action="store_true")
    ap.add_argument("--only", default=None, help="scenarios whose name contains this")
    args = ap.parse_args()
    lines = ["| protocol | attack | defence | scenario | linearizable | ok ops: fewest / mean | "
             "p99 latency, ms (mean) | attacker (mean per run) | dropped by the defence (mean per run) |",
             "|---" * 9 + "|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, attack, defence in ROWS:
            if args.only and args.only not in name:
                continue
            lines.append(row(args.faultline, tmp, name, attack, defence, args.seeds))
            print(lines[-1], file=sys.stderr)
    if args.print or args.only:
        print("\n".join(lines))
        return
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
