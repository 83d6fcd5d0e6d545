#!/usr/bin/env python3
"""Writes the known-anomaly histories of tests/check/test_elle.c, each in
EDN (Jepsen's form) and JSON Lines, from the descriptions below.

A history is a list of events (process, type, micro-ops); a transaction
that completes ok repeats its micro-ops with the reads filled in.  Names:
MODEL__ANOMALY__has (the history shows ANOMALY) or __not (the nearest
history without it).  Run from this directory: python3 make.py"""

def T(p, *mops):  # an invocation: reads carry nil
    return (p, "invoke", [(f, k, None if f == "r" else v) for f, k, v in mops])

def OK(p, *mops):
    return (p, "ok", list(mops))

def FAIL(p, *mops):
    return (p, "fail", [(f, k, None if f == "r" else v) for f, k, v in mops])

def txn(p, *mops, status="ok"):
    """An invocation immediately followed by its completion."""
    done = OK(p, *mops) if status == "ok" else FAIL(p, *mops)
    return [T(p, *mops), done]

A, R, W = "append", "r", "w"
H = {}

# ---- list-append ----
H["list-append__G0__has"] = txn(0, (A, "x", 1), (A, "y", 1)) + txn(1, (A, "x", 2), (A, "y", 2)) + \
    txn(2, (R, "x", [1, 2]), (R, "y", [2, 1]))
H["list-append__G0__not"] = txn(0, (A, "x", 1), (A, "y", 1)) + txn(1, (A, "x", 2), (A, "y", 2)) + \
    txn(2, (R, "x", [1, 2]), (R, "y", [1, 2]))
H["list-append__G1c__has"] = [T(0, (A, "x", 1), (R, "y", None)), T(1, (A, "y", 1), (R, "x", None)),
    OK(0, (A, "x", 1), (R, "y", [1])), OK(1, (A, "y", 1), (R, "x", [1]))]
H["list-append__G1c__not"] = [T(0, (A, "x", 1), (R, "y", None)), T(1, (A, "y", 1), (R, "x", None)),
    OK(0, (A, "x", 1), (R, "y", [1])), OK(1, (A, "y", 1), (R, "x", []))]
H["list-append__G-single__has"] = txn(0, (A, "x", 1), (A, "y", 1)) + \
    [T(1, (R, "x", None), (R, "y", None))] + txn(2, (A, "x", 2), (A, "y", 2)) + \
    [OK(1, (R, "x", [1]), (R, "y", [1, 2]))] + txn(3, (R, "x", [1, 2]), (R, "y", [1, 2]))
H["list-append__G-single__not"] = txn(0, (A, "x", 1), (A, "y", 1)) + \
    [T(1, (R, "x", None), (R, "y", None))] + txn(2, (A, "x", 2), (A, "y", 2)) + \
    [OK(1, (R, "x", [1, 2]), (R, "y", [1, 2]))] + txn(3, (R, "x", [1, 2]), (R, "y", [1, 2]))
nonadj = lambda c: [T(0, (R, "a", None), (R, "d", None)), T(1, (A, "a", 1), (A, "b", 1)),
    T(2, (R, "b", None), (R, "c", None)), T(3, (A, "c", 1), (A, "d", 1)),
    OK(1, (A, "a", 1), (A, "b", 1)), OK(3, (A, "c", 1), (A, "d", 1)),
    OK(0, (R, "a", []), (R, "d", [1])), OK(2, (R, "b", [1]), (R, "c", c))] + \
    txn(4, (R, "a", [1]), (R, "b", [1]), (R, "c", [1]), (R, "d", [1]))
H["list-append__G-nonadjacent__has"] = nonadj([])
H["list-append__G-nonadjacent__not"] = nonadj([1])
skew = lambda x2: [T(0, (R, "x", None), (R, "y", None), (A, "x", 1)),
    T(1, (R, "x", None), (R, "y", None), (A, "y", 1)),
    OK(0, (R, "x", []), (R, "y", []), (A, "x", 1)), OK(1, (R, "x", x2), (R, "y", []), (A, "y", 1))] + \
    txn(2, (R, "x", [1]), (R, "y", [1]))
H["list-append__G2-item__has"] = skew([])
H["list-append__G2-item__not"] = skew([1])
H["list-append__G1a__has"] = txn(0, (A, "x", 1), status="fail") + txn(1, (R, "x", [1]))
H["list-append__G1a__not"] = txn(0, (A, "x", 1), status="fail") + txn(1, (R, "x", []))
H["list-append__G1b__has"] = [T(1, (R, "x", None))] + txn(0, (A, "x", 1), (A, "x", 2)) + \
    [OK(1, (R, "x", [1]))]
H["list-append__G1b__not"] = [T(1, (R, "x", None))] + txn(0, (A, "x", 1), (A, "x", 2)) + \
    [OK(1, (R, "x", [1, 2]))]
H["list-append__dirty-update__has"] = txn(0, (A, "x", 1), status="fail") + txn(1, (A, "x", 2)) + \
    txn(2, (R, "x", [1, 2]))
H["list-append__dirty-update__not"] = txn(0, (A, "x", 1), status="fail") + txn(1, (A, "x", 2)) + \
    txn(2, (R, "x", [2]))
lost = lambda r2: [T(0, (R, "x", None), (A, "x", 1)), T(1, (R, "x", None), (A, "x", 2)),
    OK(0, (R, "x", []), (A, "x", 1)), OK(1, (R, "x", r2), (A, "x", 2))] + txn(2, (R, "x", [1, 2]))
H["list-append__lost-update__has"] = lost([])
H["list-append__lost-update__not"] = lost([1])
H["list-append__internal__has"] = txn(0, (A, "x", 1), (R, "x", []))
H["list-append__internal__not"] = txn(0, (A, "x", 1), (R, "x", [1]))
H["list-append__future-read__has"] = txn(0, (R, "x", [1]), (A, "x", 1))
H["list-append__future-read__not"] = txn(0, (R, "x", []), (A, "x", 1))
H["list-append__garbage-read__has"] = txn(0, (A, "x", 1)) + txn(1, (R, "x", [1, 7]))
H["list-append__garbage-read__not"] = txn(0, (A, "x", 1)) + txn(1, (R, "x", [1]))
H["list-append__duplicate-elements__has"] = txn(0, (A, "x", 1)) + txn(1, (R, "x", [1, 1]))
H["list-append__duplicate-elements__not"] = txn(0, (A, "x", 1)) + txn(1, (R, "x", [1]))
order = lambda r: txn(0, (A, "x", 1)) + txn(1, (A, "x", 2)) + txn(2, (R, "x", [1, 2])) + txn(3, (R, "x", r))
H["list-append__incompatible-order__has"] = order([2, 1])
H["list-append__incompatible-order__not"] = order([1, 2])
# Process and real-time orders: T2 misses T1's append though it began
# after T1 ended (same process, or another one).
H["list-append__G-single-process__has"] = txn(0, (A, "x", 1)) + txn(0, (R, "x", [])) + txn(1, (R, "x", [1]))
H["list-append__G-single-process__not"] = [T(0, (A, "x", 1)), T(1, (R, "x", None)), OK(0, (A, "x", 1)),
    OK(1, (R, "x", []))] + txn(2, (R, "x", [1]))
H["list-append__G-single-realtime__has"] = txn(0, (A, "x", 1)) + txn(1, (R, "x", [])) + txn(2, (R, "x", [1]))
H["list-append__G-single-realtime__not"] = H["list-append__G-single-process__not"]

# ---- rw-register ----
H["rw-register__G0__has"] = [T(0, (W, "x", 1), (R, "y", None), (W, "y", 3)),
    T(1, (W, "y", 2), (R, "x", None), (W, "x", 4)),
    OK(0, (W, "x", 1), (R, "y", 2), (W, "y", 3)), OK(1, (W, "y", 2), (R, "x", 1), (W, "x", 4))]
H["rw-register__G0__not"] = [T(0, (W, "x", 1), (R, "y", None), (W, "y", 3)),
    T(1, (W, "y", 2), (R, "x", None), (W, "x", 4)),
    OK(1, (W, "y", 2), (R, "x", None), (W, "x", 4)), OK(0, (W, "x", 1), (R, "y", 2), (W, "y", 3))]
H["rw-register__G1c__has"] = [T(0, (W, "x", 1), (R, "y", None)), T(1, (W, "y", 1), (R, "x", None)),
    OK(0, (W, "x", 1), (R, "y", 1)), OK(1, (W, "y", 1), (R, "x", 1))]
H["rw-register__G1c__not"] = [T(0, (W, "x", 1), (R, "y", None)), T(1, (W, "y", 1), (R, "x", None)),
    OK(1, (W, "y", 1), (R, "x", None)), OK(0, (W, "x", 1), (R, "y", 1))]
H["rw-register__G-single__has"] = [T(1, (R, "x", None), (R, "y", None))] + txn(0, (W, "x", 1), (W, "y", 1)) + \
    [OK(1, (R, "x", None), (R, "y", 1))]
H["rw-register__G-single__not"] = [T(1, (R, "x", None), (R, "y", None))] + txn(0, (W, "x", 1), (W, "y", 1)) + \
    [OK(1, (R, "x", 1), (R, "y", 1))]
rskew = lambda x2: [T(0, (R, "x", None), (R, "y", None), (W, "x", 1)),
    T(1, (R, "x", None), (R, "y", None), (W, "y", 1)),
    OK(0, (R, "x", None), (R, "y", None), (W, "x", 1)), OK(1, (R, "x", x2), (R, "y", None), (W, "y", 1))]
H["rw-register__G2-item__has"] = rskew(None)
H["rw-register__G2-item__not"] = rskew(1)
H["rw-register__G1a__has"] = txn(0, (W, "x", 1), status="fail") + txn(1, (R, "x", 1))
H["rw-register__G1a__not"] = txn(0, (W, "x", 1), status="fail") + txn(1, (R, "x", None))
H["rw-register__G1b__has"] = [T(1, (R, "x", None))] + txn(0, (W, "x", 1), (W, "x", 2)) + [OK(1, (R, "x", 1))]
H["rw-register__G1b__not"] = [T(1, (R, "x", None))] + txn(0, (W, "x", 1), (W, "x", 2)) + [OK(1, (R, "x", 2))]
H["rw-register__dirty-update__has"] = txn(0, (W, "x", 1), status="fail") + txn(1, (R, "x", 1), (W, "x", 2))
H["rw-register__dirty-update__not"] = txn(0, (W, "x", 1), status="fail") + txn(1, (R, "x", None), (W, "x", 2))
rlost = lambda r2: [T(0, (R, "x", None), (W, "x", 1)), T(1, (R, "x", None), (W, "x", 2)),
    OK(0, (R, "x", None), (W, "x", 1)), OK(1, (R, "x", r2), (W, "x", 2))]
H["rw-register__lost-update__has"] = rlost(None)
H["rw-register__lost-update__not"] = rlost(1)
H["rw-register__internal__has"] = txn(0, (W, "x", 1), (R, "x", 2)) + txn(1, (W, "x", 2))
H["rw-register__internal__not"] = txn(0, (W, "x", 1), (R, "x", 1)) + txn(1, (W, "x", 2))
H["rw-register__future-read__has"] = txn(0, (R, "x", 1), (W, "x", 1))
H["rw-register__future-read__not"] = txn(0, (R, "x", None), (W, "x", 1))
H["rw-register__garbage-read__has"] = txn(0, (W, "x", 1)) + txn(1, (R, "x", 5))
H["rw-register__garbage-read__not"] = txn(0, (W, "x", 1)) + txn(1, (R, "x", 1))
H["rw-register__G-single-realtime__has"] = txn(0, (W, "x", 1)) + txn(1, (R, "x", None))
H["rw-register__G-single-realtime__not"] = [T(0, (W, "x", 1)), T(1, (R, "x", None)), OK(0, (W, "x", 1)),
    OK(1, (R, "x", None))]

def edn_val(v, key=False):
    if v is None: return "nil"
    if isinstance(v, list): return "[" + " ".join(edn_val(x) for x in v) + "]"
    if isinstance(v, str): return ":" + v
    return str(v)

def json_val(v):
    if v is None: return "null"
    if isinstance(v, list): return "[" + ",".join(json_val(x) for x in v) + "]"
    if isinstance(v, str): return '"' + v + '"'
    return str(v)

for name, events in sorted(H.items()):
    edn, jsonl = [], []
    for i, (p, ty, mops) in enumerate(events):
        ev = "[" + " ".join("[:%s %s %s]" % (f, edn_val(k), edn_val(v)) for f, k, v in mops) + "]"
        edn.append("{:type :%s, :f :txn, :value %s, :process %d, :time %d, :index %d}" %
                   (ty, ev, p, 1000 * (i + 1), i))
        jv = "[" + ",".join('["%s",%s,%s]' % (f, json_val(k), json_val(v)) for f, k, v in mops) + "]"
        jsonl.append('{"process":%d,"type":"%s","f":"txn","value":%s,"time":%d}' % (p, ty, jv, 1000 * (i + 1)))
    with open(name + ".edn", "w") as f:
        f.write("[" + "\n ".join(edn) + "]\n")
    with open(name + ".jsonl", "w") as f:
        f.write("\n".join(jsonl) + "\n")
