#!/usr/bin/env python3
"""Side by side: sbc-dataplane and rtpengine 10.5 (userspace) relaying the same RTP load in the
NAT lab, one run (meson benchmark "relay-sidebyside"; root, rtpengine, iptables and ethtool
needed, exits 77 otherwise).

    sidebyside.py SBC_DATAPLANE RTPLOAD [--streams N] [--rates PPS,PPS,...] [--secs S]
                  [--relay-core C] [--load-core C]

Two public parties, A (203.0.113.66, the lab's "stranger" namespace) and B (203.0.113.20,
"callee"), hold N calls through each relay (offer from A, answer from B, trust-address) and
send RTP both ways with rtpload (tests/perf/rtpload.c) at a fixed total rate (half each way).
For each rate the same load goes, in turn, straight from A to B (the lab's own floor), through
sbc-dataplane (af_packet on dp0: control lcore 0, worker lcore 1, pure polling) and through
rtpengine (--table=-1 --num-threads=1 --delete-delay=0, pinned with taskset to the relay
core); the relay not being measured is stopped (SIGSTOP), since both use the relay core. The
generators are pinned to the load core. Prints a table: loss, one-way latency p50/p99 as the
receiving kernel saw it, the relay process's user and system CPU seconds in the step, and per
path the highest rate with loss < 0.1% (and with p99 <= 1 ms too). A path is not tried at
higher rates once it lost more than 5%.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import shutil
import signal
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import perflab  # noqa: E402
from perflab import lab  # noqa: E402

A, B = "203.0.113.66", "203.0.113.20"
A_NS, B_NS = "stranger", "callee"
PORT = 7000


def setup_calls(ng, n, relay_addr, tag):
    """n calls A <-> B through one relay; returns (A's peers, B's peers): relay address:port."""
    to_a, to_b = [], []
    for i in range(n):
        cid = "perf-%s-%d" % (tag, i)
        pb = perflab.media_port(ng.request({
            "command": "offer", "call-id": cid, "from-tag": "a%d" % i,
            "sdp": perflab.sdp(A, PORT, i), "received-from": ["IP4", A],
            "flags": ["trust-address"], "replace": ["origin", "session-connection"]}))
        pa = perflab.media_port(ng.request({
            "command": "answer", "call-id": cid, "from-tag": "a%d" % i, "to-tag": "b%d" % i,
            "sdp": perflab.sdp(B, PORT, i), "received-from": ["IP4", B],
            "flags": ["trust-address"], "replace": ["origin", "session-connection"]}))
        to_a.append("%s:%d" % (relay_addr, pa))
        to_b.append("%s:%d" % (relay_addr, pb))
    return to_a, to_b


def measure(pause, name, *args):
    """load() with the other relay stopped (SIGSTOP): sbc-dataplane's worker polls without
    pause and rtpengine is pinned to the same core, so the idle one must not run."""
    others = [p for n, p in pause.items() if n != name]  # both for the direct path
    for p in others:
        os.kill(p.pid, signal.SIGSTOP)
    relay = pause.get(name)
    try:
        before = perflab.cpu_s(relay.pid) if relay else (0, 0)
        res = load(*args)
        after = perflab.cpu_s(relay.pid) if relay else (0, 0)
        return res + (after[0] - before[0], after[1] - before[1])
    finally:
        for p in others:
            os.kill(p.pid, signal.SIGCONT)


def load(rtpload, tmp, peers, pps, secs, core):
    """Both parties send pps/2 for secs; returns (loss, p50 µs, p99 µs, sent)."""
    procs = []
    start = time.time_ns() + 300000000  # both bound before either sends
    for party, (ns, addr, lst) in enumerate(((A_NS, A, peers[0]), (B_NS, B, peers[1])), 1):
        path = os.path.join(tmp, "peers-%d" % party)
        with open(path, "w") as f:
            f.write("\n".join(lst) + "\n")
        procs.append(perflab.spawn(
            ["ip", "netns", "exec", lab.NS[ns], "nice", "-n", str(perflab.NICE), "taskset", "-c",
             str(core), rtpload,
             "--bind", "%s:%d" % (addr, PORT), "--peers", path, "--pps", str(pps // 2),
             "--secs", str(secs), "--party", str(party), "--start", str(start)], stdout=subprocess.PIPE, text=True))
    try:
        res = [json.loads(p.communicate(timeout=secs + 30)[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    sent = sum(r["sent"] for r in res)
    got = sum(r["received"] for r in res)
    return (1.0 - got / sent if sent else 1.0, max(r["p50_us"] for r in res),
            max(r["p99_us"] for r in res), sent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataplane")
    ap.add_argument("rtpload")
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--rates", default="25000,50000,75000,100000,125000,150000,175000,200000,"
                    "225000,250000,300000")
    ap.add_argument("--secs", type=float, default=3.0)
    ap.add_argument("--paths", default="direct,sbc-dataplane,rtpengine")
    ap.add_argument("--relay-core", type=int, default=1)
    ap.add_argument("--load-core", type=int, default=0)
    ap.add_argument("--no-isolate", dest="isolate", action="store_false",
                    help="let other tasks of the machine run on the relay core")
    args = ap.parse_args()
    if {args.relay_core, args.load_core} != {0, 1}:
        print("sidebyside: --relay-core and --load-core are 0 and 1, one each")
        return 2
    try:
        perflab.need_root(["ip", "iptables", "ethtool", "taskset", "rtpengine"])
    except perflab.Skip as e:
        print("sidebyside: %s, skipped" % e)
        return 77
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix=lab.PREFIX)
    logs = [open(os.path.join(tmp, n), "w") for n in ("sbc-dataplane.log", "rtpengine.log")]
    procs = []
    rc = 1
    isolated = perflab.IsolatedCore(args.relay_core)
    try:
        if args.isolate:
            isolated.__enter__()
        lab.setup()
        perflab.add_rtpengine_interface()
        nports = args.streams * 4 + 64
        dp, dp_ng = perflab.start_dataplane(args.dataplane, logs[0],
                                            "40000-%d" % (40000 + nports - 1),
                                            worker_core=args.relay_core)
        procs.append(dp)
        rte, rte_ng = perflab.start_rtpengine(logs[1], args.relay_core)
        procs.append(rte)
        paths = {
            "direct": ([B + ":%d" % PORT] * args.streams, [A + ":%d" % PORT] * args.streams),
            "sbc-dataplane": setup_calls(dp_ng, args.streams, perflab.MEDIA, "sbc"),
            "rtpengine": setup_calls(rte_ng, args.streams, perflab.RTPENGINE, "rte"),
        }
        # Latch every leg (and let rtpengine's learning settle) before measuring.
        pause = {"sbc-dataplane": dp, "rtpengine": rte}
        for name in ("sbc-dataplane", "rtpengine"):
            measure(pause, name, args.rtpload, tmp, paths[name], 2000, 1.0, args.load_core)
        print("# %d calls (%d RTP streams, 172-byte packets), %.1f s per step; relay core %d, "
              "load core %d" % (args.streams, 2 * args.streams, args.secs, args.relay_core,
                                args.load_core))
        print("# load average: %s" % open("/proc/loadavg").read().strip())
        print("# relay core %s: %d other threads moved off it for the run" % (
            "isolated" if args.isolate else "shared", len(isolated.saved)))
        print("%-8s %-14s %8s %8s %8s %8s %8s" % ("pps", "path", "loss %", "p50 µs", "p99 µs",
                                                 "usr s", "sys s"))
        best = {n: 0 for n in paths}
        fast = {n: 0 for n in paths}
        failed = set()
        results = []
        only = args.paths.split(",")
        for pps in (int(x) for x in args.rates.split(",")):
            for name in (n for n in paths if n in only):
                if name in failed:
                    continue
                loss, p50, p99, sent, usr, sys_ = measure(pause, name, args.rtpload, tmp, paths[name], pps,
                                               args.secs, args.load_core)
                results.append({"pps": pps, "path": name, "loss": loss, "p50_us": p50,
                                "p99_us": p99, "sent": sent, "relay_user_s": usr,
                                "relay_sys_s": sys_})
                print("%-8d %-14s %8.3f %8d %8d %8.2f %8.2f" % (
                    pps, name, loss * 100, p50, p99, usr, sys_), flush=True)
                if loss < 0.001:
                    best[name] = max(best[name], pps)
                    if p99 <= 1000:
                        fast[name] = max(fast[name], pps)
                elif loss > 0.05:
                    failed.add(name)
        for name, pps in best.items():
            print("# %-14s max lossless (loss < 0.1%%) %6d pps; lossless with p99 <= 1 ms %6d pps"
                  % (name, pps, fast[name]))
        ctl = lab.ctl("stats")
        print("# sbc-dataplane stats: %s" % json.dumps(ctl))
        print("# json: %s" % json.dumps(results))
        rc = 0
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        print("sidebyside failed: %s" % e)
    finally:
        isolated.__exit__(None, None, None)
        perflab.cleanup(procs)
        for f in logs:
            f.close()
        if rc:
            for n in ("sbc-dataplane.log", "rtpengine.log"):
                with open(os.path.join(tmp, n), errors="replace") as f:
                    print("# %s:\n%s" % (n, "".join("#   " + line
                                                    for line in f.read().splitlines(True)[-30:])))
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
