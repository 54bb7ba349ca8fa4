#!/usr/bin/python3
"""Drive the Kamailio NAT oracle over the SIP corpus (called by tests/oracle/run).

send   runs inside the sender namespace: sends each corpus message from its exact
       source address, port and transport to Kamailio, and reads the flags that
       Kamailio logged for it.  Writes one "name<TAB>flags" line per message.
write  stores those flags as flags= in each .meta file.
check  runs `sbc-sip --analyze` on each message and compares its flags with
       Kamailio's; prints every difference and exits 1 if there is one.

Only the Python standard library is used, so that Debian's python3 is enough.
"""

import argparse
import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import time

BITS = [
    (1, "contact-private"),
    (2, "via-address"),
    (4, "via-private"),
    (8, "sdp-private"),
    (16, "via-port"),
    (32, "source-private"),
    (64, "websocket"),
    (128, "contact-port"),
    (256, "sdp-address"),
    (512, "target-differs"),
]

WAIT_PER_MESSAGE = 3.0


def die(msg, code=2):
    print("oracle: " + msg, file=sys.stderr)
    sys.exit(code)


def parse_hostport(text):
    """'192.0.2.1:5060' or '[2001:db8::1]:5060' -> (address string, port)."""
    if text.startswith("["):
        end = text.index("]")
        host, rest = text[1:end], text[end + 1:]
    else:
        host, _, rest = text.rpartition(":")
        rest = ":" + rest
    if not rest.startswith(":"):
        raise ValueError("no port in " + text)
    addr = ipaddress.ip_address(host)
    return str(addr), int(rest[1:])


def read_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                die("%s: line without '=': %s" % (path, line))
            meta[key.strip()] = value.strip()
    for key in ("source", "transport"):
        if key not in meta:
            die("%s: missing %s=" % (path, key))
    if meta["transport"] not in ("udp", "tcp"):
        die("%s: transport must be udp or tcp" % path)
    return meta


def corpus(directory):
    """Sorted list of (name, sip path, meta path, meta dict)."""
    items = []
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".sip"):
            continue
        name = entry[:-4]
        sip = os.path.join(directory, entry)
        meta = os.path.join(directory, name + ".meta")
        if not os.path.exists(meta):
            die("%s has no .meta" % sip)
        items.append((name, sip, meta, read_meta(meta)))
    if not items:
        die("no .sip files in " + directory)
    return items


def header_value(data, names):
    """First value of a header (any of names, compact forms included)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    for line in head.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in names:
            return value.strip()
    return None


def flags_text(value):
    names = [n for bit, n in BITS if value & bit]
    return "%d (%s)" % (value, ",".join(names) if names else "none")


# ---------------------------------------------------------------- send


class LogReader:
    """Follows Kamailio's stderr log and returns its ORACLE lines."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.buf = b""

    def lines(self):
        chunk = self.f.read()
        if chunk:
            self.buf += chunk
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            pos = text.find("ORACLE|")
            if pos >= 0:
                out.append(text[pos:].split("|"))
        return out

    def wait_for(self, call_id, cseq, timeout):
        """Flags logged for (Call-ID, CSeq) or None; other lines are skipped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for fields in self.lines():
                # ORACLE|kind|callid|cseq method|si|sp|proto|flags|
                if len(fields) >= 8 and fields[2] == call_id and \
                        " ".join(fields[3].split()) == cseq:
                    return int(fields[7])
            time.sleep(0.01)
        return None


def send_udp(data, src, dst):
    family = socket.AF_INET6 if ":" in src[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(src)
    s.sendto(data, dst)
    return s


def send_tcp(data, src, dst):
    family = socket.AF_INET6 if ":" in src[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Reset on close: no TIME_WAIT, so a source address:port can be reused.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(3)
    s.bind(src)
    s.connect(dst)
    s.sendall(data)
    return s


def wait_ready(log, probe_src, dst, timeout=15.0):
    """Kamailio is ready once a probe OPTIONS comes back as a log line."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        call_id = "oracle-probe-%d" % n
        msg = ("OPTIONS sip:%s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-probe%d\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:probe@invalid>;tag=p%d\r\n"
               "To: <sip:%s>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n") % (
                   dst[0], probe_src[0], probe_src[1], n, n, dst[0], call_id)
        s = send_udp(msg.encode(), probe_src, dst)
        got = log.wait_for(call_id, "1 OPTIONS", 0.3)
        s.close()
        if got is not None:
            break
    else:
        die("Kamailio did not log the probe within %.0f s" % timeout)
    # The TCP listener starts with the other processes; make sure it accepts.
    while time.monotonic() < deadline:
        try:
            c = socket.create_connection(dst, timeout=1)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    die("Kamailio's TCP listener did not accept within %.0f s" % timeout)


def cmd_send(args):
    log = LogReader(args.log)
    dst4 = (args.kamailio4, 5060)
    dst6 = (args.kamailio6, 5060)
    wait_ready(log, parse_hostport(args.probe), dst4)
    failed = False
    with open(args.out, "w", encoding="utf-8") as out:
        for name, sip, _meta_path, meta in corpus(args.corpus):
            with open(sip, "rb") as f:
                data = f.read()
            call_id = header_value(data, ("call-id", "i"))
            cseq = header_value(data, ("cseq",))
            if call_id is None or cseq is None:
                die("%s: no Call-ID or CSeq" % sip)
            cseq = " ".join(cseq.split())
            src = parse_hostport(meta["source"])
            dst = dst6 if ":" in src[0] else dst4
            try:
                if meta["transport"] == "tcp":
                    s = send_tcp(data, src, dst)
                else:
                    s = send_udp(data, src, dst)
            except OSError as e:
                die("%s: cannot send from %s: %s" % (name, meta["source"], e))
            flags = log.wait_for(call_id, cseq, WAIT_PER_MESSAGE)
            s.close()
            if flags is None:
                print("oracle: %s: Kamailio logged nothing (dropped as "
                      "unparsable?)" % name, file=sys.stderr)
                failed = True
                continue
            out.write("%s\t%d\n" % (name, flags))
    return 1 if failed else 0


# ---------------------------------------------------------------- write / check


def read_results(path):
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, flags = line.split()
            results[name] = int(flags)
    return results


def cmd_write(args):
    results = read_results(args.results)
    for name, _sip, meta_path, meta in corpus(args.corpus):
        if name not in results:
            die("%s: no result from Kamailio" % name)
        flags = results[name]
        with open(meta_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        lines = [l for l in lines if not l.startswith("flags=")]
        # Keep flags= right after transport= so that .meta files read alike.
        pos = next((i + 1 for i, l in enumerate(lines)
                    if l.startswith("transport=")), len(lines))
        lines.insert(pos, "flags=%d" % flags)
        with open(meta_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        old = meta.get("flags")
        mark = "" if old is None or int(old) == flags else \
            "   (was %s)" % old
        print("%-40s %s%s" % (name, flags_text(flags), mark))
    return 0


def analyze(sbc_sip, sip, meta):
    cmd = [sbc_sip, "--analyze", sip, "--source", meta["source"],
           "--transport", meta["transport"]]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "cannot run %s: %s" % (" ".join(cmd), e)
    try:
        doc = json.loads(p.stdout.decode("utf-8", "replace"))
    except ValueError:
        return None, "exit %d, not JSON: %r %r" % (
            p.returncode, p.stdout[:200], p.stderr[:200])
    if not doc.get("valid", False):
        return None, "rejected: %s" % doc.get("error", "?")
    try:
        return int(doc["nat"]["flags"]), None
    except (KeyError, TypeError, ValueError):
        return None, "no nat.flags in %r" % doc


def cmd_check(args):
    results = read_results(args.results)
    differences = 0
    for name, sip, _meta_path, meta in corpus(args.corpus):
        if name not in results:
            print("%s: Kamailio logged nothing" % name)
            differences += 1
            continue
        theirs = results[name]
        if "flags" in meta and int(meta["flags"]) != theirs:
            print("%s: .meta says flags=%s but Kamailio now reports %s "
                  "(run tests/oracle/run --write)" % (
                      name, meta["flags"], flags_text(theirs)))
            differences += 1
        ours, err = analyze(args.sbc_sip, sip, meta)
        if err:
            print("%s: sbc-sip %s" % (name, err))
            differences += 1
            continue
        # Deliberate differences are declared in the .meta: sbc_extra= holds bits sbc-sip
        # sets where Kamailio does not (sbc-sip also treats IPv6 ULA fc00::/7 as private,
        # nathelper 5.6 classifies IPv4 only), and sbc_extra_why= says why.
        extra = int(meta.get("sbc_extra", "0"))
        if extra and not meta.get("sbc_extra_why"):
            print("%s: sbc_extra= needs an sbc_extra_why= line" % name)
            differences += 1
        theirs |= extra
        if ours == theirs:
            continue
        differences += 1
        for bit, bit_name in BITS:
            if (ours ^ theirs) & bit:
                print("%s: bit %d %s: kamailio=%d sbc-sip=%d" % (
                    name, bit, bit_name, 1 if theirs & bit else 0,
                    1 if ours & bit else 0))
    total = len(results)
    if differences:
        print("oracle: %d difference(s) over %d messages" % (differences,
                                                            total))
        return 1
    print("oracle: sbc-sip agrees with Kamailio on all %d messages" % total)
    return 0


def cmd_sources(args):
    """Print each distinct source address (for the namespace set-up)."""
    seen = set()
    for _name, _sip, _meta_path, meta in corpus(args.corpus):
        addr, _port = parse_hostport(meta["source"])
        if addr not in seen:
            seen.add(addr)
            print(addr)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("--corpus", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--kamailio4", required=True)
    p.add_argument("--kamailio6", required=True)
    p.add_argument("--probe", required=True)
    p = sub.add_parser("write")
    p.add_argument("--corpus", required=True)
    p.add_argument("--results", required=True)
    p = sub.add_parser("check")
    p.add_argument("--corpus", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--sbc-sip", required=True)
    p = sub.add_parser("sources")
    p.add_argument("--corpus", required=True)
    args = ap.parse_args()
    return {"send": cmd_send, "write": cmd_write, "check": cmd_check,
            "sources": cmd_sources}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
