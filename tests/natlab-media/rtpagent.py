#!/usr/bin/env python3
"""rtpagent.py: an RTP endpoint that listens at once and starts sending later.

    rtpagent.py --bind IP:PORT --to IP:PORT --ssrc N [--delay S] [--count N] [--interval S]
                [--wait S]

Binds IP:PORT, receives from the start, waits --delay seconds, sends --count PCMU-sized RTP
packets (our SSRC) every --interval seconds to --to, keeps receiving --wait seconds more and
prints {"sent": n, "rtp": {ssrc: count}, "sources": [...]}. (tests/natlab/agent.py sends from
the first moment; behind a NAT the relay cannot reach a phone before the phone's own first
packet, so the moved callee waits for that.)
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
    ap.add_argument("--to", type=endpoint, required=True)
    ap.add_argument("--ssrc", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--wait", type=float, default=1.0)
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(a.bind)
    got, sources, sent = {}, set(), 0
    start = time.monotonic()
    nxt = start + a.delay
    end = nxt + a.count * a.interval + a.wait
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if sent < a.count and now >= nxt:
            hdr = struct.pack("!BBHII", 0x80, 0, sent & 0xffff, sent * 160, a.ssrc)
            s.sendto(hdr + b"\xff" * 160, a.to)
            sent += 1
            nxt += a.interval
            continue
        limit = nxt if sent < a.count else end
        r, _, _ = select.select([s], [], [], max(0.0, min(limit, end) - now))
        if r:
            data, src = s.recvfrom(2048)
            if len(data) >= 12:
                ssrc = str(struct.unpack("!I", data[8:12])[0])
                got[ssrc] = got.get(ssrc, 0) + 1
            sources.add("%s:%d" % src)
    print(json.dumps({"sent": sent, "rtp": got, "sources": sorted(sources)}))


if __name__ == "__main__":
    main()
