"""perflab: what the benchmarks in tests/perf share on top of the NAT lab (tests/natlab/run.py):
starting sbc-dataplane and rtpengine with benchmark options, an ng client whose socket lives in
a lab namespace, and clean-up of everything on every exit.
"""
import ctypes
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "natlab"))
import run as lab  # noqa: E402  (namespaces, veths, control socket)
import ng as ngcodec  # noqa: E402  (bencode)

MEDIA = lab.MEDIA            # sbc-dataplane's address (af_packet on dp0, no kernel address)
RTPENGINE = "203.0.113.6"    # rtpengine's kernel address on sip0 in the same namespace
SBC_NG = lab.NG
RTPENGINE_NG = "127.0.0.1:2224"
CLONE_NEWNET = 0x40000000
# The machine is shared (compilers of other work run beside the benchmarks): the relays and the
# load generator run at the highest normal priority, both relays alike. With autogroup
# scheduling (kernel.sched_autogroup_enabled) a nice value only counts inside its session, so
# each of them gets a session of its own (setsid) and that session's nice (/proc/PID/autogroup).
# Not a real-time class: a polling DPDK worker at SCHED_FIFO would starve the kernel's network
# threads.
NICE = int(os.environ.get("PERF_NICE", "-19"))


def spawn(cmd, **kw):
    """Popen in a new session whose autogroup gets NICE."""
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    try:
        with open("/proc/%d/autogroup" % p.pid, "w") as f:
            f.write(str(NICE))
    except OSError:
        pass
    return p


class Skip(Exception):
    pass


def need_root(tools):
    if os.geteuid() != 0:
        raise Skip("needs root (namespaces, DPDK)")
    for t in tools:
        if not any(os.access(os.path.join(d, t), os.X_OK)
                   for d in os.environ.get("PATH", "/usr/bin").split(":")):
            raise Skip("%s missing" % t)


def socket_in(ns):
    """A UDP socket created inside network namespace ns (the caller's namespace is restored)."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + lab.NS[ns], os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns")
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            libc.setns(own, CLONE_NEWNET)
    finally:
        os.close(own)
        os.close(target)


class Ng:
    """ng client (cookie SP bencode) in the dataplane's namespace; pipelining with send/recv."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.sock = socket_in("dp")
        self.sock.settimeout(5)
        self.n = 0

    def send(self, obj):
        self.n += 1
        cookie = b"%d_%d" % (os.getpid(), self.n)
        self.sock.sendto(cookie + b" " + ngcodec.bencode(obj), self.addr)
        return cookie

    def recv(self):
        data = self.sock.recv(65535)
        cookie, body = data.split(b" ", 1)
        return cookie, ngcodec.bdecode(body)[0]

    def request(self, obj):
        for _ in range(3):
            cookie = self.send(obj)
            try:
                while True:
                    c, r = self.recv()
                    if c == cookie:
                        return r
            except socket.timeout:
                continue
        raise RuntimeError("no ng reply from %s:%d" % self.addr)


def sdp(addr, port, sess):
    return ("v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
            % (sess, addr, addr, port))


def media_port(reply):
    if reply.get("result") != "ok":
        raise RuntimeError("ng error: %s" % reply.get("error-reason"))
    return int(re.search(r"m=audio (\d+) ", reply["sdp"]).group(1))


def wait_ng(ng, proc, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (what, proc.returncode))
        ng.sock.settimeout(0.3)
        try:
            ng.send({"command": "ping"})
            if ng.recv()[1].get("result") == "pong":
                ng.sock.settimeout(5)
                return
        except socket.timeout:
            pass
    raise RuntimeError("%s does not answer ng ping" % what)


# The af_packet port's rings (DPDK's default is 512 frames): 4096 frames of 2 KB take 27 ms of
# media at 150 k pps, so a worker preempted for a few ms by another task on its core (this
# machine has two) finds the packets waiting instead of dropped by the kernel. qdisc_bypass: the
# veth has no queue to bypass, but the flag skips the qdisc lookup per transmitted frame.
# PERF_AF_PACKET in the environment replaces it (experiments; "" = DPDK's defaults).
AF_PACKET_ARGS = ",framecnt=4096,qdisc_bypass=1"


def start_dataplane(binary, log, ports, extra=(), worker_core=1):
    """sbc-dataplane on dp0 (af_packet): one worker on worker_core (0 or 1), control on the
    other core. PERF_DP_EXTRA in the environment adds options (experiments)."""
    extra = list(extra) + os.environ.get("PERF_DP_EXTRA", "").split()
    devargs = os.environ.get("PERF_AF_PACKET", AF_PACKET_ARGS)
    eal = ["-l", "0,1", "--main-lcore", str(1 - worker_core), "--no-huge", "-m", "512",
           "--no-pci", "--file-prefix=" + lab.PREFIX, "--vdev=net_af_packet0,iface=dp0" + devargs,
           "--log-level=lib.eal:error"]
    opts = ["--media-addr", MEDIA + "/24", "--ports", ports, "--ng-listen", SBC_NG,
            "--control-socket", lab.CTL, "--media-timeout", "0", "--log-level", "notice"]
    proc = spawn(["ip", "netns", "exec", lab.NS["dp"], "nice", "-n", str(NICE), binary] + eal +
                 ["--"] + opts + list(extra), stdout=log, stderr=subprocess.STDOUT)
    ng = Ng(SBC_NG)
    wait_ng(ng, proc, "sbc-dataplane")
    return proc, ng


def add_rtpengine_interface():
    lab.veth("dp", "sip0", "wan", "p5")
    lab.sh("ip", "link", "set", "p5", "master", "br0", ns="wan")
    lab.sh("ip", "addr", "add", RTPENGINE + "/24", "dev", "sip0", ns="dp")


def start_rtpengine(log, core):
    """rtpengine 10.5 in userspace, every thread pinned to one core."""
    cmd = ["ip", "netns", "exec", lab.NS["dp"], "nice", "-n", str(NICE), "taskset", "-c", str(core),
           "rtpengine",
           "--config-file=none", "--table=-1", "--interface=" + RTPENGINE,
           "--listen-ng=" + RTPENGINE_NG, "--foreground", "--log-stderr", "--log-level=4",
           "--num-threads=1", "--delete-delay=0", "--port-min=30000", "--port-max=39999"]
    proc = spawn(cmd, stdout=log, stderr=subprocess.STDOUT)
    ng = Ng(RTPENGINE_NG)
    wait_ng(ng, proc, "rtpengine")
    return proc, ng


def stop(procs):
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def stray_dataplanes():
    """Ids of this run's dataplanes still alive (a start-up that failed before returning one)."""
    flag = ("--file-prefix=" + lab.PREFIX).encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if flag in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def cleanup(procs):
    stop(procs)
    lab.cleanup(None, None)
    for pid in stray_dataplanes():
        os.kill(pid, signal.SIGKILL)


class IsolatedCore:
    """Keeps every other task of the machine off `core` while the benchmark runs, as `isolcpus`
    does for a relay's worker core in production: each thread that may run on `core` and on
    other cores loses `core` from its CPU affinity, and gets its old affinity back on exit (tasks
    they start meanwhile inherit the narrower set). This process, and so the relays and load
    generators it starts, keeps both cores; threads pinned to one CPU (per-CPU kernel threads)
    are left alone. Both relays run on the isolated core alike."""

    def __init__(self, core):
        self.core = core
        self.saved = {}

    def __enter__(self):
        me = os.getpid()
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == me:
                continue
            try:
                tids = [int(t) for t in os.listdir("/proc/%s/task" % d)]
            except OSError:
                continue
            for tid in tids:
                try:
                    aff = os.sched_getaffinity(tid)
                    if self.core in aff and len(aff) > 1:
                        os.sched_setaffinity(tid, aff - {self.core})
                        self.saved[tid] = aff
                except OSError:
                    pass  # gone, or a kernel thread that keeps its CPUs
        return self

    def __exit__(self, *exc):
        for tid, aff in self.saved.items():
            try:
                os.sched_setaffinity(tid, aff)
            except OSError:
                pass
        self.saved = {}
        return False


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid, tid=None):
    """(user, system) CPU seconds of a process (or one of its threads)."""
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / hz, int(fields[12]) / hz


# --- what the SIP benchmarks (sipbench, mediabench) share ------------------------------------


def group_pids(pgid):
    """The processes of session pgid (a daemon started by spawn() and its forks)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def tail(path, n=30):
    """The last n lines of a log file ("" when it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def last_stats(path):
    """The last line of a SIPp -trace_stat file as a dict."""
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    return dict(zip(lines[0].split(";"), lines[-1].split(";")))


def children_cpu():
    """CPU seconds of this process's waited-for children (the SIPp runs)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime
