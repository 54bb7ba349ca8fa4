#!/usr/bin/env python3
"""ng control rate and memory per session of sbc-dataplane (meson benchmark "ng-sessions";
root, iptables and ethtool needed, exits 77 otherwise).

    ngbench.py SBC_DATAPLANE [--sessions N] [--window W] [--ports MIN-MAX] [--addrs K]
               [--call-id-len L] [--via-branch]

sbc-dataplane runs in the NAT lab's namespace (tests/natlab/run.py) with 40000 relay ports
(20000-59999) on one media address, so N = 10000 sessions fit (a session is one audio stream, two
legs of RTP + RTCP: four ports). `--ports 1024-65535` gives the most one address holds, 16128
sessions; `--addrs K` gives sbc-dataplane K media addresses (203.0.113.5 and 203.0.113.101...),
each with the whole range: `--addrs 7 --ports 1024-65535 --sessions 100000`. The sessions per
address (ng statistics) are printed. This script is the ng client, pinned to the other core
than the control lcore, and keeps W requests in flight. It creates N sessions (offer, then answer), then deletes
them, and prints requests/s per phase measured at the client, the control thread's CPU time per
request (what one control core would sustain: requests / CPU second), and the daemon's resident
memory before, with N sessions, and after the deletes.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import perflab  # noqa: E402
from perflab import lab  # noqa: E402

A, B = "198.51.100.10", "203.0.113.20"


ID_LEN = [0]  # --call-id-len
VIA_BRANCH = [False]  # --via-branch


def with_branch(req, i):
    """Adds a via-branch as sbc-sip sends it (its Via's branch: "z9hG4bK" and 24 more
    characters), which the call record keeps."""
    if VIA_BRANCH[0]:
        req["via-branch"] = "z9hG4bK%024x" % (0x5bc0000 + i)
    return req


def call_id(i):
    """"ngbench-I", padded to --call-id-len bytes (a UA's Call-ID is often a 32-36 character
    UUID or hex string plus "@host": the call store keeps it, so it counts per session)."""
    cid = "ngbench-%d" % i
    return cid + "-" + "x" * (ID_LEN[0] - len(cid) - 1) if ID_LEN[0] > len(cid) + 1 else cid


def offer(i):
    return with_branch({"command": "offer", "call-id": call_id(i), "from-tag": "a%d" % i,
                        "sdp": perflab.sdp(A, 10000 + 2 * (i % 20000), i), "received-from": ["IP4", A],
                        "flags": ["trust-address"], "replace": ["origin", "session-connection"],
                        "supports": ["load limit"]}, i)


def answer(i):
    return with_branch({"command": "answer", "call-id": call_id(i), "from-tag": "a%d" % i,
                        "to-tag": "b%d" % i, "sdp": perflab.sdp(B, 10000 + 2 * (i % 20000), i),
                        "received-from": ["IP4", B], "flags": ["trust-address"],
                        "replace": ["origin", "session-connection"]}, i)


def delete(i):
    return {"command": "delete", "call-id": call_id(i), "from-tag": "a%d" % i}


def phase(ng, pid, make, first, n, window):
    """Sends requests first .. first + n - 1 with up to window in flight; returns (wall seconds,
    control thread CPU seconds)."""
    cpu0 = sum(perflab.cpu_s(pid, pid))
    t0 = time.monotonic()
    sent = done = 0
    pending = set()
    while done < n:
        while sent < n and len(pending) < window:
            pending.add(ng.send(make(first + sent)))
            sent += 1
        cookie, reply = ng.recv()
        if cookie in pending:
            pending.discard(cookie)
            done += 1
            if reply.get("result") != "ok":
                raise RuntimeError("request %d: %s" % (done, reply.get("error-reason")))
    return time.monotonic() - t0, sum(perflab.cpu_s(pid, pid)) - cpu0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataplane")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--ports", default="20000-59999")
    ap.add_argument("--addrs", type=int, default=1,
                    help="media addresses, each with the whole --ports range (1..64)")
    ap.add_argument("--call-id-len", type=int, default=0,
                    help="pad call-ids to this many bytes (default: \"ngbench-N\", 9-13)")
    ap.add_argument("--via-branch", action="store_true",
                    help="send a via-branch with each offer and answer, as sbc-sip does")
    args = ap.parse_args()
    ID_LEN[0] = args.call_id_len
    VIA_BRANCH[0] = args.via_branch
    lo, hi = (int(x) for x in args.ports.split("-"))
    lo += lo & 1
    try:
        perflab.need_root(["ip", "iptables", "ethtool"])
    except perflab.Skip as e:
        print("ngbench: %s, skipped" % e)
        return 77
    if not 1 <= args.addrs <= 64:
        print("ngbench: --addrs 1..64")
        return 2
    per_addr = (hi - lo + 1) // 2 // 2  # sessions: two pairs each, all on one address
    if args.sessions > per_addr * args.addrs:
        print("ngbench: at most %d sessions in --ports %s on %d media address(es)"
              % (per_addr * args.addrs, args.ports, args.addrs))
        return 2
    extra_addrs = ["203.0.113.%d" % (100 + i) for i in range(1, args.addrs)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix=lab.PREFIX)
    log = open(os.path.join(tmp, "sbc-dataplane.log"), "w")
    procs = []
    rc = 1
    try:
        lab.setup()
        # The worker sleeps when idle (it has no media here): the control lcore is measured.
        extra = ["--idle-backoff", "1000"]
        if extra_addrs:
            extra += ["--media-addr", ",".join(extra_addrs)]
        dp, ng = perflab.start_dataplane(args.dataplane, log, args.ports, extra)
        procs.append(dp)
        os.sched_setaffinity(0, {1})
        time.sleep(0.5)
        rss0 = perflab.rss_kb(dp.pid)
        print("# %d sessions, %d requests in flight; client on core 1, control lcore 0; "
              "ports %s on %d media address(es); call-ids like %r"
              % (args.sessions, args.window, args.ports, args.addrs,
                 call_id(args.sessions - 1)))
        print("# load average: %s" % open("/proc/loadavg").read().strip())
        # Two halves, so that the second half's growth is the marginal cost of a session
        # (the first half also pays for tables that fill once, like the reply cache).
        half = args.sessions // 2
        used = {"offer": [0.0, 0.0], "answer": [0.0, 0.0], "delete": [0.0, 0.0]}
        rss = [rss0]
        for first, n in ((0, half), (half, args.sessions - half)):
            for name, make in (("offer", offer), ("answer", answer)):
                wall, cpu = phase(ng, dp.pid, make, first, n, args.window)
                used[name][0] += wall
                used[name][1] += cpu
            time.sleep(0.5)
            rss.append(perflab.rss_kb(dp.pid))
        stats = ng.request({"command": "statistics"})["statistics"]
        st = stats["currentstatistics"]
        if st["sessionstotal"] != args.sessions:
            raise RuntimeError("expected %d sessions, the relay has %d"
                               % (args.sessions, st["sessionstotal"]))
        spread = [(a["address"], a["streams"]) for a in stats.get("addresses", [])]
        print("# sessions per media address: %s"
              % ", ".join("%s %d" % (a, n) for a, n in spread))
        if len(spread) != args.addrs or sum(n for _, n in spread) != args.sessions:
            raise RuntimeError("sessions not spread over the %d addresses: %s"
                               % (args.addrs, spread))
        used["delete"] = list(phase(ng, dp.pid, delete, 0, args.sessions, args.window))
        time.sleep(0.5)
        rss.append(perflab.rss_kb(dp.pid))
        for name, (wall, cpu) in used.items():
            print("%-7s %8.0f requests/s at the client, control thread %6.1f µs CPU/request "
                  "(%6.0f/s per control core)" % (name, args.sessions / wall,
                                                  cpu * 1e6 / args.sessions,
                                                  args.sessions / cpu if cpu else 0))
        print("RSS: %d kB idle, %d kB with %d sessions, %d kB with %d, %d kB after deleting all"
              % (rss[0], rss[1], half, rss[2], args.sessions, rss[3]))
        print("memory per session: %.0f bytes average (RSS growth / %d), %.0f bytes marginal "
              "(growth of the second %d)" % ((rss[2] - rss[0]) * 1024 / args.sessions,
                                             args.sessions, (rss[2] - rss[1]) * 1024 /
                                             (args.sessions - half), args.sessions - half))
        rc = 0
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
        print("ngbench failed: %s" % e)
    finally:
        perflab.cleanup(procs)
        log.close()
        if rc:
            with open(os.path.join(tmp, "sbc-dataplane.log"), errors="replace") as f:
                print("# sbc-dataplane log:\n" + "".join(
                    "#   " + line for line in f.read().splitlines(True)[-30:]))
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
