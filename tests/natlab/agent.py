#!/usr/bin/env python3
"""agent.py: an RTP/RTCP endpoint for the NAT lab.

    agent.py --bind IP:PORT --ssrc N [--to IP:PORT ...] [--count N] [--interval S] [--wait S]
             [--rtcp]

Sends --count RTP packets (PCMU-sized, sequence numbers, our SSRC) every --interval seconds to
each --to, and with --rtcp an RTCP receiver report from PORT+1 to each target's port+1 every tenth
packet. Receives on both sockets meanwhile and for --wait seconds after, then prints one JSON
object: {"sent": n, "rtp": {ssrc: count}, "rtcp": {ssrc: count}, "sources": [...]}.
"""
import argparse
import json
import select
import socket
import struct
import time


def endpoint(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", type=endpoint, required=True)
    ap.add_argument("--to", type=endpoint, action="append", default=[])
    ap.add_argument("--ssrc", type=int, required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--wait", type=float, default=1.0)
    ap.add_argument("--rtcp", action="store_true")
    a = ap.parse_args()

    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(a.bind)
    socks = [rtp]
    rtcp = None
    if a.rtcp:
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp.bind((a.bind[0], a.bind[1] + 1))
        socks.append(rtcp)
    got = {"rtp": {}, "rtcp": {}}
    sources = set()
    sent = 0
    nxt = time.monotonic()
    end = None
    while True:
        now = time.monotonic()
        if sent < a.count and now >= nxt:
            for to in a.to:
                hdr = struct.pack("!BBHII", 0x80, 0, sent & 0xffff, sent * 160, a.ssrc)
                rtp.sendto(hdr + b"\xff" * 160, to)
                if rtcp and sent % 10 == 0:
                    rtcp.sendto(struct.pack("!BBHI", 0x80, 201, 1, a.ssrc), (to[0], to[1] + 1))
            sent += 1
            nxt += a.interval
            if sent == a.count:
                end = now + a.wait
        if end is not None and now >= end:
            break
        timeout = max(0.0, min(nxt if sent < a.count else end, now + 0.05) - now)
        r, _, _ = select.select(socks, [], [], timeout)
        for s in r:
            data, src = s.recvfrom(2048)
            kind = "rtcp" if s is rtcp else "rtp"
            off = 4 if kind == "rtcp" else 8
            if len(data) >= off + 4:
                ssrc = str(struct.unpack("!I", data[off:off + 4])[0])
                got[kind][ssrc] = got[kind].get(ssrc, 0) + 1
            sources.add("%s:%d" % src)
    print(json.dumps({"sent": sent, "rtp": got["rtp"], "rtcp": got["rtcp"],
                      "sources": sorted(sources)}))


if __name__ == "__main__":
    main()
