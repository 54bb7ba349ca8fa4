#!/usr/bin/env python3
"""Kamailio drop-in test for sbc-dataplane (meson suite "natlab"; root, kamailio and sipp needed,
exits 77 otherwise).

    kamailio.py /path/to/sbc-dataplane

The NAT lab of run.py plus Kamailio 5.6 (tests/natlab/kamailio.cfg) on a kernel address
(203.0.113.6) in the dataplane's namespace, its rtpengine module pointed at sbc-dataplane's ng
socket. SIPp's uac_pcap scenario calls from behind the NAT (MASQUERADE --random-fully) and plays
PCMA; SIPp's uas on the public side echoes the RTP. Checks: the call succeeds, both parties' RTP
reaches the relay and is accepted, the caller (behind the NAT) receives the relayed media from the
relay's address, and Kamailio's delete on BYE removes the call.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the lab's namespaces, ng and control socket helpers)

HERE = run.HERE
KAMAILIO_ADDR = "203.0.113.6"


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("kamailio lab: needs root, skipped")
        return 77
    for tool in ("ip", "iptables", "ethtool", "kamailio", "sipp", "tcpdump"):
        if not shutil.which(tool):
            print("kamailio lab: %s missing, skipped" % tool)
            return 77
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = tempfile.mkdtemp(prefix=run.PREFIX)
    logf = open(os.path.join(tmp, "sbc-dataplane.log"), "w")
    klog = open(os.path.join(tmp, "kamailio.log"), "w")
    uaclog = open(os.path.join(tmp, "sipp-uac.log"), "w")
    procs = []
    proc = None
    rc = 1
    try:
        run.setup()
        # Kamailio's own interface in the dataplane's namespace, with a kernel address.
        run.veth("dp", "sip0", "wan", "p5")
        run.sh("ip", "link", "set", "p5", "master", "br0", ns="wan")
        run.sh("ip", "addr", "add", KAMAILIO_ADDR + "/24", "dev", "sip0", ns="dp")
        proc = run.run(sys.argv[1], logf)
        # uac_pcap plays "pcap/g711a.pcap"; Debian ships the files in /usr/share/sip-tester.
        os.symlink("/usr/share/sip-tester", os.path.join(tmp, "pcap"))
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            cfg = f.read().replace("LISTEN_ADDR", KAMAILIO_ADDR).replace(
                "NG_ADDR", run.NG).replace("CALLEE_ADDR", "203.0.113.20")
        cfgpath = os.path.join(tmp, "kamailio.cfg")
        with open(cfgpath, "w") as f:
            f.write(cfg)
        kam = subprocess.Popen(["ip", "netns", "exec", run.NS["dp"], "kamailio", "-f", cfgpath,
                                "-DD", "-E", "-m", "64", "-M", "8", "-Y", tmp],
                               stdout=klog, stderr=subprocess.STDOUT)
        procs.append(kam)
        uas = subprocess.Popen(["ip", "netns", "exec", run.NS["callee"], "sipp", "-sn", "uas",
                                "-i", "203.0.113.20", "-p", "5060", "-mi", "203.0.113.20",
                                "-rtp_echo", "-nostdin"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(uas)
        time.sleep(1.5)
        run.check(kam.poll() is None, "kamailio runs with the rtpengine module on sbc-dataplane")
        # What reaches the caller from the relay, seen inside the caller's network.
        dump = subprocess.Popen(["ip", "netns", "exec", run.NS["ua"], "timeout", "14", "tcpdump",
                                 "-n", "-l", "-i", "eth0",
                                 "udp and dst host 192.168.1.10 and not port 5060"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(dump)
        time.sleep(0.5)
        uac = subprocess.Popen(["ip", "netns", "exec", run.NS["ua"], "sipp", "-sn", "uac_pcap",
                                "-i", "192.168.1.10", "-p", "5060", "-mi", "192.168.1.10",
                                "-m", "1", "-s", "callee", "-timeout", "30", "-nostdin",
                                KAMAILIO_ADDR + ":5060"],
                               cwd=tmp, stdout=uaclog,
                               stderr=subprocess.STDOUT)
        procs.append(uac)
        seen = {}
        t_end = time.monotonic() + 25
        while uac.poll() is None and time.monotonic() < t_end:
            time.sleep(1)
            for call in run.ctl("sessions")["sessions"]:
                for st in call["streams"]:
                    for leg in st["legs"]:
                        key = (call["call-id"], leg["port"])
                        seen[key] = max(seen.get(key, {"packets": 0}), leg,
                                        key=lambda l: l["packets"])
        uac.wait(10)
        run.check(uac.returncode == 0, "SIPp call through Kamailio succeeded")
        print("# legs seen: %s" % json.dumps({"%s:%d" % k: v for k, v in seen.items()}))
        legs = list(seen.values())
        run.check(len(legs) == 2 and all(l["packets"] >= 50 for l in legs),
                  "RTP from both parties accepted by the relay")
        latched = [l["latched"] or "" for l in legs]
        run.check(any(x.startswith("203.0.113.1:") for x in latched),
                  "the caller latched through the NAT (%s)" % latched)
        out, _ = dump.communicate(timeout=20)
        back = [l for l in out.splitlines() if "> 192.168.1.10." in l]
        run.check(len(back) >= 50, "the caller received relayed media (%d packets)" % len(back))
        time.sleep(0.5)
        run.check(not run.ctl("sessions")["sessions"], "BYE: Kamailio's delete removed the call")
        rc = 0
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired, OSError, ValueError,
            KeyError) as e:
        print("not ok - %s" % e)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        run.cleanup(proc, logf)
        klog.close()
        uaclog.close()
        if rc:
            for name in ("sbc-dataplane.log", "kamailio.log", "sipp-uac.log"):
                with open(os.path.join(tmp, name)) as f:
                    print("# %s:\n%s" % (name, "".join("#   " + l for l in
                                                       f.read().splitlines(True)[-60:])))
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
