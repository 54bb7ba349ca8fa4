#!/usr/bin/env python3
"""NAT lab for sbc-dataplane (meson suite "natlab"; needs root, exits 77 otherwise).

    run.py /path/to/sbc-dataplane

Network namespaces on one bridged segment 203.0.113.0/24:

    ua (caller 192.168.1.10:27910) -- nat (MASQUERADE --random-fully, 203.0.113.1) --+
    dp (sbc-dataplane on net_af_packet, owns 203.0.113.5 and .8; no kernel address) --+- wan (br0)
    callee (203.0.113.20:5004) -------------------------------------------------------+
    stranger (203.0.113.66) ----------------------------------------------------------+

A call is set up over ng (offer with SIP-source-address and received-from = the NAT's address,
answer with trust-address); both parties then exchange RTP and RTCP through the relay while the
stranger sends to the relay ports before and during the call. Checks: media both ways, only
from the relay's ports, nothing of the stranger's relayed, the caller latched through the NAT's
random port; after "delete" nothing is relayed. The dataplane owns a second media address
(203.0.113.8): a call made while the first address holds a call goes there (SDP, media, ICMP echo,
control socket). Namespaces, the dataplane, its control socket and /var/run/dpdk/<prefix> are
removed on every exit.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "nl%d" % (os.getpid() % 100000)
NS = {n: "%s-%s" % (TAG, n) for n in ("ua", "nat", "dp", "callee", "stranger", "wan")}
MEDIA = "203.0.113.5"
MEDIA2 = "203.0.113.8"  # the second media address (index 1)
PREFIX = "natlab_%s" % TAG
CTL = "/tmp/%s.ctl" % PREFIX
POLICY = "/tmp/%s.policy.json" % PREFIX
NOTIFY = "127.0.0.1:9999"
NG = "127.0.0.1:2223"

SDP_CALLER = ("v=0\r\no=caller 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n"
              "t=0 0\r\nm=audio 27910 RTP/AVP 0\r\na=sendrecv\r\n")
SDP_CALLEE = ("v=0\r\no=callee 2 2 IN IP4 203.0.113.20\r\ns=-\r\nc=IN IP4 203.0.113.20\r\n"
              "t=0 0\r\nm=audio 5004 RTP/AVP 0\r\na=sendrecv\r\n")


class Skip(Exception):
    pass


def sh(*args, ns=None, check=True, capture=False):
    cmd = (["ip", "netns", "exec", NS[ns]] if ns else []) + list(args)
    r = subprocess.run(cmd, check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout if capture else r.returncode


def veth(ns_a, if_a, ns_b, if_b):
    sh("ip", "link", "add", if_a, "netns", NS[ns_a], "type", "veth", "peer", "name", if_b,
       "netns", NS[ns_b])
    for ns, ifn in ((ns_a, if_a), (ns_b, if_b)):
        # Kernel sockets leave UDP checksums to the NIC; a veth passes them on partial and
        # af_packet does not say so (TESTING-NOTES.md): full checksums in the lab.
        sh("ethtool", "-K", ifn, "tx", "off", ns=ns, check=False)
        sh("ip", "link", "set", ifn, "up", ns=ns)


def setup():
    for n in NS.values():
        sh("ip", "netns", "add", n)
    for ns in NS:
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns, check=False)
        sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=ns, check=False)
    sh("ip", "link", "add", "br0", "type", "bridge", ns="wan")
    sh("ip", "link", "set", "br0", "up", ns="wan")
    veth("ua", "eth0", "nat", "in0")
    veth("nat", "out0", "wan", "p1")
    veth("dp", "dp0", "wan", "p2")
    veth("callee", "eth0", "wan", "p3")
    veth("stranger", "eth0", "wan", "p4")
    for p in ("p1", "p2", "p3", "p4"):
        sh("ip", "link", "set", p, "master", "br0", ns="wan")
    sh("ip", "addr", "add", "192.168.1.10/24", "dev", "eth0", ns="ua")
    sh("ip", "route", "add", "default", "via", "192.168.1.1", ns="ua")
    sh("ip", "addr", "add", "192.168.1.1/24", "dev", "in0", ns="nat")
    sh("ip", "addr", "add", "203.0.113.1/24", "dev", "out0", ns="nat")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns="nat")
    sh("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-j", "MASQUERADE",
       "--random-fully", ns="nat")
    sh("ip", "addr", "add", "203.0.113.20/24", "dev", "eth0", ns="callee")
    sh("ip", "addr", "add", "203.0.113.66/24", "dev", "eth0", ns="stranger")
    # dp0 gets no address: 203.0.113.5 belongs to the dataplane alone.


def cleanup(proc, logf):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for n in NS.values():
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree("/var/run/dpdk/" + PREFIX, ignore_errors=True)
    for path in (CTL, POLICY):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if logf:
        logf.close()


def ng(obj):
    out = sh(sys.executable, os.path.join(HERE, "ng.py"), NG, json.dumps(obj), ns="dp",
             capture=True, check=False)
    return json.loads(out) if out.strip() else None


def ctl(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(CTL)
    s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


def agent(ns, bind, ssrc, to, count, delay=0.0, interval=0.02, wait=1.0, rtcp=True):
    args = [sys.executable, os.path.join(HERE, "agent.py"), "--bind", bind, "--ssrc", str(ssrc),
            "--count", str(count), "--interval", str(interval), "--wait", str(wait + delay)]
    for t in to:
        args += ["--to", t]
    if rtcp:
        args.append("--rtcp")
    if delay:
        # Listen from the start, send after the delay: sleep inside the agent's own clock by
        # prefixing a shell sleep would lose the receive window, so agents get a wait instead.
        args = ["sh", "-c", 'sleep %s; exec "$@"' % delay, "agent"] + args
        return subprocess.Popen(["ip", "netns", "exec", NS[ns]] + args, stdout=subprocess.PIPE,
                                text=True)
    return subprocess.Popen(["ip", "netns", "exec", NS[ns]] + args, stdout=subprocess.PIPE,
                            text=True)


def result(p):
    out, _ = p.communicate(timeout=60)
    return json.loads(out)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok - " + what)


def run(binary, logf):
    eal = ["-l", "0,1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix=" + PREFIX,
           "--vdev=net_af_packet0,iface=dp0", "--log-level=lib.eal:error"]
    opts = ["--media-addr", MEDIA + "/24", "--media-addr", MEDIA2, "--ports", "40000-40199",
            "--ng-listen", NG,
            "--idle-backoff", "200", "--control-socket", CTL, "--policy", POLICY,
            "--notify", NOTIFY, "--log-level", "info"]
    with open(POLICY, "w") as f:
        json.dump({"media-timeout": 3, "latching": "strict"}, f)
    proc = subprocess.Popen(["ip", "netns", "exec", NS["dp"], binary] + eal + ["--"] + opts,
                            stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise RuntimeError("sbc-dataplane exited with %d" % proc.returncode)
        r = ng({"command": "ping"})
        if r and r.get("result") == "pong":
            break
        if time.monotonic() > deadline:
            raise RuntimeError("sbc-dataplane does not answer ng ping")
        time.sleep(0.3)
    print("ok - sbc-dataplane answers ng ping")
    return proc


def call(proc):
    r = ng({"command": "offer", "call-id": "natlab-1", "from-tag": "caller-tag",
            "sdp": SDP_CALLER, "received-from": ["IP4", "203.0.113.1"],
            "flags": ["SIP-source-address"], "replace": ["origin", "session-connection"],
            "supports": ["load limit"], "via-branch": "z9hG4bK-natlab"})
    check(r and r.get("result") == "ok", "offer accepted")
    check("c=IN IP4 %s" % MEDIA in r["sdp"], "offer SDP rewritten to the relay")
    port_b = int(re.search(r"m=audio (\d+) ", r["sdp"]).group(1))
    r = ng({"command": "answer", "call-id": "natlab-1", "from-tag": "caller-tag",
            "to-tag": "callee-tag", "sdp": SDP_CALLEE, "received-from": ["IP4", "203.0.113.20"],
            "flags": ["trust-address"], "replace": ["origin", "session-connection"]})
    check(r and r.get("result") == "ok", "answer accepted")
    port_a = int(re.search(r"m=audio (\d+) ", r["sdp"]).group(1))
    relay_a, relay_b = "%s:%d" % (MEDIA, port_a), "%s:%d" % (MEDIA, port_b)

    targets = [relay_a, relay_b]
    # The stranger guesses the relay ports before anyone has latched, and again mid-call.
    early = agent("stranger", "203.0.113.66:7000", 666, targets, 30, interval=0.01, wait=0.2)
    callee = agent("callee", "203.0.113.20:5004", 2, [relay_b], 150, delay=1.0)
    caller = agent("ua", "192.168.1.10:27910", 1, [relay_a], 150, delay=1.0)
    late = agent("stranger", "203.0.113.66:7002", 666, targets, 100, delay=2.0, interval=0.01)
    early_r, callee_r, caller_r, late_r = (result(p) for p in (early, callee, caller, late))
    print("# caller: %s\n# callee: %s" % (json.dumps(caller_r), json.dumps(callee_r)))

    check(callee_r["rtp"].get("1", 0) >= 120, "callee got the caller's RTP (%d/150)"
          % callee_r["rtp"].get("1", 0))
    check(caller_r["rtp"].get("2", 0) >= 120, "caller got the callee's RTP through the NAT "
          "(%d/150)" % caller_r["rtp"].get("2", 0))
    check(callee_r["rtcp"].get("1", 0) >= 10 and caller_r["rtcp"].get("2", 0) >= 10,
          "RTCP relayed both ways on port + 1")
    check(caller_r["sources"] == [relay_a, "%s:%d" % (MEDIA, port_a + 1)],
          "caller hears only the relay's ports")
    check(callee_r["sources"] == [relay_b, "%s:%d" % (MEDIA, port_b + 1)],
          "callee hears only the relay's ports")
    for who, r in (("caller", caller_r), ("callee", callee_r)):
        check("666" not in r["rtp"] and "666" not in r["rtcp"],
              "nothing of the stranger's reached the %s" % who)
    check(not early_r["sources"] and not late_r["sources"], "the stranger got nothing back")

    sessions = ctl("sessions")["sessions"]
    check(sessions[0]["streams"][0].get("address") == MEDIA,
          "the control socket shows the call's media address")
    legs = sessions[0]["streams"][0]["legs"]
    caller_leg = [l for l in legs if l["port"] == port_a][0]
    latched = caller_leg["latched"] or ""
    check(latched.startswith("203.0.113.1:"), "caller latched to the NAT's address (%s)"
          % latched)
    print("# NAT mapped 27910 -> %s" % latched.split(":")[1])
    stats = ctl("stats")
    drops = stats["workers"][0]["drops"]
    check(drops.get("drop-stranger", 0) >= 100, "stranger packets dropped and counted (%d)"
          % drops.get("drop-stranger", 0))
    print("# stats: %s" % json.dumps(stats))

    r = ng({"command": "delete", "call-id": "natlab-1", "from-tag": "caller-tag",
            "to-tag": "callee-tag"})
    check(r and r.get("result") == "ok", "delete accepted")
    callee = agent("callee", "203.0.113.20:5004", 2, [relay_b], 40, wait=0.5)
    caller = agent("ua", "192.168.1.10:27910", 1, [relay_a], 40, wait=0.5)
    callee_r, caller_r = result(callee), result(caller)
    check(not callee_r["sources"] and not caller_r["sources"], "nothing relayed after delete")
    r = ng({"command": "query", "call-id": "natlab-1"})
    check(r and r.get("result") == "error", "the call is gone")


def second_address():
    """A call made while another holds ports on the first address goes to the second (the one
    with most free ports): its SDP, media and ICMP echo use 203.0.113.8."""
    r = ng({"command": "offer", "call-id": "natlab-hold", "from-tag": "h1", "sdp": SDP_CALLER,
            "received-from": ["IP4", "203.0.113.1"], "flags": ["SIP-source-address"]})
    check(r and r.get("result") == "ok" and "c=IN IP4 %s" % MEDIA in r["sdp"],
          "a first call on the first media address")
    r = ng({"command": "offer", "call-id": "natlab-2", "from-tag": "caller-tag",
            "sdp": SDP_CALLER, "received-from": ["IP4", "203.0.113.1"],
            "flags": ["SIP-source-address"], "replace": ["origin", "session-connection"]})
    check(r and r.get("result") == "ok", "offer of a call on the second address accepted")
    check("c=IN IP4 %s" % MEDIA2 in r["sdp"] and "IN IP4 %s" % MEDIA not in r["sdp"],
          "its SDP carries the second media address (c= and o=)")
    port_b = int(re.search(r"m=audio (\d+) ", r["sdp"]).group(1))
    r = ng({"command": "answer", "call-id": "natlab-2", "from-tag": "caller-tag",
            "to-tag": "callee-tag", "sdp": SDP_CALLEE, "received-from": ["IP4", "203.0.113.20"],
            "flags": ["trust-address"], "replace": ["origin", "session-connection"]})
    check(r and r.get("result") == "ok" and "c=IN IP4 %s" % MEDIA2 in r["sdp"],
          "answer SDP on the second address too")
    port_a = int(re.search(r"m=audio (\d+) ", r["sdp"]).group(1))
    relay_a, relay_b = "%s:%d" % (MEDIA2, port_a), "%s:%d" % (MEDIA2, port_b)
    callee = agent("callee", "203.0.113.20:5004", 2, [relay_b], 60, delay=0.5)
    caller = agent("ua", "192.168.1.10:27910", 1, [relay_a], 60, delay=0.5)
    callee_r, caller_r = result(callee), result(caller)
    check(callee_r["rtp"].get("1", 0) >= 45 and caller_r["rtp"].get("2", 0) >= 45,
          "media relayed both ways on the second address (%d, %d of 60)"
          % (callee_r["rtp"].get("1", 0), caller_r["rtp"].get("2", 0)))
    check(caller_r["sources"] == [relay_a, "%s:%d" % (MEDIA2, port_a + 1)] and
          callee_r["sources"] == [relay_b, "%s:%d" % (MEDIA2, port_b + 1)],
          "both parties hear only the second address's relay ports")
    q = ng({"command": "query", "call-id": "natlab-2"})
    stream = q["tags"]["caller-tag"]["medias"][0]["streams"][0]
    check(stream.get("local address") == MEDIA2, "ng query shows the stream's address")
    lst = ng({"command": "list"})
    check(dict(zip(lst["calls"], lst["addresses"])) ==
          {"natlab-hold": MEDIA, "natlab-2": MEDIA2}, "ng list shows each call's address")
    sessions = {s["call-id"]: s for s in ctl("sessions")["sessions"]}
    check(sessions["natlab-2"]["streams"][0]["address"] == MEDIA2,
          "the control socket shows the second address")
    addrs = ctl("stats")["addresses"]
    check([a["address"] for a in addrs] == [MEDIA, MEDIA2] and
          addrs[0]["free-pairs"] == addrs[1]["free-pairs"] == 98,
          "stats: free port pairs per address (%s)" % json.dumps(addrs))
    rc = sh(sys.executable, os.path.join(HERE, "ping.py"), MEDIA2, ns="callee", check=False)
    check(rc == 0, "the second media address answers ICMP echo")
    for cid in ("natlab-2", "natlab-hold"):
        r = ng({"command": "delete", "call-id": cid})
        check(r and r.get("result") == "ok", "%s deleted" % cid)


def extras():
    """ICMP echo, the media timeout notification, and policy reload on the control socket."""
    rc = sh(sys.executable, os.path.join(HERE, "ping.py"), MEDIA, ns="callee", check=False)
    check(rc == 0, "the media address answers ICMP echo")

    # A call whose parties never send: reported after the policy's 3 s, by a JSON datagram.
    listener = subprocess.Popen(
        ["ip", "netns", "exec", NS["dp"], sys.executable, "-c",
         "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         "s.bind(('127.0.0.1', 9999)); s.settimeout(8); print(s.recv(4096).decode())"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    r = ng({"command": "offer", "call-id": "natlab-silent", "from-tag": "s1",
            "sdp": SDP_CALLER, "received-from": ["IP4", "203.0.113.1"],
            "flags": ["SIP-source-address"]})
    check(r and r.get("result") == "ok", "offer of a silent call accepted")
    out, _ = listener.communicate(timeout=15)
    note = json.loads(out) if out.strip() else {}
    check(note.get("event") == "media-timeout" and note.get("call-id") == "natlab-silent",
          "media timeout notified: %s" % out.strip())
    r = ng({"command": "query", "call-id": "natlab-silent"})
    check(r and r.get("media timeout") == "yes", "query reports the media timeout")
    r = ng({"command": "list"})
    check(r and "natlab-silent" in r.get("media timeouts", []), "list reports the media timeout")

    with open(POLICY, "w") as f:
        f.write('{"media-timeout": "soon"}')
    r = ctl("reload")
    check(r.get("ok") is False and "media-timeout" in r.get("error", ""),
          "a bad policy is refused on reload")
    with open(POLICY, "w") as f:
        json.dump({"media-timeout": 30, "latching": "learn-any", "learn-window-ms": 2000}, f)
    check(ctl("reload").get("ok") is True, "a good policy is applied on reload")
    r = ng({"command": "delete", "call-id": "natlab-silent"})
    check(r and r.get("result") == "ok", "silent call deleted")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    if os.geteuid() != 0:
        print("natlab: needs root (network namespaces, DPDK), skipped")
        return 77
    for tool in ("ip", "iptables", "ethtool"):
        if not shutil.which(tool):
            print("natlab: %s missing, skipped" % tool)
            return 77
    # meson stops a test with SIGTERM: turn it into an exception so that cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    logdir = tempfile.mkdtemp(prefix=PREFIX)
    logpath = os.path.join(logdir, "sbc-dataplane.log")
    logf = open(logpath, "w")
    proc = None
    rc = 1
    try:
        setup()
        proc = run(binary, logf)
        call(proc)
        extras()
        # After extras(): its reload set a 30 s media timeout, so these silent calls are not
        # reported while extras() waits for its notification.
        second_address()
        proc.terminate()
        proc.wait(15)
        check(proc.returncode == 0, "sbc-dataplane stops cleanly on SIGTERM (status %d)"
              % proc.returncode)
        rc = 0
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
        print("not ok - %s" % e)
    finally:
        cleanup(proc, logf)
        with open(logpath) as f:
            log = f.read()
        if rc:
            print("# sbc-dataplane log:\n" + "".join("#   " + l for l in log.splitlines(True)))
        shutil.rmtree(logdir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
