#!/usr/bin/env python3
"""NAT lab for calls with media: sbc-sip engaging sbc-dataplane (meson suite "natlab"; needs
root, exits 77 otherwise).

    run.py [--only NAME,...] [--keep DIR] SBC_SIP SBC_DB SBC_DATAPLANE

The topology of tests/natlab-sip (its Lab, SbcProxy and policy are reused), plus two media relays
in the sbc namespace, each on its own veth to the public segment through DPDK's net_af_packet
(no kernel address there: the address belongs to the relay; --no-huge, --idle-backoff so both fit
on two cores):

    ua (phone 192.168.1.10) -- nat (MASQUERADE --random-fully, 203.0.113.1) --+
    sbc: sbc-sip 203.0.113.5 (kernel) ----------------------------------------+
         sbc-dataplane A 203.0.113.6 (dpa, ng 127.0.0.1:2223) ----------------+- wan (br0)
         sbc-dataplane B 203.0.113.7 (dpb, ng 127.0.0.1:2224) ----------------+
    carrier (SIPp 203.0.113.20, moved media 203.0.113.21) --------------------+

Both SIPp ends play real RTP (rtp.pcap, written at start: PCMU, 20 ms) with play_pcap_audio;
what arrives is counted at the receivers by iptables INPUT rules that match only packets from a
relay address to the SIPp media port (the phone's counter is inside the ua namespace, after the
NAT). Checks: call out and in with media both ways (and the phone latched at the NAT's random
port), a callee re-INVITE that moves its media to another address and port, the same refused
with 488 (the previous media must stay), hold / inactive / resume, an inactive hold longer than
the media timeout (holding is not hanging up), CANCEL and 486 (every relay session released), the
media timeout (BYE to both parties) and a dataplane killed mid-test (new calls go to the other). After every check: no dialog in
sbc-sip and an empty ng `list` on each running dataplane.
Exit status: 0 all passed, 1 a check failed, 77 skipped.
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
SCEN = os.path.join(HERE, "scenarios")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


nls = load("natlab_sip_run", os.path.join(TESTS, "natlab-sip", "run.py"))
NG_PY = os.path.join(TESTS, "natlab", "ng.py")
AGENT_PY = os.path.join(HERE, "rtpagent.py")

# Our own namespace names (natlab-sip's functions look them up in its NS at call time).
TAG = "ml%d" % (os.getpid() % 100000)
nls.TAG = TAG
for _k in list(nls.NS):
    nls.NS[_k] = "%s-%s" % (TAG, _k)
NS = nls.NS
Fail = nls.Fail
Skip = nls.Skip
sh = nls.sh

UA, SBC, CARRIER, NAT_PUB = nls.UA, nls.SBC, nls.CARRIER, nls.NAT_PUB
CARRIER_MOVED = "203.0.113.21"
MOVED_PORT = 7000
USER, DOMAIN, PASSWORD, OUT_NUMBER = nls.USER, nls.DOMAIN, nls.PASSWORD, nls.OUT_NUMBER
UA_MPORT = 6100
CARRIER_MPORT = 6000
NOTIFY = "127.0.0.1:9000"
MEDIA_TIMEOUT = 4
RTP_PACKETS = 75  # rtp.pcap: 1.5 s of PCMU at 20 ms
RTP_SSRC = 0x5EED
DATAPLANES = (("A", "dpa", "p4", "203.0.113.6", 2223, "40000-40999"),
              ("B", "dpb", "p5", "203.0.113.7", 2224, "42000-42999"))


def write_pcap(path, packets=RTP_PACKETS):
    """A pcap of one RTP stream (Ethernet/IPv4/UDP, PCMU, 20 ms apart) for SIPp's
    play_pcap_audio, which keeps the RTP payload and timing and readdresses it."""
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for i in range(packets):
        rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0, i, i * 160, RTP_SSRC)
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


class Dataplane:
    """One sbc-dataplane in the sbc namespace on its own veth."""

    def __init__(self, lab, name, iface, media, ng_port, ports):
        self.lab, self.name, self.iface, self.media = lab, name, iface, media
        self.ng_addr = "127.0.0.1:%d" % ng_port
        self.ports = ports
        self.prefix = "%s_%s" % (TAG, name)
        self.ctl_path = os.path.join(lab.tmp, "dp-%s.ctl" % name)
        self.log = os.path.join(lab.tmp, "dp-%s.log" % name)
        self.policy = os.path.join(lab.tmp, "dp-%s.policy.json" % name)
        self.proc = None

    def spawn(self):
        with open(self.policy, "w") as f:
            json.dump({"media-timeout": MEDIA_TIMEOUT, "latching": "strict"}, f)
        eal = ["-l", "0,1", "--no-huge", "-m", "256", "--no-pci",
               "--file-prefix=" + self.prefix, "--vdev=net_af_packet0,iface=" + self.iface,
               "--log-level=lib.eal:error"]
        opts = ["--media-addr", self.media + "/24", "--ports", self.ports, "--ng-listen",
                self.ng_addr, "--idle-backoff", "200", "--mbufs", "2047", "--control-socket",
                self.ctl_path, "--policy", self.policy, "--notify", NOTIFY,
                "--log-level", "info"]
        self.proc = self.lab.spawn("sbc", [self.lab.sbc_dataplane] + eal + ["--"] + opts,
                                   self.log)

    def start(self):
        self.spawn()
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 20
        respawns = 3
        while True:
            if self.proc.poll() is not None:
                # DPDK 22.11's net_af_packet derives its PACKET_FANOUT group id from its pid and
                # the interface index; two dataplanes in one namespace can collide (EINVAL).
                # Another pid means another group id: start it again.
                log = open(self.log, errors="replace").read() if os.path.exists(self.log) else ""
                if "PACKET_FANOUT" in log and respawns > 0:
                    respawns -= 1
                    self.spawn()
                    continue
                raise RuntimeError("sbc-dataplane %s exited with %d\n%s" % (
                    self.name, self.proc.returncode, nls.tail(self.log)))
            r = self.ng({"command": "ping"})
            if r and r.get("result") == "pong":
                return
            if time.monotonic() > deadline:
                raise RuntimeError("sbc-dataplane %s does not answer ng ping\n%s" % (
                    self.name, nls.tail(self.log)))
            time.sleep(0.3)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc:
            self.lab.stop(self.proc, sig=signal.SIGKILL)
            self.proc = None

    def ng(self, obj):
        out = sh(sys.executable, NG_PY, self.ng_addr, json.dumps(obj), ns="sbc", check=False,
                 capture=True)
        return json.loads(out) if out.strip() else None

    def ctl(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect(self.ctl_path)
            s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf)

    def calls(self):
        r = self.ng({"command": "list"})
        if not r or r.get("result") != "ok":
            raise Fail("dataplane %s: ng list failed: %s" % (self.name, r))
        return r.get("calls") or []


class MediaProxy(nls.SbcProxy):
    """sbc-sip with --dataplane (both relays) and --media-notify."""

    def start(self):
        dps = ",".join(d.ng_addr for d in self.lab.dps)
        self.proc = self.lab.spawn("sbc", [self.lab.sbc_sip, "--listen", SBC + ":5060",
                                           "--policy", self.policy, "--registrations",
                                           self.regdb, "--ctl", self.ctl_path,
                                           "--dataplane", dps, "--media-notify", NOTIFY,
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


class MediaLab(nls.Lab):
    def __init__(self, sbc_sip, sbc_db, sbc_dataplane):
        super().__init__("sbc", sbc_sip, sbc_db)
        self.sbc_dataplane = sbc_dataplane
        self.dps = [Dataplane(self, n, i, m, p, r) for n, i, _, m, p, r in DATAPLANES]
        write_pcap(os.path.join(self.tmp, "rtp.pcap"))

    # -- topology -------------------------------------------------------------------------
    def setup(self):
        super().setup()
        for _, iface, peer, _, _, _ in DATAPLANES:
            self.veth("sbc", iface, "wan", peer)
            sh("ip", "link", "set", peer, "master", "br0", ns="wan")
        sh("ip", "addr", "add", CARRIER_MOVED + "/24", "dev", "eth0", ns="carrier")
        # Kernel sockets leave UDP checksums to the NIC and af_packet does not tell DPDK
        # (TESTING-NOTES.md): full checksums on every veth of the lab.
        for ns, ifs in (("ua", ["eth0"]), ("nat", ["in0", "out0"]),
                        ("wan", ["p1", "p2", "p3", "p4", "p5"]),
                        ("sbc", ["eth0", "dpa", "dpb"]), ("carrier", ["eth0"])):
            for ifn in ifs:
                sh("ethtool", "-K", ifn, "tx", "off", ns=ns, check=False)
        # Receivers' counters: RTP from a relay address to the SIPp media ports (and to the
        # moved callee address), counted where the packets are delivered.
        relays = "203.0.113.6/31"
        sh("iptables", "-A", "INPUT", "-p", "udp", "-s", relays, "--dport", str(UA_MPORT),
           ns="ua")
        sh("iptables", "-A", "INPUT", "-p", "udp", "-s", relays, "-d", CARRIER, "--dport",
           str(CARRIER_MPORT), ns="carrier")
        sh("iptables", "-A", "INPUT", "-p", "udp", "-s", relays, "-d", CARRIER_MOVED,
           "--dport", str(MOVED_PORT), ns="carrier")

    def cleanup(self):
        super().cleanup()
        for d in self.dps:
            shutil.rmtree("/var/run/dpdk/" + d.prefix, ignore_errors=True)

    def counters(self):
        """{(namespace, dport): packets} of the receivers' iptables rules; zeroed after."""
        got = {}
        for ns in ("ua", "carrier"):
            out = sh("iptables", "-L", "INPUT", "-v", "-x", "-n", "-Z", ns=ns, capture=True)
            for line in out.splitlines():
                m = re.search(r"dpt:(\d+)", line)
                if m and line.split()[0].isdigit():
                    got[(ns, int(m.group(1)))] = int(line.split()[0])
        return got

    def sipp(self, ns, scenario, ip, port, remote=None, keys=None, extra=(), timeout=20,
             mport=6000, hold=300):
        """natlab-sip's SIPp runner with our scenario directory (theirs for names not here)."""
        path = os.path.join(SCEN, scenario)
        if not os.path.exists(path):
            path = os.path.join(nls.SCEN, scenario)
        self.seq += 1
        base = os.path.join(self.tmp, "%02d-%s-%s" % (self.seq, ns, scenario[:-4]))
        args = ["sipp", "-sf", path, "-i", ip, "-p", str(port), "-mi", ip, "-mp", str(mport),
                "-m", "1", "-l", "1", "-nostdin", "-timeout", "%ds" % timeout,
                "-timeout_error", "-trace_err", "-error_file", base + ".err", "-trace_msg",
                "-message_file", base + ".msg", "-d", str(hold)]
        for k, v in (keys or {}).items():
            args += ["-key", k, v]
        args += list(extra)
        if remote:
            args.append(remote)
        p = self.spawn(ns, args, base + ".out")
        p.base = base
        p.what = "%s in %s" % (scenario, ns)
        return p

    # -- helpers --------------------------------------------------------------------------
    def running_dps(self):
        return [d for d in self.dps if d.alive()]

    def sessions_left(self, what, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            left = {d.name: d.calls() for d in self.running_dps()}
            left = {k: v for k, v in left.items() if v}
            if not left:
                return
            if time.monotonic() > deadline:
                raise Fail("%s: relay session(s) still there %ds after the call ended: %s"
                           % (what, timeout, json.dumps(left)))
            time.sleep(0.3)

    def clean_after(self, what):
        self.no_dialogs_left(what)
        self.sessions_left(what)

    def relay_sessions(self):
        """(dataplane, session) for every session record on the running relays (their control
        sockets' `sessions`); a relay that does not answer is skipped."""
        for d in self.running_dps():
            try:
                sess = d.ctl("sessions").get("sessions") or []
            except (OSError, ValueError):
                continue
            for s in sess:
                yield d, s

    def latched_phone(self, deadline):
        """Polls the relays' sessions until a leg latched to the NAT's public address."""
        while time.monotonic() < deadline:
            for d, s in self.relay_sessions():
                for st in s.get("streams", []):
                    for leg in st.get("legs", []):
                        src = leg.get("latched") or ""
                        if src.startswith(NAT_PUB + ":"):
                            return d.name, src, leg.get("packets")
            time.sleep(0.2)
        return None

    def relay_in_sdp(self, p):
        """The relay addresses in the SDP bodies SIPp process p received."""
        out = []
        for block in received_blocks(p.base + ".msg"):
            out += re.findall(r"c=IN IP4 (203\.0\.113\.[67])\b", block)
        return out

    def media_engaged(self):
        return nls.find_key(self.proxy.ctl("stats"), "media_engaged") or 0

    def expect_media(self, got, where, minimum, what):
        n = got.get(where, 0)
        if n < minimum:
            raise Fail("%s: %d RTP packet(s) from the relay at %s port %d, expected >= %d "
                       "(counters: %s)" % (what, n, where[0], where[1], minimum, got))
        return n

    def call(self, uac, uas, what, inbound=False, hold=2000, uas_keys=None, during=None):
        """One call through the proxy, each SIPp playing or not as its scenario says. Returns
        (caller, callee, counters, result of during())."""
        self.counters()
        engaged = self.media_engaged()
        if inbound:
            self.register()
            callee = self.sipp("ua", uas, UA, nls.UA_REG_PORT, keys={"user": USER},
                               mport=UA_MPORT)
            time.sleep(0.4)
            caller = self.sipp("carrier", uac, CARRIER, nls.CARRIER_UAC_PORT, SBC + ":5060",
                               keys={"user": "carrier", "domain": DOMAIN},
                               extra=["-s", USER], mport=CARRIER_MPORT, hold=hold)
        else:
            keys = {"user": "carrier"}
            keys.update(uas_keys or {})
            callee = self.sipp("carrier", uas, CARRIER, nls.CARRIER_UAS_PORT, keys=keys,
                               mport=CARRIER_MPORT)
            time.sleep(0.4)
            caller = self.sipp("ua", uac, UA, nls.UA_CALL_PORT, SBC + ":5060",
                               keys={"user": USER, "domain": DOMAIN},
                               extra=["-s", OUT_NUMBER, "-au", USER, "-ap", PASSWORD],
                               mport=UA_MPORT, hold=hold)
        extra = during(caller, callee) if during else None
        err = self.wait_sipp(caller, callee)
        if err:
            raise Fail(what + "\n" + err)
        got = self.counters()
        if self.media_engaged() <= engaged:
            raise Fail("%s: sbc-sip's media_engaged did not grow (%d)" % (what, engaged))
        for p in (caller, callee):
            if not self.relay_in_sdp(p):
                raise Fail("%s: %s received no SDP with a relay address" % (what, p.what))
        self.clean_after(what)
        return caller, callee, got, extra

    # -- checks ---------------------------------------------------------------------------
    def c_call_out(self):
        latch = []
        _, _, got, _ = self.call(
            "uac_media.xml", "uas_media.xml", "phone -> carrier with RTP both ways",
            during=lambda a, b: latch.append(self.latched_phone(time.monotonic() + 6)))
        need = int(RTP_PACKETS * 0.8)
        to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier")
        to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "phone")
        if not latch or not latch[0]:
            raise Fail("no relay leg latched to the NAT's address %s" % NAT_PUB)
        return "carrier got %d, phone got %d of %d; phone latched on %s at %s" % (
            to_carrier, to_phone, RTP_PACKETS, latch[0][0], latch[0][1])

    def c_call_in(self):
        _, _, got, _ = self.call("uac_media.xml", "uas_media.xml",
                                 "carrier -> phone with RTP both ways", inbound=True)
        need = int(RTP_PACKETS * 0.8)
        to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier")
        to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "phone")
        return "carrier got %d, phone got %d of %d" % (to_carrier, to_phone, RTP_PACKETS)

    def c_move(self):
        """The carrier re-INVITEs with its media on another address and port; an RTP agent
        there must get the phone's audio (played only after the move) and its audio must reach
        the phone; the old address gets nothing."""
        def during(caller, callee):
            # The relay's address for the moved callee: the SDP of the 200 to its re-INVITE
            # (the second SDP the carrier's SIPp receives).
            deadline = time.monotonic() + 10
            port = None
            while time.monotonic() < deadline and port is None:
                blocks = received_blocks(callee.base + ".msg")
                sdps = [re.search(r"c=IN IP4 (\S+).*?m=audio (\d+)", b, re.S) for b in blocks]
                sdps = [m for m in sdps if m]
                if len(sdps) >= 2:
                    port = "%s:%s" % (sdps[-1].group(1), sdps[-1].group(2))
                time.sleep(0.1)
            if port is None:
                return None
            agent = subprocess.Popen(
                ["ip", "netns", "exec", NS["carrier"], sys.executable, AGENT_PY, "--bind",
                 "%s:%d" % (CARRIER_MOVED, MOVED_PORT), "--ssrc", "777", "--to", port,
                 "--delay", "1.0", "--count", "75", "--interval", "0.02", "--wait", "1.0"],
                stdout=subprocess.PIPE, text=True)
            out, _ = agent.communicate(timeout=20)
            return port, json.loads(out) if out.strip() else None

        _, _, got, extra = self.call(
            "uac_move.xml", "uas_move.xml", "carrier moves its media by re-INVITE",
            hold=2800, uas_keys={"newip": CARRIER_MOVED, "newport": str(MOVED_PORT)},
            during=during)
        if not extra or not extra[1]:
            raise Fail("the carrier never got the relay's answer to its re-INVITE")
        relay, agent = extra
        heard = agent["rtp"].get(str(RTP_SSRC), 0)
        need = int(RTP_PACKETS * 0.8)
        if heard < need:
            raise Fail("moved callee at %s:%d got %d of the phone's %d RTP packets (agent: %s)"
                       % (CARRIER_MOVED, MOVED_PORT, heard, RTP_PACKETS, agent))
        if any(not s.startswith(relay.split(":")[0] + ":") for s in agent["sources"]):
            raise Fail("moved callee got packets from elsewhere than the relay: %s"
                       % agent["sources"])
        to_phone = self.expect_media(got, ("ua", UA_MPORT), int(75 * 0.8), "phone")
        old = got.get(("carrier", CARRIER_MPORT), 0)
        if old:
            raise Fail("%d RTP packet(s) still went to the old address %s:%d after the move"
                       % (old, CARRIER, CARRIER_MPORT))
        return "moved callee got %d/%d, phone got %d/75 from it, old address 0" % (
            heard, RTP_PACKETS, to_phone)

    def c_hold(self):
        caller, callee, got, _ = self.call("uac_hold.xml", "uas_hold.xml",
                                           "hold (sendonly), inactive, resume")
        recv = received_blocks(callee.base + ".msg")
        dirs = [d for b in recv for d in re.findall(r"a=(sendonly|inactive|sendrecv)", b)]
        if "sendonly" not in dirs or "inactive" not in dirs:
            raise Fail("the carrier did not see the hold directions in the relayed SDP "
                       "(saw %s)" % dirs)
        need = int(RTP_PACKETS * 0.8)
        to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need,
                                       "carrier after resume")
        to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "phone after resume")
        return "after resume: carrier got %d, phone got %d of %d" % (to_carrier, to_phone,
                                                                    RTP_PACKETS)

    def c_move_refused(self):
        """The carrier re-INVITEs with its media on another address and port and the phone
        answers 488: the previous media must stay (RFC 3261 14.1, RFC 3264 8: a failed
        re-INVITE changes nothing), so audio still flows to the carrier's first address."""
        def during(caller, callee):
            # What the relay made of it, 1 s into the audio (for the failure report).
            time.sleep(2.5)
            snap = {}
            for d in self.running_dps():
                try:
                    snap[d.name] = {"sessions": d.ctl("sessions").get("sessions"),
                                    "drops": [w.get("drops") for w in
                                              d.ctl("stats").get("workers", [])]}
                except (OSError, ValueError) as e:
                    snap[d.name] = str(e)
            return snap

        _, _, got, snap = self.call(
            "uac_refuse.xml", "uas_move_refused.xml", "re-INVITE refused with 488",
            uas_keys={"newip": CARRIER_MOVED, "newport": str(MOVED_PORT)}, during=during)
        print("# relays during the audio: %s" % json.dumps(snap), flush=True)
        need = int(RTP_PACKETS * 0.8)
        moved = got.get(("carrier", MOVED_PORT), 0)
        if moved:
            raise Fail("%d RTP packet(s) went to the refused address %s:%d (counters: %s)"
                       % (moved, CARRIER_MOVED, MOVED_PORT, got))
        to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need,
                                       "carrier at its original address")
        to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "phone")
        return "carrier kept its media: got %d, phone got %d of %d, refused address 0" % (
            to_carrier, to_phone, RTP_PACKETS)

    def c_hold_long(self):
        """On hold (a=inactive) for 7 s, longer than the 4 s media timeout: holding is not
        hanging up (issue 5 item 4), then resume with audio both ways."""
        assert MEDIA_TIMEOUT * 1000 + 2000 < 7000, "uac_hold_long.xml holds 7 s"
        _, _, got, _ = self.call("uac_hold_long.xml", "uas_hold_long.xml",
                                 "inactive hold longer than the media timeout")
        need = int(RTP_PACKETS * 2 * 0.8)
        to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier")
        to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "phone")
        return "held 7 s, resumed: carrier got %d, phone got %d of %d" % (
            to_carrier, to_phone, 2 * RTP_PACKETS)

    def released(self, uac, uas, what):
        engaged = self.media_engaged()
        callee = self.sipp("carrier", uas, CARRIER, nls.CARRIER_UAS_PORT,
                           keys={"user": "carrier"}, mport=CARRIER_MPORT)
        time.sleep(0.4)
        caller = self.sipp("ua", uac, UA, nls.UA_CALL_PORT, SBC + ":5060",
                           keys={"user": USER, "domain": DOMAIN},
                           extra=["-s", OUT_NUMBER, "-au", USER, "-ap", PASSWORD],
                           mport=UA_MPORT)
        err = self.wait_sipp(caller, callee)
        if err:
            raise Fail(what + "\n" + err)
        if self.media_engaged() <= engaged:
            raise Fail("%s: the INVITE's SDP was not offered to a dataplane" % what)
        self.clean_after(what)
        return "media engaged, then released"

    def c_timeout(self):
        caller, callee, _, _ = self.call("uac_timeout.xml", "uas_timeout.xml",
                                         "silent call ended by the media timeout")
        # From the phone's ACK (audio starts) to the BYE it receives: its audio, then the
        # timeout, then the dataplane's report and sbc-sip's BYE.
        log = message_times(caller.base + ".msg")
        ack = [ts for ts, d, first in log if d == "sent" and first.startswith("ACK ")]
        bye = [ts for ts, d, first in log if d == "received" and first.startswith("BYE ")]
        if not ack or not bye:
            raise Fail("no ACK/BYE in the phone's message log")
        took = bye[0] - ack[-1]
        audio = RTP_PACKETS * 0.02
        if took < audio + MEDIA_TIMEOUT - 0.5:
            raise Fail("the BYE came %.1f s after the ACK, before %.1f s of audio plus the %d s "
                       "media timeout" % (took, audio, MEDIA_TIMEOUT))
        if took > audio + MEDIA_TIMEOUT + 5:
            raise Fail("the BYE came %.1f s after the ACK: more than 5 s after %.1f s of audio "
                       "plus the %d s media timeout" % (took, audio, MEDIA_TIMEOUT))
        for p in (caller, callee):
            byes = [r for r in received_requests(p.base + ".msg") if r[0].startswith("BYE ")]
            if not byes:
                raise Fail("%s got no BYE" % p.what)
            if not any(h.lower().startswith("reason:") for h in byes[0]):
                raise Fail("%s: the BYE has no Reason header:\n%s" % (
                    p.what, "".join("#   %s\n" % h for h in byes[0])))
        return "BYE (with Reason) to both parties %.1f s after the ACK: audio %.1f s, " \
            "timeout %d s" % (took, audio, MEDIA_TIMEOUT)

    def c_failover(self):
        """The dataplane that carries a call in progress is killed (SIGKILL); that call's
        signaling must still end cleanly, and once sbc-sip sees the dataplane gone, new calls go
        to the other one with media both ways."""
        callee = self.sipp("carrier", "uas_media.xml", CARRIER, nls.CARRIER_UAS_PORT,
                           keys={"user": "carrier"}, mport=CARRIER_MPORT)
        time.sleep(0.4)
        caller = self.sipp("ua", "uac_media.xml", UA, nls.UA_CALL_PORT, SBC + ":5060",
                           keys={"user": USER, "domain": DOMAIN},
                           extra=["-s", OUT_NUMBER, "-au", USER, "-ap", PASSWORD],
                           mport=UA_MPORT, hold=2000)
        victim = None
        deadline = time.monotonic() + 8
        while victim is None and time.monotonic() < deadline:
            for d in self.dps:
                if d.calls():
                    victim = d
            time.sleep(0.2)
        if victim is None:
            raise Fail("the call before the kill reached no dataplane")
        other = [d for d in self.dps if d is not victim][0]
        time.sleep(0.5)
        victim.kill()
        killed_at = time.monotonic()
        # The call in progress may lose its media (it may be on B); its signaling must end.
        self.wait_sipp(caller, callee)
        deadline = time.monotonic() + 15
        while True:
            dps = nls.find_key(self.proxy.ctl("stats"), "dataplanes") or []
            if isinstance(dps, dict):  # {"pending":..., "dataplanes": [...]}
                dps = dps.get("dataplanes") or []
            bad = [d for d in dps if isinstance(d, dict) and
                   str(victim.ng_addr.split(":")[1]) in json.dumps(d) and
                   (d.get("up") is False or d.get("healthy") is False or
                    d.get("state") in ("down", "dead", "failed"))]
            if bad:
                noticed = time.monotonic() - killed_at
                break
            if time.monotonic() > deadline:
                raise Fail("sbc-sip still counts the killed dataplane as up 15 s later: %s"
                           % json.dumps(dps))
            time.sleep(0.5)
        self.no_dialogs_left("call during the kill")
        notes = []
        for i in range(2):
            caller, callee, got, _ = self.call("uac_media.xml", "uas_media.xml",
                                               "call %d after the kill" % (i + 1))
            where = set(self.relay_in_sdp(caller) + self.relay_in_sdp(callee))
            if where != {other.media}:
                raise Fail("call %d after the kill used relay address(es) %s, expected %s only"
                           % (i + 1, sorted(where), other.media))
            need = int(RTP_PACKETS * 0.8)
            notes.append("%d/%d" % (
                self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier"),
                self.expect_media(got, ("ua", UA_MPORT), need, "phone")))
        return "%s killed during a call on it, out of rotation after %.1f s; 2 calls on %s " \
            "after, RTP carrier/phone %s" % (victim.name, noticed, other.name, ", ".join(notes))

    def relay_records(self):
        """[(dataplane, call-id, via-branch, relay ports)] of every record on the running
        relays (their control sockets' sessions)."""
        out = []
        for d, s in self.relay_sessions():
            ports = sorted(leg.get("port") for st in s.get("streams", [])
                           for leg in st.get("legs", []))
            out.append((d.name, s.get("call-id"), s.get("via-branch"), ports))
        return out

    def wait_records(self, want, deadline):
        """Polls until exactly `want` relay records exist; returns the last snapshot."""
        recs = self.relay_records()
        while len(recs) != want and time.monotonic() < deadline:
            time.sleep(0.2)
            recs = self.relay_records()
        return recs

    def c_fork_media(self):
        """1002 registered from two phones; the carrier calls it, the INVITE forks and both
        branches send 183 with SDP (early media): while they ring the relay holds one record
        per branch (same Call-ID, own via-branch, own ports). One answers, the other is
        cancelled: one record is left, media flows both ways on the winner, and after the BYE
        nothing is left."""
        for port in nls.PHONE2_PORTS:
            self.register(port=port, user=nls.USER2)
        try:
            self.counters()
            wins = self.sipp("ua", "uas_fork_answer.xml", UA, nls.PHONE2_PORTS[0],
                             keys={"user": nls.USER2}, mport=UA_MPORT)
            rings = self.sipp("ua", "uas_fork_ring.xml", UA, nls.PHONE2_PORTS[1],
                              keys={"user": nls.USER2}, mport=6400)
            time.sleep(0.4)
            caller = self.sipp("carrier", "uac_fork.xml", CARRIER, nls.CARRIER_UAC_PORT,
                               SBC + ":5060", keys={"user": "carrier", "domain": DOMAIN},
                               extra=["-s", nls.USER2], mport=CARRIER_MPORT, hold=2000)
            # Both 183s are through about 0.5 s in; the winner answers 3 s in.
            started = time.monotonic()
            ringing = self.wait_records(2, started + 2.5)
            answered = None
            if len(ringing) == 2:
                answered = self.wait_records(1, started + 6)
            err = self.wait_sipp(caller, wins, rings)
            if err:
                raise Fail("forked call with early media on both branches\n" + err)
            got = self.counters()
            if len(ringing) != 2:
                raise Fail("while both branches rang the relays held %d record(s), expected 2 "
                           "(one per branch): %s" % (len(ringing), ringing))
            (d1, c1, b1, p1), (d2, c2, b2, p2) = ringing
            if c1 != c2 or d1 != d2:
                raise Fail("the two branches' records are not one call on one relay: %s"
                           % ringing)
            if not b1 or not b2 or b1 == b2:
                raise Fail("the branches' records lack distinct via-branches: %s" % ringing)
            if set(p1) & set(p2):
                raise Fail("the branches' records share relay ports: %s" % ringing)
            if answered is None or len(answered) != 1 or answered[0][2] not in (b1, b2):
                raise Fail("after the answer and the CANCEL the relays held %s, expected one "
                           "of the two branch records" % answered)
            # Each phone got its own relay address:port in its INVITE.
            seen = []
            for p in (wins, rings):
                blocks = received_blocks(p.base + ".msg")
                ports = [m.group(1) for b in blocks if re.search(r"^INVITE ", b, re.M)
                         for m in [re.search(r"m=audio (\d+)", b)] if m]
                seen.append(ports[0] if ports else None)
            if None in seen or seen[0] == seen[1]:
                raise Fail("the two branches' INVITEs did not carry their own relay ports "
                           "(m=audio %s)" % seen)
            need = int(RTP_PACKETS * 0.8)
            to_carrier = self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier")
            to_phone = self.expect_media(got, ("ua", UA_MPORT), need, "answering phone")
            self.clean_after("forked call with early media")
            return ("ringing: 2 records (%s, %s; ports %s / %s), answered: 1 (%s); INVITE "
                    "media ports %s / %s; carrier got %d, phone got %d of %d" % (
                        b1, b2, p1, p2, answered[0][2], seen[0], seen[1], to_carrier,
                        to_phone, RTP_PACKETS))
        finally:
            for port in nls.PHONE2_PORTS:
                self.register(port=port, user=nls.USER2, expires="0")

    def c_cancel_offer_pending(self):
        """The carrier cancels a call while sbc-sip waits for the dataplane's answer to the
        offer (both relays are stopped with SIGSTOP for 1.5 s, less than the ng timeout): 200
        for the CANCEL, 487 for the INVITE, the INVITE never forwarded, and once the relay
        runs again and answers the offer, its record is deleted."""
        self.register()
        stopped = self.running_dps()
        fw = nls.find_key(self.proxy.ctl("stats"), "forwarded") or 0
        engaged = self.media_engaged()
        for d in stopped:
            os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            caller = self.sipp("carrier", "uac_cancel_early.xml", CARRIER,
                               nls.CARRIER_UAC_PORT, SBC + ":5060",
                               keys={"user": "carrier", "domain": DOMAIN},
                               extra=["-s", USER], mport=CARRIER_MPORT)
            time.sleep(1.5)
        finally:
            for d in stopped:
                os.kill(d.proc.pid, signal.SIGCONT)
        err = self.wait_sipp(caller)
        if err:
            raise Fail("CANCEL while the offer is at the dataplane: expected 200 and 487\n"
                       + err)
        deadline = time.monotonic() + 5
        while self.media_engaged() <= engaged and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.media_engaged() <= engaged:
            raise Fail("the dataplane never answered the offer (media_engaged %d)" % engaged)
        fw_after = nls.find_key(self.proxy.ctl("stats"), "forwarded") or 0
        if fw_after != fw:
            raise Fail("sbc-sip forwarded %d request(s) for a call cancelled before its offer "
                       "was answered" % (fw_after - fw))
        self.clean_after("CANCEL while the offer is at the dataplane")
        return "200 + 487 while the relays were stopped; nothing forwarded; offer answered " \
            "after SIGCONT and its record deleted"

    def dp_state(self, dp):
        """sbc-sip's view of dataplane dp: True up, False down, None not listed."""
        dps = nls.find_key(self.proxy.ctl("stats"), "dataplanes") or []
        if isinstance(dps, dict):
            dps = dps.get("dataplanes") or []
        for d in dps:
            if isinstance(d, dict) and d.get("address") == dp.ng_addr:
                return bool(d.get("up"))
        return None

    def one_call(self, what):
        """A phone -> carrier call with media; returns the relay addresses it used."""
        caller, callee, got, _ = self.call("uac_media.xml", "uas_media.xml", what)
        need = int(RTP_PACKETS * 0.8)
        self.expect_media(got, ("carrier", CARRIER_MPORT), need, "carrier")
        self.expect_media(got, ("ua", UA_MPORT), need, "phone")
        return set(self.relay_in_sdp(caller) + self.relay_in_sdp(callee))

    def c_dp_returns(self):
        """The killed dataplane is started again: sbc-sip puts it back in rotation when it
        answers ping, and new calls reach it again."""
        dead = [d for d in self.dps if not d.alive()]
        if not dead:
            raise Skip("no dataplane was killed (run dataplane-failover first)")
        back = dead[0]
        shutil.rmtree("/var/run/dpdk/" + back.prefix, ignore_errors=True)
        back.start()
        started = time.monotonic()
        while self.dp_state(back) is not True:
            if time.monotonic() - started > 20:
                raise Fail("sbc-sip still counts %s as down 20 s after it answers ping again"
                           % back.name)
            time.sleep(0.5)
        noticed = time.monotonic() - started
        used = set()
        for i in range(4):
            used |= self.one_call("call %d after %s came back" % (i + 1, back.name))
            if back.media in used:
                break
        if back.media not in used:
            raise Fail("4 calls after %s came back, none used it (relays used: %s)"
                       % (back.name, sorted(used)))
        return "%s back in rotation %.1f s after restart; call %d used it" % (
            back.name, noticed, i + 1)

    def c_call_right_after_kill(self):
        """Calls placed right after a dataplane dies, before sbc-sip has noticed: an offer the
        dead one swallows must be tried on the other dataplane, not fail the call with 500."""
        if len(self.running_dps()) < 2:
            raise Skip("needs two running dataplanes")
        victim, other = self.dps
        victim.kill()
        notes = []
        # Smooth weighted round robin: of three new calls at least one is picked for the dead
        # dataplane unless sbc-sip has already taken it out of rotation.
        for i in range(3):
            used = self.one_call("call %d right after %s was killed" % (i + 1, victim.name))
            if used != {other.media}:
                raise Fail("call %d used relay(s) %s, expected %s only" % (
                    i + 1, sorted(used), other.media))
            notes.append(other.name)
        return "3 calls right after %s was killed, all on %s" % (victim.name, other.name)

    def run_media_checks(self, only):
        checks = [
            ("call-out-media", self.c_call_out),
            ("call-in-media", self.c_call_in),
            ("reinvite-moves-media", self.c_move),
            ("hold-resume", self.c_hold),
            ("reinvite-refused-keeps-media", self.c_move_refused),
            ("hold-outlasts-media-timeout", self.c_hold_long),
            ("cancel-releases-media", lambda: self.released(
                "uac_cancel.xml", "uas_cancel.xml", "phone cancels a ringing call")),
            ("busy-486-releases-media", lambda: self.released(
                "uac_busy.xml", "uas_busy.xml", "carrier answers 486")),
            ("media-timeout-bye", self.c_timeout),
            ("fork-media-per-branch", self.c_fork_media),
            ("cancel-while-offer-pending", self.c_cancel_offer_pending),
            ("dataplane-failover", self.c_failover),
            ("dataplane-returns", self.c_dp_returns),
            ("call-right-after-kill", self.c_call_right_after_kill),
        ]
        for name, fn in checks:
            if only and name not in only:
                continue
            self.check(name, fn)
            if name in self.failed or (name in self.known and name not in self.passed):
                for d in self.dps:
                    print("# dataplane %s log (last lines):\n%s" % (d.name, nls.tail(d.log, 15)),
                          flush=True)


def message_times(path):
    """[(unix time, "sent"|"received", first line)] of a SIPp -message_file."""
    out = []
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    stamp = None
    for i, line in enumerate(lines):
        m = re.match(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)", line)
        if m:
            stamp = time.mktime(time.strptime(m.group(1).split(".")[0], "%Y-%m-%d %H:%M:%S")) \
                + float("0." + m.group(1).split(".")[1])
            continue
        m = re.match(r"^\S+ message (sent|received)", line)
        if m and stamp is not None:
            first = next((x.strip() for x in lines[i + 1:] if x.strip()), "")
            out.append((stamp, m.group(1), first))
    return out


def received_blocks(path):
    """The text of each message SIPp logged as received in a -message_file."""
    try:
        with open(path, errors="replace") as f:
            blocks = f.read().split("message received")[1:]
    except OSError:
        return []
    # A block runs until the next message logged, received or sent.
    return [b.split("message sent")[0].split("\n-----------------")[0] for b in blocks]


def received_requests(path):
    """The header lines of each request SIPp logged as received in a -message_file."""
    out = []
    for b in received_blocks(path):
        lines = [line.strip() for line in b.splitlines()[1:]]
        while lines and not lines[0]:
            lines.pop(0)
        if not lines or lines[0].startswith("SIP/2.0"):
            continue
        hdrs = []
        for line in lines:
            if not line:
                break
            hdrs.append(line)
        out.append(hdrs)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated check names")
    ap.add_argument("--keep", metavar="DIR", help="copy the logs of the run to DIR")
    ap.add_argument("--known-failures", default="", metavar="NAME,...",
                    help="checks whose failure is a known, reported daemon bug: printed as "
                         "XFAIL and not counted (XPASS when they pass: drop them from the list)")
    ap.add_argument("sbc_sip")
    ap.add_argument("sbc_db")
    ap.add_argument("sbc_dataplane")
    a = ap.parse_args()
    a.sbc_sip, a.sbc_db, a.sbc_dataplane = (os.path.abspath(x) for x in
                                           (a.sbc_sip, a.sbc_db, a.sbc_dataplane))
    if os.geteuid() != 0:
        print("SKIP: natlab-media needs root (network namespaces, DPDK)")
        return 77
    for t in ("ip", "iptables", "ethtool", "sipp"):
        if not shutil.which(t):
            print("SKIP: %s missing" % t)
            return 77
    for b in (a.sbc_db, a.sbc_dataplane):
        if not os.access(b, os.X_OK):
            print("SKIP: %s is not executable" % b)
            return 77
    helptext = subprocess.run([a.sbc_sip, "--help"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout
    if "--dataplane" not in helptext:
        print("SKIP: sbc-sip has no --dataplane")
        return 77

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    lab = MediaLab(a.sbc_sip, a.sbc_db, a.sbc_dataplane)
    lab.known = set(x for x in a.known_failures.split(",") if x)
    rc = 1
    try:
        lab.setup()
        for d in lab.dps:
            d.spawn()
        for d in lab.dps:
            d.wait_ready()
        lab.proxy = MediaProxy(lab)
        lab.proxy.start()
        lab.run_media_checks(set(x for x in a.only.split(",") if x))
        xfail = sorted((lab.known & lab.ran) - set(lab.passed) - set(lab.failed))
        print("# %d passed, %d failed%s, %d known failures%s" % (
            len(lab.passed), len(lab.failed),
            (" (" + ", ".join(lab.failed) + ")") if lab.failed else "", len(xfail),
            (" (" + ", ".join(xfail) + ")") if xfail else ""))
        rc = 1 if lab.failed else 0
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        print("FAIL: lab set-up: %s" % e)
    finally:
        try:
            if a.keep:
                for p in list(lab.procs):
                    lab.stop(p, wait=3)
                shutil.copytree(lab.tmp, a.keep, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.ctl"))
        finally:
            lab.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
