#!/usr/bin/env python3
"""ng.py: a minimal rtpengine ng client for the NAT lab.

    ng.py HOST:PORT '<JSON object>'

Sends the object bencoded as "cookie SP dict" over UDP and prints the reply dictionary as JSON
(byte strings decoded as UTF-8). Exit status 1 when no reply arrives within 2 seconds.
"""
import json
import os
import socket
import sys


def bencode(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in v.items()) + b"e"
    raise TypeError(type(v))


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        out = [] if c == b"l" else {}
        while b[i:i + 1] != b"e":
            if c == b"l":
                v, i = bdecode(b, i)
                out.append(v)
            else:
                k, i = bdecode(b, i)
                v, i = bdecode(b, i)
                out[k] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n].decode("utf-8", "replace"), j + 1 + n


def request(addr, obj, timeout=2.0):
    host, port = addr.rsplit(":", 1)
    cookie = b"%d_%d" % (os.getpid(), id(obj) & 0xffff)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(cookie + b" " + bencode(obj), (host, int(port)))
    data, _ = s.recvfrom(65535)
    c, body = data.split(b" ", 1)
    if c != cookie:
        raise ValueError("cookie mismatch")
    return bdecode(body)[0]


if __name__ == "__main__":
    try:
        print(json.dumps(request(sys.argv[1], json.loads(sys.argv[2]))))
    except socket.timeout:
        sys.exit(1)
