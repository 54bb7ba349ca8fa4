#!/usr/bin/env python3
"""NAT lab for sbc-sip with SIPp (meson suite "natlab"; needs root, exits 77 otherwise).

    run.py [--mode sbc|kamailio|direct] [--only NAME,...] SBC_SIP SBC_DB

Network namespaces (names unique per run), one bridged public segment 203.0.113.0/24:

    ua (phone 192.168.1.10) -- nat (192.168.1.1 | 203.0.113.1, MASQUERADE --random-fully) --+
    sbc (the proxy on 203.0.113.5:5060) ----------------------------------------------------+- wan
    carrier (SIPp UAS/UAC on 203.0.113.20, a trunk in the policy) --------------------------+

Modes:
  sbc       (default, what meson runs) sbc-sip with a policy made by sbc-db; skips (77) while
            `sbc-sip --help` has no --listen.
  kamailio  the same checks through Kamailio 5.6 with WITH_NAT handling (kamailio.cfg here):
            validates the lab and the scenarios against a proxy known to work. Checks that
            need sbc-sip's control socket are skipped.
  direct    no proxy: NAT remapping probe, policy database, and the scenarios run UA <-> carrier
            directly (a SIPp registrar with verifyauth stands in for the registrar, the carrier
            reaches the phone at the NAT mapping learnt by a probe).

Checks, in order (--only picks some): nat-remaps-ports (UDP probe: the source port changes),
register-digest (401 then 200; the binding keeps the NAT path), call-out-* / call-in-* (phone ->
carrier and carrier -> phone through the phone's NAT binding, BYE from either side; in-dialog
requests must carry the Route to the proxy; no dialog left afterwards), cancel-before-answer*,
busy-486*, reinvite*, phone-to-phone, fork-to-two-phones (one answers, the other is CANCELled),
tcp-call-out, tcp-call-in-on-connection (a phone registered over TCP is called on its own
connection), keepalive-options, keepalive-after-reload, registrations-survive-restart,
unregister, malformed-requests (400 or silence, then a call still works),
ban-password-guesser. Each check prints "PASS: name" or "FAIL: name: why" followed by the SIPp
error/message logs and the proxy's log tail; --known-failures turns listed failures into XFAIL. Namespaces, processes and temporary files are removed on every exit,
including failures and SIGTERM/SIGINT/SIGHUP. Exit status: 0 all passed, 1 a check failed,
77 skipped.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.join(HERE, "scenarios")
TAG = "sl%d" % (os.getpid() % 100000)
NS = {n: "%s-%s" % (TAG, n) for n in ("ua", "nat", "wan", "sbc", "carrier")}

UA = "192.168.1.10"
NAT_IN = "192.168.1.1"
NAT_PUB = "203.0.113.1"
SBC = "203.0.113.5"
CARRIER = "203.0.113.20"
DOMAIN = "sbc.local"
USER = "1001"
PASSWORD = "pw-1001"  # kamailio.cfg's rule: user U has password pw-U
# The phone registers from, and answers calls on, one socket (so the NAT binding the registrar
# saw is the one calls come back through); it places calls from another.
UA_REG_PORT = 5060
UA_CALL_PORT = 5062
UA_RAW_PORT = 5064
CARRIER_UAS_PORT = 5060
CARRIER_UAC_PORT = 5070
OUT_NUMBER = "15551234"
# A second user, with two phones for forking.
USER2 = "1002"
PHONE2_PORTS = (5066, 5068)
# A password guesser is banned after BAN_THRESHOLD failed authentications, for BAN_SECONDS.
BAN_THRESHOLD = 3
BAN_SECONDS = 4


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def sh(*args, ns=None, check=True, capture=False, timeout=30, input_data=None):
    cmd = (["ip", "netns", "exec", NS[ns]] if ns else []) + list(args)
    r = subprocess.run(cmd, check=False, timeout=timeout, input=input_data,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace").strip()))
    return r.stdout.decode(errors="replace") if capture else r.returncode


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()[-n:]
    except OSError:
        return ""
    return "".join("#   %s\n" % line for line in lines)


class Lab:
    """Namespaces, processes and files of one run; cleanup() undoes all of it."""

    def __init__(self, mode, sbc_sip, sbc_db):
        self.mode = mode
        self.sbc_sip = sbc_sip
        self.sbc_db = sbc_db
        self.tmp = tempfile.mkdtemp(prefix="natlab-sip-%s-" % TAG)
        self.procs = []
        self.made_ns = []
        self.proxy = None
        self.seq = 0
        self.failed = []
        self.passed = []
        self.known = set()
        self.ran = set()

    # -- topology ---------------------------------------------------------------------------
    def veth(self, ns_a, if_a, ns_b, if_b):
        sh("ip", "link", "add", if_a, "netns", NS[ns_a], "type", "veth", "peer", "name", if_b,
           "netns", NS[ns_b])
        for ns, ifn in ((ns_a, if_a), (ns_b, if_b)):
            sh("ip", "link", "set", ifn, "up", ns=ns)

    def setup(self):
        for n in NS.values():
            sh("ip", "netns", "add", n)
            self.made_ns.append(n)
        for ns in NS:
            sh("ip", "link", "set", "lo", "up", ns=ns)
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns, check=False)
        sh("ip", "link", "add", "br0", "type", "bridge", ns="wan")
        sh("ip", "link", "set", "br0", "up", ns="wan")
        self.veth("ua", "eth0", "nat", "in0")
        self.veth("nat", "out0", "wan", "p1")
        self.veth("sbc", "eth0", "wan", "p2")
        self.veth("carrier", "eth0", "wan", "p3")
        for p in ("p1", "p2", "p3"):
            sh("ip", "link", "set", p, "master", "br0", ns="wan")
        sh("ip", "addr", "add", UA + "/24", "dev", "eth0", ns="ua")
        sh("ip", "route", "add", "default", "via", NAT_IN, ns="ua")
        sh("ip", "addr", "add", NAT_IN + "/24", "dev", "in0", ns="nat")
        sh("ip", "addr", "add", NAT_PUB + "/24", "dev", "out0", ns="nat")
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns="nat")
        # A consumer router: every new flow gets a random public port (TESTING-NOTES.md), so a
        # proxy that answers the Via port or calls the Contact address never reaches the phone.
        sh("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-j", "MASQUERADE",
           "--random-fully", ns="nat")
        sh("ip", "addr", "add", SBC + "/24", "dev", "eth0", ns="sbc")
        sh("ip", "addr", "add", CARRIER + "/24", "dev", "eth0", ns="carrier")

    def spawn(self, ns, args, log, cwd=None):
        f = open(log, "a")
        p = subprocess.Popen(["ip", "netns", "exec", NS[ns]] + args, stdout=f,
                             stderr=subprocess.STDOUT, cwd=cwd or self.tmp,
                             start_new_session=True)
        f.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=5):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def cleanup(self):
        for p in list(reversed(self.procs)):
            try:
                self.stop(p, wait=3)
            except (OSError, subprocess.SubprocessError):
                pass
        for n in self.made_ns:
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- probes -----------------------------------------------------------------------------
    def udp_mapping(self, src_port, dst_ip, dst_port):
        """The public address:port a datagram from the phone's src_port to dst_ip:dst_port
        arrives from (a listener in the namespace that owns dst_ip reports it)."""
        dst_ns = "carrier" if dst_ip == CARRIER else "sbc"
        listener = subprocess.Popen(
            ["ip", "netns", "exec", NS[dst_ns], sys.executable, "-c",
             "import socket,sys\n"
             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
             "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
             "s.bind((sys.argv[1],int(sys.argv[2])))\ns.settimeout(10)\n"
             "d,a=s.recvfrom(2048)\ns.sendto(b'pong',a)\nprint('%s:%d'%a)\n",
             dst_ip, str(dst_port)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        sh(sys.executable, "-c",
           "import socket,sys\n"
           "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
           "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
           "s.bind((sys.argv[1],int(sys.argv[2])))\ns.settimeout(0.5)\n"
           "for i in range(16):\n"
           "  s.sendto(b'ping',(sys.argv[3],int(sys.argv[4])))\n"
           "  try:\n    s.recvfrom(64)\n    break\n"
           "  except socket.timeout:\n    pass\n"
           "else:\n  sys.exit('no pong from the listener')\n",
           UA, str(src_port), dst_ip, str(dst_port), ns="ua")
        out, _ = listener.communicate(timeout=10)
        host, port = out.strip().rsplit(":", 1)
        return host, int(port)

    def raw(self, data, wait=1.5):
        """Sends one datagram from the phone to the proxy; the first reply line or None."""
        out = sh(sys.executable, "-c",
                 "import socket,sys\n"
                 "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                 "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                 "s.bind((sys.argv[1],int(sys.argv[2])))\ns.settimeout(float(sys.argv[5]))\n"
                 "s.sendto(sys.stdin.buffer.read(),(sys.argv[3],int(sys.argv[4])))\n"
                 "try:\n  d,a=s.recvfrom(65535)\n"
                 "  print(d.split(b'\\r\\n')[0].decode('latin-1'))\n"
                 "except socket.timeout:\n  pass\n",
                 UA, str(UA_RAW_PORT), SBC, "5060", str(wait), ns="ua", capture=True,
                 input_data=data)
        return out.strip() or None

    # -- SIPp -------------------------------------------------------------------------------
    def sipp(self, ns, scenario, ip, port, remote=None, keys=None, extra=(), timeout=20,
             mport=6000, hold=300):
        self.seq += 1
        base = os.path.join(self.tmp, "%02d-%s-%s" % (self.seq, ns, scenario[:-4]))
        args = ["sipp", "-sf", os.path.join(SCEN, scenario), "-i", ip, "-p", str(port),
                "-mi", ip, "-mp", str(mport), "-m", "1", "-l", "1", "-nostdin",
                "-timeout", "%ds" % timeout, "-timeout_error", "-trace_err", "-error_file",
                base + ".err", "-trace_msg", "-message_file", base + ".msg", "-d", str(hold)]
        for k, v in (keys or {}).items():
            args += ["-key", k, v]
        args += list(extra)
        if remote:
            args.append(remote)
        p = self.spawn(ns, args, base + ".out")
        p.base = base
        p.what = "%s in %s" % (scenario, ns)
        return p

    def wait_sipp(self, *ps, timeout=40):
        """Waits for the SIPp processes; returns the failures as text ('' if all passed)."""
        deadline = time.monotonic() + timeout
        why = []
        for p in ps:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stop(p)
                why.append("%s: still running after %ds" % (p.what, timeout))
                continue
            if p in self.procs:
                self.procs.remove(p)
            if p.returncode != 0:
                why.append("%s: exit status %d" % (p.what, p.returncode))
        if why:
            for p in ps:
                why.append("  %s errors:\n%s  %s messages (last lines):\n%s" % (
                    p.what, tail(p.base + ".err", 15), p.what, tail(p.base + ".msg", 40)))
        return "\n".join(why)

    def remote(self):
        return "%s:5060" % (CARRIER if self.mode == "direct" else SBC)

    def register(self, port=UA_REG_PORT, expires="600", user=USER):
        password = "pw-" + user
        if self.mode == "direct":
            reg = self.sipp("sbc", "registrar.xml", SBC, 5060,
                            keys={"user": user, "password": password}, mport=6200)
            time.sleep(0.3)
        ua = self.sipp("ua", "register.xml", UA, port, SBC + ":5060",
                       keys={"user": user, "domain": DOMAIN, "expires": expires},
                       extra=["-au", user, "-ap", password], mport=6300)
        err = self.wait_sipp(*([ua, reg] if self.mode == "direct" else [ua]))
        if err:
            raise Fail("REGISTER with digest authentication failed\n" + err)

    # -- checks -----------------------------------------------------------------------------
    def check(self, name, fn):
        print("# --- %s" % name, flush=True)
        self.ran.add(name)
        try:
            note = fn()
        except Skip as e:
            print("SKIP: %s: %s" % (name, e), flush=True)
            return
        except (Fail, AssertionError, RuntimeError, OSError, ValueError, KeyError,
                subprocess.SubprocessError) as e:
            known = name in self.known
            if not known:
                self.failed.append(name)
            print("%s: %s: %s" % ("XFAIL" if known else "FAIL", name, e), flush=True)
            if self.proxy:
                print("# proxy log (last lines):\n" + self.proxy.log_tail(), flush=True)
            return
        self.passed.append(name)
        print("%s: %s%s" % ("XPASS" if name in self.known else "PASS", name,
                            (" (%s)" % note) if note else ""), flush=True)

    def outbound(self, uac, uas, what):
        """The phone behind the NAT calls the carrier through the proxy."""
        callee = self.sipp("carrier", uas, CARRIER, CARRIER_UAS_PORT,
                           keys={"user": "carrier"}, mport=6000)
        time.sleep(0.4)
        caller = self.sipp("ua", uac, UA, UA_CALL_PORT, self.remote(),
                           keys={"user": USER, "domain": DOMAIN},
                           extra=["-s", OUT_NUMBER, "-au", USER, "-ap", PASSWORD], mport=6100)
        err = self.wait_sipp(caller, callee)
        if err:
            raise Fail(what + "\n" + err)
        self.routed(caller, callee)
        self.no_dialogs_left(what)

    def no_dialogs_left(self, what):
        """Every call has ended (BYE, CANCEL or a failure response): the proxy's dialog table
        must empty itself within a few seconds, or dialogs leak."""
        if not (self.proxy and self.proxy.has_ctl):
            return
        deadline = time.monotonic() + 6
        while True:
            left = self.proxy.ctl("dialogs").get("dialogs")
            if not left:
                return
            if time.monotonic() > deadline:
                raise Fail("%s: %d dialog(s) still in the proxy 6 s after the call ended: %s"
                           % (what, len(left), json.dumps(left)[:600]))
            time.sleep(0.3)

    def routed(self, *ps):
        """In-dialog requests (BYE, re-INVITE) must carry the Record-Route set back to the proxy
        as a Route header. SIPp sends every request to the socket it talks to, so a proxy that
        does not record-route would still see them; the Route header shows it did."""
        if self.mode == "direct":
            return
        for p in ps:
            for req in sent_requests(p.base + ".msg"):
                first = req[0].split(" ")[0]
                has_tag = any(h.lower().startswith("to:") and ";tag=" in h for h in req)
                if first in ("BYE", "INVITE") and has_tag:
                    if not any(h.lower().startswith("route:") and SBC in h for h in req):
                        raise Fail("%s sent an in-dialog %s without a Route to the proxy "
                                   "(no Record-Route from it?):\n%s" % (
                                       p.what, first, "".join("#   %s\n" % h for h in req)))

    def inbound(self, uac, uas, what, register=True):
        """The carrier calls the registered phone; the INVITE must come through the phone's NAT
        binding to its registration socket."""
        if register:
            self.register()
        remote = self.remote()
        if self.mode == "direct":
            # No registrar to remember the binding: learn it the way a registrar would, from a
            # datagram of the phone's registration socket to the carrier's calling socket.
            host, port = self.udp_mapping(UA_REG_PORT, CARRIER, CARRIER_UAC_PORT)
            remote = "%s:%d" % (host, port)
        callee = self.sipp("ua", uas, UA, UA_REG_PORT, keys={"user": USER}, mport=6000)
        time.sleep(0.4)
        caller = self.sipp("carrier", uac, CARRIER, CARRIER_UAC_PORT, remote,
                           keys={"user": "carrier", "domain": DOMAIN}, extra=["-s", USER],
                           mport=6100)
        err = self.wait_sipp(caller, callee)
        if err:
            raise Fail(what + "\n" + err)
        self.routed(caller, callee)
        self.no_dialogs_left(what)

    def c_phone_to_phone(self):
        """1001 calls 1002, both behind the NAT: a local user reached through its binding."""
        if self.mode == "direct":
            raise Skip("needs a registrar")
        self.register(port=PHONE2_PORTS[0], user=USER2)
        try:
            callee = self.sipp("ua", "uas_answer.xml", UA, PHONE2_PORTS[0],
                               keys={"user": USER2}, mport=6400)
            time.sleep(0.4)
            caller = self.sipp("ua", "uac_call.xml", UA, UA_CALL_PORT, self.remote(),
                               keys={"user": USER, "domain": DOMAIN},
                               extra=["-s", USER2, "-au", USER, "-ap", PASSWORD], mport=6100)
            err = self.wait_sipp(caller, callee)
            if err:
                raise Fail("phone 1001 -> phone 1002 through the proxy\n" + err)
            self.routed(caller, callee)
            self.no_dialogs_left("phone to phone")
        finally:
            self.register(port=PHONE2_PORTS[0], user=USER2, expires="0")

    def c_fork(self):
        """1002 registered from two phones: the INVITE forks to both; the first to answer gets
        the call and the proxy CANCELs the other (RFC 3261 16.7 step 10)."""
        if self.mode == "direct":
            raise Skip("needs a registrar")
        for port in PHONE2_PORTS:
            self.register(port=port, user=USER2)
        try:
            if self.proxy.has_ctl:
                n = [r for r in self.proxy.registrations()
                     if str(r.get("aor", "")).startswith(USER2 + "@")]
                if len(n) != 2:
                    raise Fail("expected two bindings for %s, got %s" % (USER2, n))
            answers = self.sipp("ua", "uas_answer.xml", UA, PHONE2_PORTS[0],
                                keys={"user": USER2}, mport=6400)
            rings = self.sipp("ua", "uas_cancel.xml", UA, PHONE2_PORTS[1],
                              keys={"user": USER2}, mport=6500)
            time.sleep(0.4)
            caller = self.sipp("ua", "uac_call.xml", UA, UA_CALL_PORT, self.remote(),
                               keys={"user": USER, "domain": DOMAIN},
                               extra=["-s", USER2, "-au", USER, "-ap", PASSWORD], mport=6100)
            err = self.wait_sipp(caller, answers, rings)
            if err:
                raise Fail("forked call to two phones of 1002 (one answers, the other must be "
                           "cancelled)\n" + err)
            self.routed(caller, answers)
            self.no_dialogs_left("forked call")
        finally:
            for port in PHONE2_PORTS:
                self.register(port=port, user=USER2, expires="0")

    def c_tcp_out(self):
        if self.mode == "direct":
            raise Skip("the carrier listens on UDP only; TCP needs the proxy")
        callee = self.sipp("carrier", "uas_answer.xml", CARRIER, CARRIER_UAS_PORT,
                           keys={"user": "carrier"}, mport=6000)
        time.sleep(0.4)
        caller = self.sipp("ua", "uac_call.xml", UA, UA_CALL_PORT, self.remote(),
                           keys={"user": USER, "domain": DOMAIN},
                           extra=["-t", "t1", "-s", OUT_NUMBER, "-au", USER, "-ap", PASSWORD],
                           mport=6100)
        err = self.wait_sipp(caller, callee)
        if err:
            raise Fail("phone over TCP -> carrier over UDP\n" + err)
        self.routed(caller, callee)
        self.no_dialogs_left("TCP call")

    def c_tcp_in(self):
        """A phone registered over TCP behind the NAT is called: the NAT only lets the INVITE in
        on the phone's own connection (RFC 5626's reason to reuse it), so the proxy must send
        it there rather than open a connection to the registered or received address."""
        if self.mode == "direct":
            raise Skip("needs a registrar")
        phone = self.sipp("ua", "register_stay.xml", UA, UA_REG_PORT + 10, self.remote(),
                          keys={"user": USER, "domain": DOMAIN, "expires": "600"},
                          extra=["-t", "t1", "-au", USER, "-ap", PASSWORD,
                                 "-oocsf", os.path.join(SCEN, "uas_answer.xml")],
                          mport=6000, hold=12000, timeout=30)
        time.sleep(2)
        note = None
        if self.proxy.has_ctl:
            mine = [r for r in self.proxy.registrations()
                    if r.get("aor", "").startswith(USER + "@")
                    and str(r.get("transport", "")).lower() == "tcp"]
            if not mine:
                self.stop(phone)
                raise Fail("no TCP binding for %s after the REGISTER over TCP: %s" % (
                    USER, self.proxy.registrations()))
            note = "binding %s over tcp" % mine[0].get("received")
        caller = self.sipp("carrier", "uac_call.xml", CARRIER, CARRIER_UAC_PORT, self.remote(),
                           keys={"user": "carrier", "domain": DOMAIN}, extra=["-s", USER],
                           mport=6100)
        err = self.wait_sipp(caller, timeout=30)
        if err:
            self.stop(phone)
            raise Fail("carrier -> phone registered over TCP\n" + err + "\n  phone messages:\n"
                       + tail(phone.base + ".msg", 40))
        err = self.wait_sipp(phone, timeout=30)
        if err:
            raise Fail("the TCP phone's registration scenario failed\n" + err)
        self.routed(caller)
        self.no_dialogs_left("call to the TCP phone")
        return note

    def c_nat(self):
        a = self.udp_mapping(27910, CARRIER, 9999)
        b = self.udp_mapping(27910, CARRIER, 9998)
        if a[0] != NAT_PUB:
            raise Fail("the phone's datagram arrived from %s, not from the NAT's %s" % (a, NAT_PUB))
        if a[1] == 27910 and b[1] == 27910:
            raise Fail("MASQUERADE kept the source port 27910: no --random-fully remapping")
        return "27910 appears as %s:%d and %s:%d" % (a[0], a[1], b[0], b[1])

    def c_register(self):
        self.register()
        if self.proxy and self.proxy.has_ctl:
            regs = self.proxy.registrations()
            mine = [r for r in regs if r.get("aor", "").startswith(USER + "@")]
            if not mine:
                raise Fail("200 OK but no binding for %s in registrations: %s" % (USER, regs))
            rec = str(mine[0].get("received", ""))
            if NAT_PUB not in rec:
                raise Fail("binding does not keep the NAT path (received %r)" % rec)
            return "binding received=%s natted=%s" % (rec, mine[0].get("natted"))
        return None

    def wait_keepalive(self, what):
        self.register()
        ua = self.sipp("ua", "keepalive.xml", UA, UA_REG_PORT, keys={"user": USER},
                       timeout=12, mport=6000)
        err = self.wait_sipp(ua, timeout=20)
        if err:
            raise Fail("no keepalive OPTIONS reached the phone's registration socket through "
                       "its NAT binding within 12 s %s\n%s" % (what, err))
        if not self.proxy.has_ctl:
            return None
        time.sleep(0.5)  # the 200 may still be on its way to the proxy
        st = self.proxy.ctl("stats")
        sent = find_key(st, "keepalives_sent")
        answered = find_key(st, "keepalives_answered")
        if not sent or not answered:
            raise Fail("the phone answered an OPTIONS but stats count keepalives sent=%s "
                       "answered=%s: %s" % (sent, answered, json.dumps(st)[:400]))
        return "keepalives sent=%s answered=%s" % (sent, answered)

    def c_keepalive(self):
        """nat.keepalive_interval = 2 from the start (policy changed, proxy restarted)."""
        if self.mode == "direct":
            raise Skip("no registrar in direct mode")
        self.proxy.set_keepalive(True, restart=True)
        try:
            return self.wait_keepalive("with nat.keepalive_interval = 2 at start-up")
        finally:
            self.proxy.set_keepalive(False, restart=True)

    def c_keepalive_reload(self):
        """Keepalives switched on by a policy reload must start within an interval or so."""
        if not (self.proxy and self.proxy.has_ctl):
            raise Skip("needs sbc-sip's control socket (reload)")
        time.sleep(2)  # past the daemon's first keepalive tick after its start
        self.proxy.set_keepalive(True)
        try:
            return self.wait_keepalive("after a reload switched nat.keepalive_interval from "
                                       "0 to 2")
        finally:
            self.proxy.set_keepalive(False)

    def c_unregister(self):
        """Expires: 0 removes the binding (RFC 3261 10.2.2)."""
        if not (self.proxy and self.proxy.has_ctl):
            raise Skip("needs sbc-sip's control socket")
        self.register()
        contact = "%s:%d" % (UA, UA_REG_PORT)
        if not [r for r in self.proxy.registrations() if contact in str(r.get("contact"))]:
            raise Fail("no binding for %s after registering" % contact)
        self.register(expires="0")
        left = [r for r in self.proxy.registrations() if contact in str(r.get("contact"))]
        if left:
            raise Fail("Expires: 0 answered 200 but the binding is still there: %s" % left)
        return None

    def c_ban(self):
        """A password guesser behind the NAT: after BAN_THRESHOLD wrong answers to the challenge
        its address is ignored for BAN_SECONDS, even with the right password; then it may
        register again."""
        if not (self.proxy and self.proxy.has_ctl):
            raise Skip("needs sbc-sip (Kamailio's reference configuration has no bans)")
        keys = {"user": USER, "domain": DOMAIN, "expires": "600"}
        for i in range(BAN_THRESHOLD):
            p = self.sipp("ua", "register.xml", UA, UA_REG_PORT, self.remote(), keys=keys,
                          extra=["-au", USER, "-ap", "wrong-%d" % i], timeout=4, mport=6300)
            self.wait_sipp(p, timeout=10)
            got = [h[0] for h in received_messages(p.base + ".msg")]
            if p.returncode == 0 or len(got) < 2 or got[-1].startswith("SIP/2.0 200"):
                raise Fail("wrong password #%d: expected a second challenge or 403, got %s"
                           % (i + 1, got))
        t_banned = time.monotonic()
        p = self.sipp("ua", "register.xml", UA, UA_REG_PORT, self.remote(), keys=keys,
                      extra=["-au", USER, "-ap", PASSWORD], timeout=2, mport=6300)
        self.wait_sipp(p, timeout=10)
        got = [h[0] for h in received_messages(p.base + ".msg")]
        if got:
            raise Fail("after %d failed authentications the source is still answered: %s"
                       % (BAN_THRESHOLD, got))
        bans = find_key(self.proxy.ctl("stats"), "bans")
        time.sleep(max(0.0, BAN_SECONDS + 1.5 - (time.monotonic() - t_banned)))
        try:
            self.register()
        except Fail as e:
            raise Fail("still ignored %.0f s after the ban began (ban.duration %d s): %s" % (
                time.monotonic() - t_banned, BAN_SECONDS, e))
        return "banned after %d failures (stats bans=%s), served again after %d s" % (
            BAN_THRESHOLD, bans, BAN_SECONDS)

    def c_restart(self):
        if not (self.proxy and self.proxy.has_ctl):
            raise Skip("needs sbc-sip's control socket and registrations database")
        self.register()
        before = [r for r in self.proxy.registrations() if r.get("aor", "").startswith(USER)]
        if not before:
            raise Fail("no binding before the restart")
        self.proxy.restart()
        after = [r for r in self.proxy.registrations() if r.get("aor", "").startswith(USER)]
        if not after:
            raise Fail("the binding of %s is gone after the restart (before: %s)" % (USER, before))
        # The restored binding must still be usable: call the phone without re-registering.
        self.inbound("uac_call.xml", "uas_answer.xml", "call to the phone after the restart "
                     "(binding from the database)", register=False)
        return "binding %s kept" % after[0].get("received")

    def c_malformed(self):
        if self.mode == "direct":
            raise Skip("no proxy in direct mode")
        hdr = ("%s sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-bad%d;rport\r\n"
               "From: <sip:%s@%s>;tag=bad%d\r\nTo: <sip:%s@%s>\r\nCall-ID: bad%d-%s\r\n"
               "%sMax-Forwards: 70\r\n%s\r\n%s")

        def msg(i, method, cseq, extra="Content-Length: 0\r\n", body=""):
            return (hdr % (method, OUT_NUMBER, DOMAIN, UA, UA_RAW_PORT, i, USER, DOMAIN, i,
                           OUT_NUMBER, DOMAIN, i, TAG, cseq, extra, body)).encode()

        cases = [
            ("CSeq not a number", msg(1, "OPTIONS", "CSeq: abc OPTIONS\r\n")),
            ("CSeq method differs", msg(2, "OPTIONS", "CSeq: 1 INVITE\r\n")),
            ("Content-Length beyond the datagram",
             msg(3, "INVITE", "CSeq: 1 INVITE\r\n",
                 "Content-Type: application/sdp\r\nContent-Length: 99999999\r\n", "v=0\r\n")),
            ("no Call-ID", msg(4, "OPTIONS", "CSeq: 1 OPTIONS\r\n").replace(
                b"Call-ID: bad4-" + TAG.encode() + b"\r\n", b"")),
            ("garbage", b"\x16\x03\x01\x00\xa5 hello \xff\xfe\r\n\r\n"),
            ("request line only", b"INVITE sip:x SIP/2.0\r\n\r\n"),
        ]
        seen = []
        for what, data in cases:
            r = self.raw(data)
            seen.append("%s -> %s" % (what, r or "dropped"))
            if r is not None and not r.startswith("SIP/2.0 400"):
                raise Fail("%s answered %r, not 400 or silence; so far: %s" % (what, r, seen))
        if not self.proxy.alive():
            raise Fail("the proxy died after the malformed datagrams: %s" % seen)
        self.outbound("uac_call.xml", "uas_answer.xml", "call after the malformed requests")
        return "; ".join(seen)

    def run_checks(self, only):
        checks = [
            ("nat-remaps-ports", self.c_nat),
            ("register-digest", self.c_register),
            ("call-out-caller-bye", lambda: self.outbound(
                "uac_call.xml", "uas_answer.xml", "phone -> carrier, phone hangs up")),
            ("call-out-callee-bye", lambda: self.outbound(
                "uac_call_peerbye.xml", "uas_hangup.xml", "phone -> carrier, carrier hangs up")),
            ("call-in-caller-bye", lambda: self.inbound(
                "uac_call.xml", "uas_answer.xml", "carrier -> phone, carrier hangs up")),
            ("call-in-callee-bye", lambda: self.inbound(
                "uac_call_peerbye.xml", "uas_hangup.xml", "carrier -> phone, phone hangs up")),
            ("cancel-before-answer", lambda: self.outbound(
                "uac_cancel.xml", "uas_cancel.xml", "phone cancels a ringing call")),
            ("cancel-before-answer-in", lambda: self.inbound(
                "uac_cancel.xml", "uas_cancel.xml", "carrier cancels a call ringing at the "
                "phone")),
            ("busy-486", lambda: self.outbound(
                "uac_busy.xml", "uas_busy.xml", "carrier answers 486")),
            ("busy-486-in", lambda: self.inbound(
                "uac_busy.xml", "uas_busy.xml", "phone answers 486")),
            ("reinvite", lambda: self.outbound(
                "uac_reinvite.xml", "uas_reinvite.xml", "phone re-INVITEs an answered call")),
            ("reinvite-in", lambda: self.inbound(
                "uac_reinvite.xml", "uas_reinvite.xml", "carrier re-INVITEs the phone")),
            ("phone-to-phone", self.c_phone_to_phone),
            ("fork-to-two-phones", self.c_fork),
            ("tcp-call-out", self.c_tcp_out),
            ("tcp-call-in-on-connection", self.c_tcp_in),
            ("keepalive-options", self.c_keepalive),
            ("keepalive-after-reload", self.c_keepalive_reload),
            ("registrations-survive-restart", self.c_restart),
            ("unregister", self.c_unregister),
            ("malformed-requests", self.c_malformed),
            ("ban-password-guesser", self.c_ban),
        ]
        for name, fn in checks:
            if only and name not in only:
                continue
            self.check(name, fn)


class SbcProxy:
    """sbc-sip in the sbc namespace with a policy database made by sbc-db."""
    has_ctl = True

    def __init__(self, lab):
        self.lab = lab
        self.policy = os.path.join(lab.tmp, "policy.db")
        self.regdb = os.path.join(lab.tmp, "registrations.db")
        self.ctl_path = os.path.join(lab.tmp, "sbc-sip.ctl")
        self.log = os.path.join(lab.tmp, "sbc-sip.log")
        self.proc = None
        make_policy(lab, self.policy)

    def start(self):
        self.proc = self.lab.spawn("sbc", [self.lab.sbc_sip, "--listen", SBC + ":5060",
                                           "--policy", self.policy, "--registrations",
                                           self.regdb, "--ctl", self.ctl_path,
                                           "--log-level", "debug"], self.log)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("sbc-sip exited with %d at start-up\n%s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                self.ctl("stats")
                return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sbc-sip does not answer on its control socket\n"
                                   + self.log_tail())
            time.sleep(0.2)

    def stop(self):
        if self.proc:
            self.lab.stop(self.proc, wait=10)
            self.proc = None

    def restart(self):
        with open(self.log, "a") as f:
            f.write("===== natlab-sip: restarting sbc-sip =====\n")
            f.flush()
        self.stop()
        self.start()

    def alive(self):
        try:
            return self.proc.poll() is None and self.ctl("stats") is not None
        except (OSError, ValueError):
            return False

    def ctl(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect(self.ctl_path)
            s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf)

    def registrations(self):
        r = self.ctl("registrations")
        if isinstance(r, dict):
            for k in ("registrations", "bindings", "result", "data"):
                if isinstance(r.get(k), list):
                    return r[k]
        if isinstance(r, list):
            return r
        raise ValueError("unexpected 'registrations' reply: %s" % r)

    def set_keepalive(self, on, restart=False):
        seed = os.path.join(self.lab.tmp, "keepalive.sql")
        with open(seed, "w") as f:
            f.write("UPDATE settings SET value = '%d' WHERE key = 'nat.keepalive_interval';\n"
                    % (2 if on else 0))
        sh(self.lab.sbc_db, "load", self.policy, seed)
        if restart:
            self.restart()
            return
        r = self.ctl("reload")
        if isinstance(r, dict) and r.get("error"):
            raise Fail("reload refused: %s" % r)

    def log_tail(self, n=40):
        return tail(self.log, n)


class KamailioProxy:
    """Kamailio 5.6 with WITH_NAT-style handling (kamailio.cfg) in the sbc namespace."""
    has_ctl = False

    def __init__(self, lab):
        self.lab = lab
        self.log = os.path.join(lab.tmp, "kamailio.log")
        self.cfg = os.path.join(lab.tmp, "kamailio.cfg")
        with open(os.path.join(HERE, "kamailio.cfg")) as f:
            text = f.read()
        for k, v in (("LISTEN_ADDR", SBC), ("CARRIER_ADDR", CARRIER), ("CHILDREN", "2")):
            text = text.replace(k, v)
        with open(self.cfg, "w") as f:
            f.write(text)
        self.keepalive = False
        self.proc = None

    def start(self):
        args = ["kamailio", "-f", self.cfg, "-DD", "-E", "-m", "64", "-M", "8",
                "-Y", self.lab.tmp]
        if self.keepalive:
            args += ["-A", "KEEPALIVE"]
        self.proc = self.lab.spawn("sbc", args, self.log)
        time.sleep(1.5)
        if self.proc.poll() is not None:
            raise RuntimeError("kamailio exited with %d\n%s" % (self.proc.returncode,
                                                                 self.log_tail()))

    def stop(self):
        if self.proc:
            self.lab.stop(self.proc, wait=10)
            self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def set_keepalive(self, on, restart=True):
        # natping_interval is a start-up parameter: restart with or without -A KEEPALIVE.
        self.keepalive = on
        self.stop()
        self.start()

    def log_tail(self, n=40):
        return tail(self.log, n)


def make_policy(lab, path):
    """The lab's policy: the phone's user, the carrier trunk as the default route, MD5 digest
    only (SIPp 3.6.1 computes MD5 and AKA, not SHA-256), keepalives off until the keepalive
    check turns them on (OPTIONS would land in the middle of the phone's call scenarios)."""
    seed = os.path.join(lab.tmp, "seed.sql")
    with open(seed, "w") as f:
        f.write("""
INSERT INTO settings (key, value) VALUES
    ('auth.realm', '%(d)s'), ('auth.algorithms', 'MD5'), ('nat.test_mask', '19'),
    ('nat.keepalive_interval', '0'), ('registrar.min_expires', '60'),
    ('ratelimit.requests_per_second', '1000'), ('ratelimit.burst', '1000'),
    ('ban.failed_auth_threshold', '%(bt)d'), ('ban.window', '60'), ('ban.duration', '%(bd)d')
ON CONFLICT (key) DO UPDATE SET value = excluded.value;
INSERT INTO trunks (name, address, port, transport, note)
    VALUES ('carrier', '%(c)s', %(p)d, 'udp', 'natlab-sip carrier');
INSERT INTO routes (prefix, trunk, note) VALUES ('', 'carrier', 'default route');
""" % {"d": DOMAIN, "c": CARRIER, "p": CARRIER_UAS_PORT, "bt": BAN_THRESHOLD,
       "bd": BAN_SECONDS})
    sh(lab.sbc_db, "migrate", path)
    sh(lab.sbc_db, "load", path, seed)
    for user in (USER, USER2):
        sh(lab.sbc_db, "user", "add", path, "%s@%s" % (user, DOMAIN), "pw-" + user,
           "--realm", DOMAIN)
    status = sh(lab.sbc_db, "status", path, capture=True)
    if "carrier" not in status:
        raise RuntimeError("policy database lacks the carrier trunk:\n" + status)


def find_key(obj, key):
    """The value of key anywhere in a JSON reply (stats group their counters)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def received_messages(path):
    """The header lines of each message SIPp logged as received in a -message_file."""
    return log_messages(path, "message received")


def sent_requests(path):
    return [m for m in log_messages(path, "message sent") if not m[0].startswith("SIP/2.0")]


def log_messages(path, marker):
    """The header lines of each message after marker in a SIPp -message_file."""
    out = []
    try:
        with open(path, errors="replace") as f:
            blocks = f.read().split(marker)
    except OSError:
        return out
    for b in blocks[1:]:
        lines = [line.strip() for line in b.splitlines()[1:]]
        while lines and not lines[0]:
            lines.pop(0)
        if not lines:
            continue
        hdrs = []
        for line in lines:
            if not line:
                break
            hdrs.append(line)
        out.append(hdrs)
    return out


def has_daemon(sbc_sip):
    try:
        r = subprocess.run([sbc_sip, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=10)
    except OSError:
        return False
    return "--listen" in r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("sbc", "kamailio", "direct"), default="sbc")
    ap.add_argument("--only", default="", help="comma-separated check names")
    ap.add_argument("--known-failures", default="", metavar="NAME,...",
                    help="checks whose failure is a known, reported daemon bug: printed as "
                         "XFAIL and not counted (XPASS when they pass: drop them from the list)")
    ap.add_argument("--keep", metavar="DIR", help="copy the logs of the run to DIR")
    ap.add_argument("--pcap", action="store_true",
                    help="with --keep: capture the proxy's traffic to sbc.pcap (tcpdump)")
    ap.add_argument("sbc_sip")
    ap.add_argument("sbc_db")
    a = ap.parse_args()
    # meson runs us from the build directory with relative paths; processes start elsewhere.
    a.sbc_sip = os.path.abspath(a.sbc_sip)
    a.sbc_db = os.path.abspath(a.sbc_db)
    if os.geteuid() != 0:
        print("SKIP: natlab-sip needs root (network namespaces)")
        return 77
    tools = ["ip", "iptables", "sipp"] + (["kamailio"] if a.mode == "kamailio" else [])
    for t in tools:
        if not shutil.which(t):
            print("SKIP: %s missing" % t)
            return 77
    if not os.access(a.sbc_db, os.X_OK):
        print("SKIP: %s is not executable" % a.sbc_db)
        return 77
    if a.mode == "sbc" and not has_daemon(a.sbc_sip):
        print("SKIP: sbc-sip has no daemon mode yet")
        return 77

    def on_signal(signum, _frame):
        print("FAIL: interrupted by signal %d; cleaning up" % signum, flush=True)
        raise SystemExit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    lab = Lab(a.mode, a.sbc_sip, a.sbc_db)
    lab.known = set(x for x in a.known_failures.split(",") if x)
    rc = 1
    try:
        lab.setup()
        if a.pcap and shutil.which("tcpdump"):
            lab.spawn("sbc", ["tcpdump", "-i", "eth0", "-U", "-s", "0", "-w",
                              os.path.join(lab.tmp, "sbc.pcap")],
                      os.path.join(lab.tmp, "tcpdump.log"))
            time.sleep(0.5)
        if a.mode == "sbc":
            lab.proxy = SbcProxy(lab)
        elif a.mode == "kamailio":
            lab.proxy = KamailioProxy(lab)
        else:
            make_policy(lab, os.path.join(lab.tmp, "policy.db"))
            print("PASS: policy-db (sbc-db migrate, load, user add)")
        if lab.proxy:
            lab.proxy.start()
        lab.run_checks(set(x for x in a.only.split(",") if x))
        xfail = sorted(lab.known - set(lab.passed) - set(lab.failed) & lab.ran)
        print("# %d passed, %d failed%s, %d known failures%s" % (
            len(lab.passed), len(lab.failed), (" (" + ", ".join(lab.failed) + ")")
            if lab.failed else "", len(xfail), (" (" + ", ".join(xfail) + ")") if xfail else ""))
        rc = 1 if lab.failed else 0
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        print("FAIL: lab set-up: %s" % e)
    finally:
        if a.keep:
            for p in list(lab.procs):
                lab.stop(p, wait=3)
            shutil.copytree(lab.tmp, a.keep, dirs_exist_ok=True)
        lab.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
