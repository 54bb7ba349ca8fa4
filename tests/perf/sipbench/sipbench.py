#!/usr/bin/env python3
"""REGISTER/s and calls/s through sbc-sip and through Kamailio 5.6, SIPp-driven, in one run
(meson benchmark "sip-sidebyside"; needs root, sipp and kamailio, exits 77 otherwise).

    sipbench.py SBC_SIP SBC_DB [--step S] [--users N] [--only sbc,kamailio,sbc-tmpfs]
                [--phases mem-reg,register,call,mem-dlg] [--reg-rates R,...]
                [--call-rates R,...] [--keep DIR]

Everything runs on loopback addresses of the host (no namespaces to clean up): the proxy under
test on 127.0.0.5:5060 pinned to core 1, the SIPp caller/phone (127.0.0.10:5070) and the SIPp
carrier UAS (127.0.0.20:5060) both on core 0, all at the same raised priority (perflab.spawn).
The phones look NAT'd to both proxies (private Via and Contact, see register.xml), so the NAT
fixups run on every request. Both proxies authenticate with MD5 digest against the same N users
(password "pw-U") and route every unknown number to the carrier. "sbc-tmpfs" is a diagnostic
variant: sbc-sip with its bindings database on /dev/shm, REGISTER phases only.

For each proxy, in this order (--phases picks some):
  mem-reg   memory per registration: N phones register once on a fresh process; sbc-sip's RSS
            delta / N, Kamailio's shared-memory "real_used" delta / N (usrloc lives there; its
            process RSS counts the same pages once per process);
  register  REGISTER/s ramp: for each rate, SIPp registers for S seconds (rate x S
            registrations, each REGISTER -> 401 -> REGISTER with credentials -> 200); a step
            passes when SIPp exits 0 (no failed "call"), its stat file shows 0 failures and the
            step ends within S + 2 seconds (the generator kept the rate). The ramp stops at the
            first failed step and tries once the rate half-way between the last pass and it;
  call      calls/s ramp, likewise, with short calls (INVITE -> 407 -> ACK, INVITE with
            credentials -> 100/180/200 -> ACK, 100 ms, BYE -> 200; ACK and BYE follow
            Record-Route);
  mem-dlg   memory per dialog on a fresh process: two batches of N calls held open, each read
            once its transactions are gone (see memory_dialogs).
Per step it prints the proxy's and SIPp's CPU time over the wall time (a proxy under 100 % of
its core at a failed step was stalled, not saturated), SIPp's retransmissions and the host's UDP
receive-buffer drops.
"""
import argparse
import hashlib
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
sys.path.insert(0, os.path.join(HERE, ".."))
import perflab  # noqa: E402
from perflab import children_cpu, group_pids, last_stats, tail  # noqa: E402

PROXY = "127.0.0.5"
UAC = "127.0.0.10"
UAC_PORT = 5070
CARRIER = "127.0.0.20"
DOMAIN = "sbc.local"
CALLEE = "15550000"  # no user owns it: default route to the carrier
PROXY_CORE, LOAD_CORE = 1, 0
KAM_CHILDREN = int(os.environ.get("SIPBENCH_KAM_CHILDREN", "4"))
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def log(*a):
    print(*a, flush=True)


def user(i):
    return "2%06d" % i


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def write_inputs(tmp, n):
    """SIPp injection file, sbc-sip policy seed and Kamailio's htable source, same users."""
    with open(os.path.join(tmp, "users.csv"), "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            f.write("%s;[authentication username=%s password=pw-%s];%s;%s\n"
                    % (user(i), user(i), user(i), DOMAIN, CALLEE))
    with open(os.path.join(tmp, "policy.sql"), "w") as f:
        # Keepalives off on both proxies (Kamailio: natping_interval 0); the per-source rate
        # limit raised, since every phone of the benchmark shares one source address.
        f.write("INSERT INTO settings (key, value) VALUES ('auth.realm', '%s'), "
                "('auth.algorithms', 'MD5'), ('nat.test_mask', '19'), "
                "('nat.keepalive_interval', '0'), ('registrar.max_expires', '3600'), "
                "('ratelimit.requests_per_second', '1000000'), ('ratelimit.burst', '1000000') "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n" % DOMAIN)
        f.write("INSERT INTO users (username, domain, realm, ha1_md5, ha1_sha256, note) VALUES\n")
        rows = []
        for i in range(n):
            a1 = "%s:%s:pw-%s" % (user(i), DOMAIN, user(i))
            rows.append("('%s', '%s', '%s', '%s', '%s', 'sipbench')"
                        % (user(i), DOMAIN, DOMAIN, md5(a1), sha256(a1)))
        f.write(",\n".join(rows) + ";\n")
        f.write("INSERT INTO trunks (name, address, port, transport, note) VALUES "
                "('carrier', '%s', 5060, 'udp', 'sipbench SIPp UAS');\n" % CARRIER)
        f.write("INSERT INTO routes (prefix, trunk, note) VALUES ('', 'carrier', 'default');\n")
    dbdir = os.path.join(tmp, "kamdb")
    os.mkdir(dbdir)
    with open(os.path.join(dbdir, "users"), "w") as f:
        f.write("key_name(str) key_type(int) value_type(int) key_value(str) expires(int)\n")
        for i in range(n):
            f.write("%s:0:0:%s:0\n" % (user(i), md5("%s:%s:pw-%s" % (user(i), DOMAIN, user(i)))))
    with open(os.path.join(dbdir, "version"), "w") as f:
        f.write("table_name(str) table_version(int)\nusers:2\n")


# --- proxies -------------------------------------------------------------------------------


class Proxy:
    name = "?"

    def __init__(self, tmp):
        self.tmp = tmp
        self.proc = None
        self.logpath = os.path.join(tmp, self.name + ".log")

    def cpu(self):
        """CPU seconds of every process of the proxy (Kamailio forks its workers)."""
        total = 0.0
        for pid in group_pids(self.proc.pid):
            try:
                total += sum(perflab.cpu_s(pid))
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc is not None:
            perflab.stop([self.proc])
            for pid in group_pids(self.proc.pid):  # workers that outlived their parent
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            self.proc = None


class SbcSip(Proxy):
    name = "sbc-sip"

    def __init__(self, tmp, binary, dbtool, regdir=None, name=None):
        if name:
            self.name = name
        super().__init__(tmp)
        self.binary = binary
        self.policy = os.path.join(tmp, "policy.db")
        self.regs = os.path.join(regdir or tmp, "registrations.db")
        self.ctl = os.path.join(tmp, self.name + ".ctl")
        if not os.path.exists(self.policy):
            subprocess.run([dbtool, "migrate", self.policy], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([dbtool, "load", self.policy, os.path.join(tmp, "policy.sql")],
                           check=True, stdout=subprocess.DEVNULL)
        self.cmd = ["taskset", "-c", str(PROXY_CORE), binary, "--listen", PROXY + ":5060",
                    "--policy", self.policy, "--registrations", self.regs, "--ctl", self.ctl,
                    "--log-level", "notice"]

    def start(self):
        for f in (self.regs, self.regs + "-wal", self.regs + "-shm", self.ctl):
            if os.path.exists(f):
                os.unlink(f)
        self.proc = perflab.spawn(self.cmd, stdout=open(self.logpath, "ab"),
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sbc-sip exited with %d:\n%s" % (self.proc.returncode,
                                                                    tail(self.logpath)))
            if os.path.exists(self.ctl):
                try:
                    self.query("stats")
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("sbc-sip: no control socket")

    def query(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.ctl)
        s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data)

    def memory_kb(self):
        return perflab.rss_kb(self.proc.pid)

    def memory_what(self):
        return "RSS"

    def counts(self):
        st = self.query("stats")
        st = st.get("result", st)
        return "dialogs %s, transactions %s" % (st.get("dialogs"), st.get("transactions"))


class Kamailio(Proxy):
    name = "kamailio"

    def __init__(self, tmp):
        super().__init__(tmp)
        self.ctl = os.path.join(tmp, "kamailio.ctl")
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            cfg = f.read()
        for k, v in (("LISTEN_ADDR", PROXY), ("CARRIER_ADDR", CARRIER),
                     ("CHILDREN", str(KAM_CHILDREN)), ("DBDIR", os.path.join(tmp, "kamdb")),
                     ("CTL_SOCKET", self.ctl)):
            cfg = cfg.replace(k, v)
        self.cfg = os.path.join(tmp, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.cmd = ["taskset", "-c", str(PROXY_CORE), "kamailio", "-f", self.cfg, "-DD", "-E",
                    "-m", "512", "-M", "16", "-Y", os.path.join(tmp, "kamrun"),
                    "-P", os.path.join(tmp, "kamailio.pid")]
        os.makedirs(os.path.join(tmp, "kamrun"), exist_ok=True)

    def start(self):
        self.proc = perflab.spawn(self.cmd, stdout=open(self.logpath, "ab"),
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kamailio exited with %d:\n%s" % (self.proc.returncode,
                                                                     tail(self.logpath)))
            if os.path.exists(self.ctl):
                try:
                    self.kamcmd("core.uptime")
                    return
                except subprocess.CalledProcessError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("kamailio: no ctl socket")

    def kamcmd(self, *args):
        return subprocess.run(["kamcmd", "-s", "unix:" + self.ctl] + list(args), check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def memory_kb(self):
        m = re.search(r"real_used:\s*(\d+)", self.kamcmd("core.shmmem"))
        return int(m.group(1)) // 1024

    def memory_what(self):
        return "shm real_used"

    def counts(self):
        out = self.kamcmd("stats.get_statistics", "all")
        get = {k: v for k, v in re.findall(r"(\S+) = (\d+)", out)}
        return "usrloc contacts %s, tm inuse %s" % (
            get.get("usrloc:location_contacts", "?"), get.get("tmx:inuse_transactions", "?"))


# --- SIPp ----------------------------------------------------------------------------------


def sipp_base(scenario, tmp, tag, port=UAC_PORT):
    return ["taskset", "-c", str(LOAD_CORE), "sipp", PROXY + ":5060", "-sf",
            os.path.join(HERE, scenario), "-i", UAC, "-p", str(port), "-nostdin",
            "-inf", os.path.join(tmp, "users.csv"), "-trace_stat", "-stf",
            os.path.join(tmp, tag + ".csv"), "-fd", "1", "-trace_err", "-error_file",
            os.path.join(tmp, tag + ".err")] + LENIENT


# A multi-process proxy (Kamailio's UDP workers) may forward a 180 after the 200 of the same
# INVITE; on UDP that is legal and a UA ignores it. SIPp's default aborts the call on any
# message the scenario does not expect at that point, so that behaviour is turned off: such
# messages are logged ("Continuing call on unexpected message", counted per step) and ignored.
# A genuinely wrong answer still fails the call: the scenario then retransmits until it gives up.
LENIENT = ["-default_behaviors", "all,-abortunexp"]


def unexpected(tmp, tag):
    try:
        with open(os.path.join(tmp, tag + ".err"), errors="replace") as f:
            return f.read().count("Continuing call on unexpected message")
    except OSError:
        return 0


UAS_PID = []  # the running SIPp UAS (its CPU time is read per step)


def start_uas(tmp):
    cmd = ["taskset", "-c", str(LOAD_CORE), "sipp", "-sf", os.path.join(HERE, "uas.xml"), "-i",
           CARRIER, "-p", "5060", "-nostdin", "-trace_err", "-error_file",
           os.path.join(tmp, "uas.err")] + LENIENT
    p = perflab.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if p.poll() is not None:
        raise RuntimeError("SIPp UAS exited with %d" % p.returncode)
    UAS_PID[:] = [p.pid]
    return p


def udp_rcvbuf_errors():
    """Datagrams the kernel dropped because a socket's receive buffer was full (whole host)."""
    with open("/proc/net/snmp") as f:
        rows = [ln.split() for ln in f if ln.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))["RcvbufErrors"])


def run_step(proxy, tmp, scenario, rate, seconds, tag, hold_ms=100):
    n = int(rate * seconds)
    cmd = sipp_base(scenario, tmp, tag) + ["-r", str(rate), "-m", str(n),
                                           "-l", str(max(100, rate * 3)), "-d", str(hold_ms),
                                           "-timeout", str(seconds + 40) + "s"]
    for f in (tag + ".csv", tag + ".err"):
        if os.path.exists(os.path.join(tmp, f)):
            os.unlink(os.path.join(tmp, f))
    cpu0 = proxy.cpu()
    drops0 = udp_rcvbuf_errors()
    uac0 = children_cpu()
    uas0 = sum(perflab.cpu_s(UAS_PID[0])) if UAS_PID else 0.0
    t0 = time.monotonic()
    p = perflab.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rc = p.wait(seconds + hold_ms / 1000.0 + 40)
    except subprocess.TimeoutExpired:  # SIPp's own -timeout did not always end it
        rc = -1
    finally:
        perflab.stop([p])
    wall = time.monotonic() - t0
    cpu = proxy.cpu() - cpu0
    drops = udp_rcvbuf_errors() - drops0
    sipp_cpu = children_cpu() - uac0 + ((sum(perflab.cpu_s(UAS_PID[0])) - uas0)
                                         if UAS_PID else 0.0)
    mem = proxy.memory_kb()
    st = last_stats(os.path.join(tmp, tag + ".csv"))
    ok_calls = int(st.get("SuccessfulCall(C)", 0) or 0)
    failed = int(st.get("FailedCall(C)", 0) or 0)
    retrans = int(st.get("Retransmissions(C)", 0) or 0)
    limit = seconds + 2 + hold_ms / 1000.0
    passed = rc == 0 and failed == 0 and ok_calls == n and wall <= limit
    why = []
    if rc != 0:
        why.append("sipp exit %d" % rc)
    if failed or ok_calls != n:
        why.append("%d of %d ok, %d failed" % (ok_calls, n, failed))
    if wall > limit:
        why.append("took %.1f s > %.1f s (rate not kept)" % (wall, limit))
    late = unexpected(tmp, tag)
    log("  %-9s %6d/s x %gs: %-4s  wall %5.1f s, CPU proxy %3.0f %% SIPp %3.0f %%, %s %d kB, "
        "SIPp retransmissions %d, UDP rcvbuf drops %d, ignored out-of-order messages %d%s"
        % (proxy.name, rate, seconds, "PASS" if passed else "FAIL", wall,
           100.0 * cpu / wall, 100.0 * sipp_cpu / wall, proxy.memory_what(), mem, retrans,
           drops, late, ("  (" + "; ".join(why) + ")") if why else ""))
    if not passed:
        err = os.path.join(tmp, tag + ".err")
        if os.path.exists(err):
            log("    SIPp errors (last lines):\n" + "".join("      " + ln
                                                       for ln in tail(err, 8).splitlines(True)))
    return passed, {"rate": rate, "passed": passed, "wall": wall, "cpu": cpu / wall,
                    "retrans": retrans, "out_of_order": late, "mem_kb": mem,
                    "sipp_cpu": sipp_cpu / wall, "udp_drops": drops}


def ramp(proxy, tmp, scenario, rates, seconds, what):
    log("%s, %s ramp (%d s per step):" % (proxy.name, what, seconds))
    best, fail, steps = 0, None, []
    for r in rates:
        ok, s = run_step(proxy, tmp, scenario, r, seconds, "%s-%s-%d" % (proxy.name, what, r))
        steps.append(s)
        time.sleep(2)
        if not ok:
            fail = r
            break
        best = r
    if fail is not None and best > 0 and fail - best > best // 10:
        mid = (best + fail) // 2
        ok, s = run_step(proxy, tmp, scenario, mid, seconds, "%s-%s-%d" % (proxy.name, what, mid))
        steps.append(s)
        time.sleep(2)
        if ok:
            best = mid
    log("  => %s: highest %s rate with 0 failures: %d/s" % (proxy.name, what, best))
    return best, steps


# sbc-sip keeps a non-INVITE server transaction for Timer J (64 * T1 = 32 s, RFC 3261 §17.2.2)
# and an INVITE one for 32 s after its 2xx (RFC 6026): memory is read once they are all gone.
SETTLE_S = int(os.environ.get("SIPBENCH_SETTLE", "34"))


def memory_registrations(proxy, tmp, n):
    m0 = proxy.memory_kb()
    rate = 1000
    ok, _ = run_step(proxy, tmp, "register.xml", rate, n / rate, proxy.name + "-mem-reg")
    time.sleep(SETTLE_S)
    m1 = proxy.memory_kb()
    per = (m1 - m0) * 1024.0 / n
    log("  %s: %s %d kB -> %d kB with %d registrations: %.0f bytes per registration (%s)"
        % (proxy.name, proxy.memory_what(), m0, m1, n, per, proxy.counts()))
    return {"before_kb": m0, "after_kb": m1, "per_bytes": per, "ok": ok}


def memory_dialogs(proxy, tmp, n):
    """Two batches of n calls held open, each measured once its transactions are gone (RFC 6026
    keeps an INVITE server transaction 32 s after its 2xx). The first batch's growth includes
    the peak of its transactions, which the allocator keeps after they are freed; the second
    batch reuses that memory for its own transactions, so its growth is the dialogs' alone."""
    rate = 500
    setup = n / rate
    wait = setup + SETTLE_S + 2
    procs = []
    try:
        return dialogs_measured(proxy, tmp, n, rate, setup, wait, procs)
    finally:
        perflab.stop([p for _, p in procs])


def dialogs_measured(proxy, tmp, n, rate, setup, wait, procs):
    marks = [proxy.memory_kb()]
    counts = []
    for b in range(2):
        # The first batch must outlive the second one's measurement.
        hold_ms = int((2 * wait + 20 - b * wait) * 1000)
        tag = "%s-mem-dlg%d" % (proxy.name, b + 1)
        cmd = sipp_base("call.xml", tmp, tag, port=UAC_PORT + 1 + b) + [
            "-r", str(rate), "-m", str(n), "-l", str(n + 10), "-d", str(hold_ms),
            "-timeout", str(int(hold_ms / 1000 + setup + 60)) + "s"]
        procs.append((tag, perflab.spawn(cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)))
        time.sleep(wait)
        marks.append(proxy.memory_kb())
        counts.append(proxy.counts())
    rcs = []
    for tag, p in procs:
        try:
            rc = p.wait(200)
        except subprocess.TimeoutExpired:
            perflab.stop([p])
            rc = -1
        st = last_stats(os.path.join(tmp, tag + ".csv"))
        rcs.append("%s: exit %d, %s ok, %s failed" % (tag, rc, st.get("SuccessfulCall(C)"),
                                                       st.get("FailedCall(C)")))
    first = (marks[1] - marks[0]) * 1024.0 / n
    second = (marks[2] - marks[1]) * 1024.0 / n
    log("  %s: %s %d kB -> %d kB with %d open calls (%s) -> %d kB with %d (%s): %.0f bytes per "
        "dialog for the first batch (with the transactions' peak), %.0f for the second; %s"
        % (proxy.name, proxy.memory_what(), marks[0], marks[1], n, counts[0], marks[2], 2 * n,
           counts[1], first, second, "; ".join(rcs)))
    time.sleep(2)
    return {"marks_kb": marks, "first_bytes": first, "per_bytes": second, "sipp": rcs}


def bench(proxy, tmp, args):
    res = {}
    proxy.start()
    uas = start_uas(tmp)
    try:
        log("%s: memory" % proxy.name)
        ph = args.phases
        if "mem-reg" in ph:
            res["mem_reg"] = memory_registrations(proxy, tmp, args.users)
        if "register" in ph:
            res["register"] = ramp(proxy, tmp, "register.xml", args.reg_rates, args.step,
                                   "register")
        if getattr(proxy, "register_only", False):
            return res
        if "call" in ph:
            res["call"] = ramp(proxy, tmp, "call.xml", args.call_rates, args.step, "call")
        if "mem-dlg" in ph:
            # A fresh process: the ramp's peak (transactions kept 32 s, freed since) stays in
            # the RSS of the old one and would hide the dialogs' own memory.
            proxy.stop()
            proxy.start()
            res["mem_dlg"] = memory_dialogs(proxy, tmp, args.users)
    finally:
        perflab.stop([uas])
        UAS_PID[:] = []
        proxy.stop()
    return res


def rates(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sbc_sip")
    ap.add_argument("sbc_db")
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--only", default="sbc,kamailio,sbc-tmpfs")
    ap.add_argument("--reg-rates", type=rates,
                    default=rates("500,1000,1500,2000,3000,4000,6000,8000,12000,16000"))
    ap.add_argument("--call-rates", type=rates,
                    default=rates("250,500,1000,1500,2000,2500,3000,4000,6000"))
    ap.add_argument("--phases", default="mem-reg,register,call,mem-dlg",
                    help="which measurements, in this order: mem-reg,register,call,mem-dlg")
    ap.add_argument("--keep", help="keep logs and SIPp files in this directory")
    args = ap.parse_args()
    try:
        perflab.need_root(["sipp", "kamailio", "kamcmd", "taskset"])
    except perflab.Skip as e:
        log("SKIP: %s" % e)
        return 77
    def on_signal(signum, frame):
        raise SystemExit("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)  # so that the finally below stops every process
    tmp = args.keep or tempfile.mkdtemp(prefix="sipbench-")
    os.makedirs(tmp, exist_ok=True)
    proxies = []
    cleanup_dirs = []
    try:
        write_inputs(tmp, args.users)
        only = args.only.split(",")
        if "sbc" in only:
            proxies.append(SbcSip(tmp, os.path.abspath(args.sbc_sip), os.path.abspath(args.sbc_db)))
        if "kamailio" in only:
            proxies.append(Kamailio(tmp))
        if "sbc-tmpfs" in only:
            # Diagnosis, not the comparison: the same sbc-sip with its bindings database on
            # tmpfs, REGISTER only, to show what the database's disk writes cost.
            shm = tempfile.mkdtemp(prefix="sipbench-", dir="/dev/shm")
            cleanup_dirs.append(shm)
            v = SbcSip(tmp, os.path.abspath(args.sbc_sip), os.path.abspath(args.sbc_db),
                       regdir=shm, name="sbc-tmpfs")
            v.register_only = True
            proxies.append(v)
        log("sipbench: %d users, steps of %d s; proxy on core %d, SIPp UAC+UAS on core %d, "
            "nice %d; kamailio children=%d" % (args.users, args.step, PROXY_CORE, LOAD_CORE,
                                               perflab.NICE, KAM_CHILDREN))
        results = {}
        for p in proxies:
            results[p.name] = bench(p, tmp, args)
        log("\nsummary (highest rate with 0 failed calls, memory):")
        for name, r in results.items():
            parts = []
            if "register" in r:
                parts.append("REGISTER/s %6d" % r["register"][0])
            if "call" in r:
                parts.append("calls/s %6d" % r["call"][0])
            if "mem_reg" in r:
                parts.append("%.0f B/registration" % r["mem_reg"]["per_bytes"])
            if "mem_dlg" in r:
                parts.append("%.0f B/dialog" % r["mem_dlg"]["per_bytes"])
            log("  %-9s %s" % (name, "  ".join(parts)))
        with open(os.path.join(tmp, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        return 0
    except Exception as e:  # noqa: BLE001  (report, clean up, fail)
        log("ERROR: %s" % e)
        for p in proxies:
            log("--- %s log tail:\n%s" % (p.name, tail(p.logpath)))
        return 1
    finally:
        for p in proxies:
            p.stop()
        for d in cleanup_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
