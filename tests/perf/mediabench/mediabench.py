#!/usr/bin/env python3
"""Calls/s with media engaged: sbc-sip + sbc-dataplane against Kamailio 5.6 + rtpengine 10.5,
same load generator, same cores, one run (meson benchmark "media-sidebyside"; needs root, sipp,
kamailio, kamcmd, rtpengine, iptables and ethtool, exits 77 otherwise).

    mediabench.py SBC_SIP SBC_DB SBC_DATAPLANE [--step S] [--rates R,...] [--hold-calls N]
                  [--only sbc,kamailio] [--keep DIR]

Namespaces on one bridge (wan), veths with tx checksum offload off (TESTING-NOTES.md):

    uac (SIPp caller 203.0.113.10, looks NAT'd: private Via/Contact/SDP) --+
    sut: eth0 (kernel) 203.0.113.5 sbc-sip, 203.0.113.6 Kamailio,          |
               203.0.113.8 rtpengine (ng 127.0.0.1:2224)  -----------------+- wan (br0)
         dp0 (no kernel address) sbc-dataplane owns 203.0.113.7            |
             (net_af_packet, --no-huge, ng 127.0.0.1:2223) ----------------+
    uas (SIPp carrier 203.0.113.20) ---------------------------------------+

Cores: everything under test on core 1 (sbc-sip, both lcores of sbc-dataplane with
--lcores 0@1,1@1 and --idle-backoff so the polling worker leaves time to the proxy; Kamailio
and its children, rtpengine --num-threads=1), both SIPp instances on core 0; every process in a
session of its own at nice -19 (perflab.spawn). Both pairs are up for the whole run, the one not being measured
stopped with SIGSTOP (as in tests/perf/sidebyside.py); the ramp is interleaved rate by rate.
Core 1 is isolated for the run (perflab.IsolatedCore: every other thread of the machine moved
off it, as isolcpus would; --no-isolate to share it).

Each call: INVITE (SDP) -> 180 -> 200 (SDP) -> ACK, both SIPp then play rtp.pcap (PACKETS
PCMU packets, 20 ms apart) to the relay address they were given, BYE after HOLD_MS. RTP is
counted where it is delivered: iptables INPUT rules in the uac and uas namespaces that match
only packets from the relay's address to the SIPp media port (before any socket lookup).

A step at rate R lasts S seconds (R*S calls). It passes when SIPp exits 0 with R*S successful
and 0 failed calls, the step ends within S + 3 s (the rate was kept), and each direction
received at least 99 % of the R*S*PACKETS packets sent. A failed step is run once more; a
rate fails when both attempts fail. A pair's ramp stops at its first failed rate and tries
once the rate half-way between its last pass and that failure.

Memory per call (measured first, on freshly started processes): N calls held open (hold 60 s, no media after the first 0.4 s), RSS of sbc-sip
and of sbc-dataplane (Kamailio: shm real_used and the RSS sum of its processes; rtpengine RSS)
before and after, read once the INVITE server transactions have expired (32 s after the 2xx,
RFC 6026), divided by N.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import perflab  # noqa: E402
from perflab import children_cpu, group_pids, last_stats, tail  # noqa: E402

TAG = "mb%d" % (os.getpid() % 100000)
NS = {n: "%s-%s" % (TAG, n) for n in ("uac", "uas", "sut", "wan")}
PREFIX = "mediabench_%s" % TAG
UAC, SBC, KAM, DP, RTPE, UAS = ("203.0.113.10", "203.0.113.5", "203.0.113.6", "203.0.113.7",
                                "203.0.113.8", "203.0.113.20")
DP_NG, RTPE_NG = "127.0.0.1:2223", "127.0.0.1:2224"
MPORT = 6000
PACKETS = int(os.environ.get("MEDIABENCH_PACKETS", "10"))
HOLD_MS = int(os.environ.get("MEDIABENCH_HOLD_MS", "500"))
SUT_CORE, LOAD_CORE = 1, 0
KAM_CHILDREN = int(os.environ.get("MEDIABENCH_KAM_CHILDREN", "4"))
SETTLE_S = 34
# As in tests/perf/sipbench: a message the scenario does not expect at that point (a 200
# retransmitted because its ACK was late) is logged and ignored, not a reason to abort the call;
# SIP socket buffers of 4 MB (SIPp's default is 64 kB) so a descheduled SIPp loses no SIP.
LENIENT = ["-default_behaviors", "all,-abortunexp", "-buff_size", "4194304"]


def log(*a):
    print(*a, flush=True)


def sh(*args, ns=None, check=True, capture=False):
    cmd = (["ip", "netns", "exec", NS[ns]] if ns else []) + list(args)
    r = subprocess.run(cmd, check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout if capture else r.returncode


def spawn(ns, cmd, out, cwd=None):
    return perflab.spawn(["ip", "netns", "exec", NS[ns]] + cmd, stdout=out,
                         stderr=subprocess.STDOUT, cwd=cwd)


# --- topology ------------------------------------------------------------------------------


def veth(ns_a, if_a, ns_b, if_b):
    sh("ip", "link", "add", if_a, "netns", NS[ns_a], "type", "veth", "peer", "name", if_b,
       "netns", NS[ns_b])
    for ns, ifn in ((ns_a, if_a), (ns_b, if_b)):
        sh("ethtool", "-K", ifn, "tx", "off", ns=ns, check=False)
        sh("ip", "link", "set", ifn, "up", ns=ns)


def setup():
    for n in NS.values():
        sh("ip", "netns", "add", n)
    for ns in NS:
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns, check=False)
    sh("ip", "link", "add", "br0", "type", "bridge", ns="wan")
    sh("ip", "link", "set", "br0", "up", ns="wan")
    veth("uac", "eth0", "wan", "p1")
    veth("sut", "eth0", "wan", "p2")
    veth("sut", "dp0", "wan", "p3")
    veth("uas", "eth0", "wan", "p4")
    for p in ("p1", "p2", "p3", "p4"):
        sh("ip", "link", "set", p, "master", "br0", ns="wan")
    sh("ip", "addr", "add", UAC + "/24", "dev", "eth0", ns="uac")
    sh("ip", "addr", "add", UAS + "/24", "dev", "eth0", ns="uas")
    for a in (SBC, KAM, RTPE):
        sh("ip", "addr", "add", a + "/24", "dev", "eth0", ns="sut")
    # dp0 has no kernel address: 203.0.113.7 is the dataplane's alone.
    for ns in ("uac", "uas"):
        for relay in (DP, RTPE):
            sh("iptables", "-A", "INPUT", "-p", "udp", "-s", relay, "--dport", str(MPORT),
               ns=ns)


def teardown():
    for n in NS.values():
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree("/var/run/dpdk/" + PREFIX, ignore_errors=True)


def rtp_counters():
    """{(namespace, relay): packets} delivered to the SIPp media port; zeroed after."""
    got = {}
    for ns in ("uac", "uas"):
        out = sh("iptables", "-L", "INPUT", "-v", "-x", "-n", "-Z", ns=ns, capture=True)
        for line in out.splitlines():
            f = line.split()
            if f and f[0].isdigit() and "dpt:%d" % MPORT in line:
                for relay in (DP, RTPE):
                    if relay in f:
                        got[(ns, relay)] = int(f[0])
    return got


def write_pcap(path, packets):
    """One RTP stream (PCMU, 20 ms apart) for SIPp's play_pcap_audio, which keeps payload and
    timing and readdresses the packets."""
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for i in range(packets):
        rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, i, i * 160, 0x5EED)
        rtp += b"\xff" * 160
        udp = struct.pack("!HHHH", 10000, 20000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
        ts = i * 20000
        out.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)))
        out.append(frame)
    with open(path, "wb") as f:
        f.write(b"".join(out))


# --- processes -----------------------------------------------------------------------------


def group_cpu(pgid):
    total = 0.0
    for pid in group_pids(pgid):
        try:
            total += sum(perflab.cpu_s(pid))
        except OSError:
            pass
    return total


def group_rss_kb(pgid):
    """RSS of every process of the session except the `ip netns exec` wrappers' children that
    are not ours (ip execs the command, so the session is the daemon and its forks)."""
    total = 0
    for pid in group_pids(pgid):
        try:
            total += perflab.rss_kb(pid)
        except OSError:
            pass
    return total


def ng_ping(addr):
    """ng ping from inside the sut namespace (the ng ports listen on its loopback)."""
    host, port = addr.rsplit(":", 1)
    code = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.settimeout(0.5)\ns.sendto(b'c1 d7:command4:pinge',('%s',%s))\n"
            "try:\n print(s.recv(4096))\nexcept OSError:\n pass\n" % (host, port))
    return "pong" in sh(sys.executable, "-c", code, ns="sut", capture=True, check=False)


def stop_group(proc):
    if proc is None:
        return
    pids = group_pids(proc.pid)
    perflab.stop([proc])
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Pair:
    """A proxy and its relay, started and stopped together."""
    name = "?"

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def wait_ng(self, proc, addr, what, logpath):
        deadline = time.monotonic() + 20
        while not ng_ping(addr):
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %d\n%s" % (what, proc.returncode,
                                                              tail(logpath)))
            if time.monotonic() > deadline:
                raise RuntimeError("%s does not answer ng ping\n%s" % (what, tail(logpath)))
            time.sleep(0.3)

    def stop(self):
        for p in reversed(self.procs):
            stop_group(p)
        self.procs = []

    def cpu(self):
        return sum(group_cpu(p.pid) for p in self.procs)

    def signal(self, sig):
        for p in self.procs:
            for pid in group_pids(p.pid):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass

    def pause(self):
        """SIGSTOP while the other pair is measured (both live on the same core, and an idle
        sbc-dataplane worker still polls)."""
        self.signal(signal.SIGSTOP)

    def resume(self):
        self.signal(signal.SIGCONT)
        time.sleep(1)


class SbcPair(Pair):
    name = "sbc"
    proxy = SBC
    relay = DP

    def __init__(self, tmp, sbc_sip, sbc_db, dataplane):
        super().__init__(tmp)
        self.sbc_sip, self.dataplane = sbc_sip, dataplane
        self.policy = os.path.join(tmp, "policy.db")
        self.ctl_path = os.path.join(tmp, "sbc-sip.ctl")
        sql = os.path.join(tmp, "policy.sql")
        with open(sql, "w") as f:
            # The caller is a trunk (trusted by source address, no digest), the carrier a
            # trunk reached by the default route; keepalives off, rate limits out of the way
            # (every call comes from one source address).
            f.write("INSERT INTO settings (key, value) VALUES ('auth.realm', 'sbc.local'), "
                    "('nat.test_mask', '19'), ('nat.keepalive_interval', '0'), "
                    "('ratelimit.requests_per_second', '1000000'), "
                    "('ratelimit.burst', '1000000') "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n")
            f.write("INSERT INTO trunks (name, address, port, transport, note) VALUES "
                    "('carrier', '%s', 5060, 'udp', 'mediabench SIPp UAS'), "
                    "('callers', '%s', 5060, 'udp', 'mediabench SIPp UAC');\n" % (UAS, UAC))
            f.write("INSERT INTO routes (prefix, trunk, note) VALUES "
                    "('', 'carrier', 'default');\n")
        subprocess.run([sbc_db, "migrate", self.policy], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sbc_db, "load", self.policy, sql], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self):
        dlog = os.path.join(self.tmp, "sbc-dataplane.log")
        eal = ["--lcores", "0@%d,1@%d" % (SUT_CORE, SUT_CORE), "--no-huge", "-m", "512",
               "--no-pci", "--file-prefix=" + PREFIX, "--vdev=net_af_packet0,iface=dp0",
               "--log-level=lib.eal:error"]
        opts = ["--media-addr", DP + "/24", "--ports", "40000-59999", "--ng-listen", DP_NG,
                "--idle-backoff", "200", "--media-timeout", "0",
                "--control-socket", os.path.join(self.tmp, "dp.ctl"), "--log-level", "notice"]
        dp = spawn("sut", [self.dataplane] + eal + ["--"] + opts, open(dlog, "ab"))
        self.procs.append(dp)
        self.wait_ng(dp, DP_NG, "sbc-dataplane", dlog)
        self.dp = dp
        slog = os.path.join(self.tmp, "sbc-sip.log")
        regs = os.path.join(self.tmp, "registrations.db")
        sip = spawn("sut", ["taskset", "-c", str(SUT_CORE), self.sbc_sip, "--listen",
                            SBC + ":5060", "--policy", self.policy, "--registrations", regs,
                            "--ctl", self.ctl_path, "--dataplane", DP_NG,
                            "--log-level", "notice"], open(slog, "ab"))
        self.procs.append(sip)
        self.sip = sip
        deadline = time.monotonic() + 10
        while True:
            if sip.poll() is not None:
                raise RuntimeError("sbc-sip exited with %d\n%s" % (sip.returncode, tail(slog)))
            try:
                self.query("stats")
                break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sbc-sip: no control socket\n" + tail(slog))
            time.sleep(0.2)

    def query(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.ctl_path)
            s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        return json.loads(data)

    def memory(self):
        return {"proxy RSS": group_rss_kb(self.sip.pid), "relay RSS": group_rss_kb(self.dp.pid)}

    def counts(self):
        st = self.query("stats")
        st = st.get("result", st)
        keys = ("dialogs", "transactions", "media_engaged", "media_failed")
        return ", ".join("%s %s" % (k, st.get(k)) for k in keys if k in st) or json.dumps(st)[:300]


class KamPair(Pair):
    name = "kamailio"
    proxy = KAM
    relay = RTPE

    def start(self):
        rlog = os.path.join(self.tmp, "rtpengine.log")
        rtpe = spawn("sut", ["taskset", "-c", str(SUT_CORE), "rtpengine", "--config-file=none",
                             "--table=-1", "--interface=" + RTPE, "--listen-ng=" + RTPE_NG,
                             "--foreground", "--log-stderr", "--log-level=4",
                             "--num-threads=1", "--delete-delay=0", "--port-min=30000",
                             "--port-max=39999"], open(rlog, "ab"))
        self.procs.append(rtpe)
        self.wait_ng(rtpe, RTPE_NG, "rtpengine", rlog)
        self.rtpe = rtpe
        self.ctl = os.path.join(self.tmp, "kamailio.ctl")
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            cfg = f.read()
        for k, v in (("LISTEN_ADDR", KAM), ("CARRIER_ADDR", UAS), ("UAC_ADDR", UAC),
                     ("NG_ADDR", RTPE_NG), ("CHILDREN", str(KAM_CHILDREN)),
                     ("CTL_SOCKET", self.ctl)):
            cfg = cfg.replace(k, v)
        path = os.path.join(self.tmp, "kamailio.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        run = os.path.join(self.tmp, "kamrun")
        os.makedirs(run, exist_ok=True)
        klog = os.path.join(self.tmp, "kamailio.log")
        kam = spawn("sut", ["taskset", "-c", str(SUT_CORE), "kamailio", "-f", path, "-DD", "-E",
                            "-m", "512", "-M", "16", "-Y", run, "-P",
                            os.path.join(run, "kamailio.pid")], open(klog, "ab"))
        self.procs.append(kam)
        self.kam = kam
        deadline = time.monotonic() + 15
        while True:
            if kam.poll() is not None:
                raise RuntimeError("kamailio exited with %d\n%s" % (kam.returncode, tail(klog)))
            if os.path.exists(self.ctl):
                try:
                    self.kamcmd("core.uptime")
                    break
                except subprocess.CalledProcessError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("kamailio: no ctl socket\n" + tail(klog))
            time.sleep(0.2)

    def kamcmd(self, *args):
        return subprocess.run(["kamcmd", "-s", "unix:" + self.ctl] + list(args), check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def memory(self):
        m = re.search(r"real_used:\s*(\d+)", self.kamcmd("core.shmmem"))
        return {"proxy shm real_used": int(m.group(1)) // 1024,
                "proxy RSS (all processes)": group_rss_kb(self.kam.pid),
                "relay RSS": group_rss_kb(self.rtpe.pid)}

    def counts(self):
        out = self.kamcmd("stats.get_statistics", "all")
        get = dict(re.findall(r"(\S+) = (\d+)", out))
        return "tm inuse %s" % get.get("tmx:inuse_transactions", "?")


# --- SIPp ----------------------------------------------------------------------------------


def start_uas(tmp):
    cmd = ["taskset", "-c", str(LOAD_CORE), "sipp", "-sf", os.path.join(HERE, "uas.xml"), "-i",
           UAS, "-p", "5060", "-mi", UAS, "-mp", str(MPORT), "-nostdin", "-trace_err",
           "-error_file", os.path.join(tmp, "uas.err")] + LENIENT
    p = spawn("uas", cmd, subprocess.DEVNULL, cwd=tmp)
    time.sleep(0.5)
    if p.poll() is not None:
        raise RuntimeError("SIPp UAS exited with %d" % p.returncode)
    return p


def uac_cmd(pair, tmp, tag, rate, n, hold_ms, limit, timeout):
    return ["taskset", "-c", str(LOAD_CORE), "sipp", pair.proxy + ":5060", "-sf",
            os.path.join(HERE, "uac.xml"), "-i", UAC, "-p", "5060", "-mi", UAC, "-mp",
            str(MPORT), "-nostdin", "-r", str(rate), "-m", str(n), "-l", str(limit), "-d",
            str(hold_ms), "-timeout", "%ds" % timeout, "-trace_stat", "-stf",
            os.path.join(tmp, tag + ".csv"), "-fd", "1", "-trace_err", "-error_file",
            os.path.join(tmp, tag + ".err")] + LENIENT


def run_step(pair, tmp, rate, seconds, uas=None):
    tag = "%s-%d" % (pair.name, rate)
    n = int(rate * seconds)
    cmd = uac_cmd(pair, tmp, tag, rate, n, HOLD_MS, max(100, rate * 4), seconds + 40)
    rtp_counters()
    cpu0 = pair.cpu()
    gen0 = children_cpu() + (sum(perflab.cpu_s(uas.pid)) if uas else 0)
    t0 = time.monotonic()
    p = spawn("uac", cmd, subprocess.DEVNULL, cwd=tmp)
    try:
        rc = p.wait(seconds + 60)
    except subprocess.TimeoutExpired:
        stop_group(p)
        rc = -1
    wall = time.monotonic() - t0
    cpu = pair.cpu() - cpu0
    gen = children_cpu() + (sum(perflab.cpu_s(uas.pid)) if uas else 0) - gen0
    time.sleep(0.5)  # the last packets of the last calls
    got = rtp_counters()
    st = last_stats(os.path.join(tmp, tag + ".csv"))
    ok_calls = int(st.get("SuccessfulCall(C)", 0) or 0)
    failed = int(st.get("FailedCall(C)", 0) or 0)
    retrans = int(st.get("Retransmissions(C)", 0) or 0)
    sent = n * PACKETS
    to_uac = got.get(("uac", pair.relay), 0)
    to_uas = got.get(("uas", pair.relay), 0)
    limit = seconds + 3 + HOLD_MS / 1000.0
    why = []
    if rc != 0:
        why.append("sipp exit %d" % rc)
    if failed or ok_calls != n:
        why.append("%d of %d calls ok, %d failed" % (ok_calls, n, failed))
    if wall > limit:
        why.append("took %.1f s > %.1f s (rate not kept)" % (wall, limit))
    if to_uac < sent * 0.99 or to_uas < sent * 0.99:
        why.append("RTP short of 99 %")
    passed = not why
    log("  %-8s %5d calls/s x %ds: %-4s wall %5.1f s, CPU: SUT %3.0f %%, SIPp %3.0f %% of a core; RTP to "
        "caller %d/%d (%.2f %%), to callee %d/%d (%.2f %%), SIP retransmissions %d%s"
        % (pair.name, rate, seconds, "PASS" if passed else "FAIL", wall, 100.0 * cpu / wall,
           100.0 * gen / wall,
           to_uac, sent, 100.0 * to_uac / sent, to_uas, sent, 100.0 * to_uas / sent, retrans,
           ("  (" + "; ".join(why) + ")") if why else ""))
    if not passed:
        err = os.path.join(tmp, tag + ".err")
        if os.path.exists(err):
            log("    SIPp errors (last lines):\n" + "".join(
                "      " + ln for ln in tail(err, 6).splitlines(True)))
    return passed, {"rate": rate, "passed": passed, "wall": wall, "cpu": cpu / wall,
                    "to_caller": to_uac, "to_callee": to_uas, "sent_each_way": sent,
                    "ok": ok_calls, "failed": failed, "retrans": retrans, "sipp_cpu": gen / wall}


def ramp(pairs, tmp, rates, seconds, uas):
    """The same rates for every pair, interleaved (rate by rate, pair by pair) so that drift in
    the machine's load hits both alike; a pair leaves the ramp at its first failure and gets
    one more try half-way between its last pass and that failure."""
    log("calls/s ramp, interleaved (%d s per step, %d RTP packets each way per call, BYE "
        "after %d ms):" % (seconds, PACKETS, HOLD_MS))
    best = {p.name: 0 for p in pairs}
    fail = {}
    steps = {p.name: [] for p in pairs}

    def one(p, r):
        # A failed step is run once more: on a shared machine one descheduled moment of the
        # pair (or of SIPp) fails a step; a rate counts as failed when it fails twice.
        for attempt in range(2):
            p.resume()
            try:
                ok, s = run_step(p, tmp, r, seconds, uas)
            finally:
                p.pause()
            s["attempt"] = attempt + 1
            steps[p.name].append(s)
            time.sleep(2)
            if ok:
                return True
            if attempt == 0:
                time.sleep(3)
                log("    (again)")
        return False

    for r in rates:
        live = [p for p in pairs if p.name not in fail]
        if not live:
            break
        for p in live:
            if one(p, r):
                best[p.name] = r
            else:
                fail[p.name] = r
    for p in pairs:
        b, f = best[p.name], fail.get(p.name)
        if f is not None and b > 0 and f - b > b // 10:
            mid = (b + f) // 2
            if one(p, mid):
                best[p.name] = mid
    for p in pairs:
        log("  => %s: highest rate with 0 failed calls and RTP both ways: %d calls/s"
            % (p.name, best[p.name]))
    return {p.name: (best[p.name], steps[p.name]) for p in pairs}


def memory_calls(pair, tmp, n):
    rate = 200
    hold = 60000
    m0 = pair.memory()
    tag = "%s-mem" % pair.name
    cmd = uac_cmd(pair, tmp, tag, rate, n, hold, n + 10, 150)
    p = spawn("uac", cmd, subprocess.DEVNULL, cwd=tmp)
    time.sleep(n / rate + SETTLE_S + 2)
    m1 = pair.memory()
    counts = pair.counts()
    rc = p.wait(120)
    st = last_stats(os.path.join(tmp, tag + ".csv"))
    per = {k: (m1[k] - m0[k]) * 1024.0 / n for k in m0}
    log("  %s with %d open calls (%s; SIPp exit %d, %s ok, %s failed):" % (
        pair.name, n, counts, rc, st.get("SuccessfulCall(C)"), st.get("FailedCall(C)")))
    for k in m0:
        log("    %-26s %7d kB -> %7d kB: %6.0f bytes per call" % (k, m0[k], m1[k], per[k]))
    time.sleep(3)
    return {"before_kb": m0, "after_kb": m1, "per_call_bytes": per, "sipp_rc": rc}


def bench(pairs, tmp, args):
    res = {p.name: {} for p in pairs}
    for p in pairs:
        p.start()
        p.pause()
    uas = start_uas(tmp)
    try:
        # Memory first, on fresh processes: a relay's tables are touched as its ports are
        # handed out, so after a ramp a second measurement would see no growth at all.
        if args.hold_calls:
            for p in pairs:
                p.resume()
                res[p.name]["memory"] = memory_calls(p, tmp, args.hold_calls)
                p.pause()
        for name, r in ramp(pairs, tmp, args.rates, args.step, uas).items():
            res[name]["ramp"] = r
        for p in pairs:
            p.resume()
            res[p.name]["after_ramp_kb"] = p.memory()
            log("  %s after the ramp: %s" % (p.name, ", ".join(
                "%s %d kB" % kv for kv in res[p.name]["after_ramp_kb"].items())))
    finally:
        stop_group(uas)
        for p in pairs:
            p.resume()
            p.stop()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sbc_sip")
    ap.add_argument("sbc_db")
    ap.add_argument("sbc_dataplane")
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",") if x],
                    default=[100, 200, 300, 400, 500, 600, 700, 800, 1000, 1200])
    ap.add_argument("--hold-calls", type=int, default=1000)
    ap.add_argument("--only", default="sbc,kamailio")
    ap.add_argument("--keep", help="keep logs and SIPp files in this directory")
    ap.add_argument("--no-isolate", dest="isolate", action="store_false",
                    help="let other tasks of the machine run on the core under test")
    args = ap.parse_args()
    try:
        perflab.need_root(["sipp", "kamailio", "kamcmd", "rtpengine", "taskset", "iptables",
                           "ethtool", "ip"])
    except perflab.Skip as e:
        log("SKIP: %s" % e)
        return 77
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = args.keep or tempfile.mkdtemp(prefix="mediabench-")
    os.makedirs(tmp, exist_ok=True)
    write_pcap(os.path.join(tmp, "rtp.pcap"), PACKETS)
    pairs = []
    isolated = perflab.IsolatedCore(SUT_CORE)
    try:
        if args.isolate:
            isolated.__enter__()  # both pairs alike (perflab.IsolatedCore)
        setup()
        only = args.only.split(",")
        if "sbc" in only:
            pairs.append(SbcPair(tmp, os.path.abspath(args.sbc_sip),
                                 os.path.abspath(args.sbc_db),
                                 os.path.abspath(args.sbc_dataplane)))
        if "kamailio" in only:
            pairs.append(KamPair(tmp))
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        log("mediabench: steps of %d s; proxy+relay on core %d, SIPp UAC+UAS on core %d, nice %d;"
            " kamailio children=%d; load average %s; core %d %s" % (
                args.step, SUT_CORE, LOAD_CORE, perflab.NICE, KAM_CHILDREN, " ".join(load),
                SUT_CORE, "isolated (%d other threads moved off it)" % len(isolated.saved)
                if args.isolate else "shared with other tasks"))
        results = bench(pairs, tmp, args)
        log("\nsummary:")
        for name, r in results.items():
            mem = r.get("memory", {}).get("per_call_bytes", {})
            log("  %-8s %5d calls/s   %s" % (name, r["ramp"][0], ", ".join(
                "%s %.0f B/call" % (k, v) for k, v in mem.items())))
        with open(os.path.join(tmp, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        return 0
    except Exception as e:  # noqa: BLE001  (report, clean up, fail)
        log("ERROR: %s" % e)
        for name in ("sbc-sip", "sbc-dataplane", "kamailio", "rtpengine"):
            t = tail(os.path.join(tmp, name + ".log"), 10)
            if t:
                log("--- %s log tail:\n%s" % (name, t))
        return 1
    finally:
        isolated.__exit__(None, None, None)
        for p in pairs:
            p.stop()
        teardown()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
