#!/usr/bin/python3
"""Normalize corpus messages in place: CRLF line ends, exact Content-Length.

    tests/oracle/normalize.py tests/data/sip/*.sip

Messages are easier to write with plain LF line ends; this turns every line
end into CRLF (RFC 3261 section 7: SIP and SDP lines end in CRLF) and sets the
Content-Length header (or its compact form l:) to the size of the body.
"""

import re
import sys


def normalize(data):
    text = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if b"\r\n\r\n" not in text:
        text = text.rstrip(b"\r\n") + b"\r\n\r\n"
    head, body = text.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    found = False
    for i, line in enumerate(lines):
        m = re.match(rb"(?i)(content-length|l)(\s*:\s*)\d+\s*$", line)
        if m:
            lines[i] = m.group(1) + m.group(2) + str(len(body)).encode()
            found = True
    if not found:
        sys.exit("no Content-Length header")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def main():
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        new = normalize(data)
        if new != data:
            with open(path, "wb") as f:
                f.write(new)
            print("normalized " + path)


if __name__ == "__main__":
    main()
