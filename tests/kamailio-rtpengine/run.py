#!/usr/bin/env python3
"""Kamailio 5.6 + rtpengine module -> sbc-dataplane, a SIPp call through a port-randomizing NAT
(meson suite "natlab"; needs root, kamailio, sipp, iptables and ethtool, exits 77 otherwise).

    run.py /path/to/sbc-dataplane

The NAT lab's namespaces (tests/natlab/run.py: caller 192.168.1.10 behind MASQUERADE
--random-fully, sbc-dataplane on net_af_packet owning 203.0.113.5, callee 203.0.113.20) plus
Kamailio on 203.0.113.6 in the dataplane's namespace with kamailio.cfg beside this file:
Record-Route, loose routing, rtpengine_manage() with SIP-source-address when nat_uac_test("8")
fires. SIPp uac.xml (behind the NAT, plays PCMA, ACK and BYE along the route set) calls SIPp
uas.xml (public side, -rtp_echo). Checks: both SIPp instances succeed; the module's offer, answer
and delete reached the dataplane; during the call ng "query" shows media from both parties
accepted by the relay and the caller latched at the NAT's address; the worker relayed as many
packets as it accepted; the caller, behind the NAT, received media from the relay's address
(an iptables counter in its namespace); after the BYE ng "list" is empty. Namespaces, processes, the control
socket and /var/run/dpdk/<prefix> are removed on every exit (also on meson's SIGTERM).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "natlab"))
import run as lab  # noqa: E402  (namespaces, dataplane start-up, ng and control socket helpers)

KAMAILIO = "203.0.113.6"
CALLEE = "203.0.113.20"
CALLER = "192.168.1.10"
PCAP = "/usr/share/sip-tester/g711a.pcap"


def spawn(ns, args, out, cwd=None):
    return subprocess.Popen(["ip", "netns", "exec", lab.NS[ns]] + args, stdout=out,
                            stderr=subprocess.STDOUT, cwd=cwd)


def template(name, tmp, words):
    with open(os.path.join(HERE, name)) as f:
        text = f.read()
    for k, v in words.items():
        text = text.replace(k, v)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def party_packets(q):
    """{tag: (packets the party sent that the relay accepted, latched endpoint)} from a query."""
    out = {}
    for tag, t in q.get("tags", {}).items():
        pk, ep = 0, None
        for m in t.get("medias", []):
            for st in m.get("streams", []):
                pk += st.get("stats", {}).get("packets", 0)
                if st.get("endpoint") and ep is None:
                    ep = "%s:%d" % (st["endpoint"]["address"], st["endpoint"]["port"])
        out[tag] = (pk, ep)
    return out


def caller_received():
    """Packets from the relay's address that reached the caller, behind the NAT: an iptables
    counter in the caller's namespace (the rule only counts)."""
    out = lab.sh("iptables", "-L", "INPUT", "-n", "-v", "-x", ns="ua", capture=True)
    for line in out.splitlines():
        f = line.split()
        if len(f) > 8 and f[7] == lab.MEDIA and f[8] == CALLER:
            return int(f[0])
    return 0


def relayed():
    return sum(w.get("relayed", 0) for w in lab.ctl("stats")["workers"])


def stray_dataplanes():
    """Ids of dataplanes of this run still alive (lab.run() raises without returning one when
    the daemon does not answer ng)."""
    flag = ("--file-prefix=" + lab.PREFIX).encode()
    pids = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if d.isdigit() and flag in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def call(binary, tmp, logs, procs):
    """The test; every process it starts goes into procs (the dataplane first)."""
    lab.setup()
    lab.veth("dp", "sip0", "wan", "p5")
    lab.sh("ip", "link", "set", "p5", "master", "br0", ns="wan")
    lab.sh("ip", "addr", "add", KAMAILIO + "/24", "dev", "sip0", ns="dp")
    procs.append(lab.run(binary, logs["sbc-dataplane"]))

    cfg = template("kamailio.cfg", tmp, {"LISTEN_ADDR": KAMAILIO, "NG_ADDR": lab.NG,
                                         "CALLEE_ADDR": CALLEE})
    uac = template("uac.xml", tmp, {"PCAP_FILE": PCAP})
    kam = spawn("dp", ["kamailio", "-f", cfg, "-DD", "-E", "-m", "64", "-M", "8", "-Y", tmp],
                logs["kamailio"])
    procs.append(kam)
    uas = spawn("callee", ["sipp", "-sf", os.path.join(HERE, "uas.xml"), "-i", CALLEE, "-p", "5060",
                           "-mi", CALLEE, "-mp", "6000", "-rtp_echo", "-m", "1", "-nostdin",
                           "-timeout", "40"], logs["sipp-uas"], cwd=tmp)
    procs.append(uas)
    time.sleep(1.5)
    lab.check(kam.poll() is None, "kamailio runs with its rtpengine module on sbc-dataplane")
    lab.sh("iptables", "-I", "INPUT", "-p", "udp", "-s", lab.MEDIA, "-d", CALLER, "-j", "ACCEPT",
           ns="ua")
    base = relayed()
    caller = spawn("ua", ["sipp", "-sf", uac, "-i", CALLER, "-p", "5060", "-mi", CALLER, "-mp",
                          "27910", "-m", "1", "-nostdin", "-timeout", "40", KAMAILIO + ":5060"],
                   logs["sipp-uac"], cwd=tmp)
    procs.append(caller)

    best, call_id, moved = {}, None, 0
    deadline = time.monotonic() + 30
    while caller.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
        calls = (lab.ng({"command": "list"}) or {}).get("calls", [])
        if not calls:
            continue
        call_id = calls[0]
        q = lab.ng({"command": "query", "call-id": call_id}) or {}
        for tag, (pk, ep) in party_packets(q).items():
            if pk >= best.get(tag, (0, None))[0]:
                best[tag] = (pk, ep)
        moved = relayed() - base
    caller.wait(15)
    uas.wait(15)
    print("# call %s, per party (accepted packets, latched source): %s" % (call_id, best))
    lab.check(caller.returncode == 0, "SIPp caller: call through Kamailio succeeded")
    lab.check(uas.returncode == 0, "SIPp callee: call answered, ACK and BYE arrived")
    ctl = lab.ng({"command": "statistics"})["statistics"]["controlstatistics"]
    print("# ng control statistics: %s" % json.dumps(ctl))
    lab.check(ctl["offers"] >= 1 and ctl["answers"] >= 1 and ctl["deletes"] >= 1,
              "rtpengine_manage() sent offer, answer and delete")
    lab.check(len(best) == 2, "the relay saw both parties of the call (%s)" % sorted(best))
    pk = sorted(p for p, _ in best.values())
    lab.check(pk[0] >= 100, "media accepted from both parties (%s packets)" % pk)
    caller_ep = [ep for tag, (_, ep) in best.items() if "caller" in tag]
    lab.check(caller_ep and (caller_ep[0] or "").startswith("203.0.113.1:"),
              "the caller latched at the NAT's public address (%s)" % caller_ep)
    lab.check(moved >= sum(pk) * 9 // 10, "the worker relayed what it accepted (%d of %d)"
              % (moved, sum(pk)))
    back = caller_received()
    lab.check(back >= 100, "the caller, behind the NAT, received media from the relay's address "
              "(%d packets)" % back)
    time.sleep(0.5)
    left = lab.ng({"command": "list"})
    lab.check(left.get("result") == "ok" and not left.get("calls"),
              "after the BYE the relay holds no call (%s)" % left.get("calls"))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("kamailio-rtpengine: needs root (namespaces, DPDK), skipped")
        return 77
    for tool in ("ip", "iptables", "ethtool", "kamailio", "sipp"):
        if not shutil.which(tool):
            print("kamailio-rtpengine: %s missing, skipped" % tool)
            return 77
    if not os.path.exists(PCAP):
        print("kamailio-rtpengine: %s missing, skipped" % PCAP)
        return 77
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix=lab.PREFIX)
    names = ("sbc-dataplane", "kamailio", "sipp-uas", "sipp-uac")
    logs = {n: open(os.path.join(tmp, n + ".log"), "w") for n in names}
    procs = []
    rc = 1
    try:
        call(sys.argv[1], tmp, logs, procs)
        rc = 0
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired, OSError, ValueError,
            KeyError, TypeError) as e:
        print("not ok - %s" % e)
    finally:
        dp = procs[0] if procs else None
        for p in reversed(procs[1:]):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        lab.cleanup(dp, None)
        for pid in stray_dataplanes():
            os.kill(pid, signal.SIGKILL)
        for f in logs.values():
            f.close()
        if rc:
            for n in names:
                with open(os.path.join(tmp, n + ".log"), errors="replace") as f:
                    tail = f.read().splitlines(True)[-50:]
                print("# %s:\n%s" % (n, "".join("#   " + line for line in tail)))
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
