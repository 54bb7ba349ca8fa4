#!/usr/bin/env python3
"""Rebuild or check the SIP torture corpus from the RFCs' own archives.

RFC 4475 and RFC 5118 each end with an Appendix A holding a base64 encoded,
gzip compressed tar of every test message.  The two base64 blocks are kept in
archive/ exactly as printed in the RFCs (page furniture removed), so this
script can prove that the .dat files are what the RFCs publish.

  regen.py          write rfc4475/*.dat and rfc5118/*.dat from the archives
  regen.py --check  rebuild in memory, compare with the files on disk, and run
                    the framing checks listed in README.md; exit 1 on any error

RFC 4475 members are copied bit for bit.  RFC 5118 members need three
mechanical repairs to become wire messages (see README.md): LF -> CRLF, a
missing empty line after the header section is added, and Content-Length is
set to the real body length.  Nothing else is touched.
"""

import base64
import gzip
import io
import os
import re
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CRLF = b"\r\n"


def members(b64_name):
    """Return {file name: bytes} for every regular file in one archive."""
    with open(os.path.join(HERE, "archive", b64_name), "rb") as f:
        raw = base64.b64decode(b"".join(f.read().split()))
    # gzip verifies its CRC32 here: a single wrong base64 character fails.
    data = gzip.decompress(raw)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[os.path.basename(m.name)] = tar.extractfile(m).read()
    return out


def split_message(msg):
    """Split at the first empty line; header section keeps no final CRLF."""
    i = msg.find(CRLF + CRLF)
    if i < 0:
        return msg, None
    return msg[:i], msg[i + 4:]


def header_lines(head):
    """Unfold header lines (RFC 3261 section 7.3.1) and drop the start line."""
    lines = head.split(CRLF)[1:]
    out = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b" " + line.strip()
        else:
            out.append(line)
    return out


def content_lengths(head):
    vals = []
    for line in header_lines(head):
        m = re.match(rb"(?i)(content-length|l)[ \t]*:[ \t]*(.*)$", line)
        if m:
            vals.append(m.group(2).strip())
    return vals


def wire_5118(msg):
    """RFC 5118's archive uses bare LF: turn a member into a wire message."""
    msg = msg.replace(CRLF, b"\n").replace(b"\n", CRLF)
    head, body = split_message(msg)
    if body is None:
        # Section 4.10's two members stop after the last header line.
        head, body = msg[:-2] if msg.endswith(CRLF) else msg, b""
    lines = head.split(CRLF)
    for n, line in enumerate(lines):
        m = re.match(rb"(?i)(content-length[ \t]*:[ \t]*)\d+$", line)
        if m:
            lines[n] = m.group(1) + str(len(body)).encode()
    return CRLF.join(lines) + CRLF + CRLF + body


def build():
    files = {}
    for name, data in members("rfc4475-appendix-a.b64").items():
        files["rfc4475/" + name] = data
    for name, data in members("rfc5118-appendix-a.b64").items():
        files["rfc5118/" + name + ".dat"] = wire_5118(data)
    return files


def load_verdicts():
    rows = {}
    with open(os.path.join(HERE, "verdicts.tsv"), "rb") as f:
        for n, line in enumerate(f.read().split(b"\n"), 1):
            if not line:
                continue
            cols = line.decode("utf-8").split("\t")
            if len(cols) != 4:
                raise SystemExit("verdicts.tsv:%d: want 4 columns" % n)
            rows[cols[0]] = cols
    return rows


def check_framing(path, msg, verdict, errors):
    head, body = split_message(msg)
    # Only rfc4475/baddn.dat lacks the empty line: that is the RFC's own
    # archive, and its verdict (400) does not depend on it.
    if body is None and path != "rfc4475/baddn.dat":
        errors.append("%s: no empty line after the header section" % path)
    if re.search(rb"(?<!\r)\n|\r(?!\n)", head + CRLF):
        errors.append("%s: bare CR or LF in the header section" % path)
    if body is None or verdict != "accept":
        return
    cls = content_lengths(head)
    if path == "rfc4475/inv2543.dat":
        # RFC 2543 style: no Content-Length, the body runs to the datagram end.
        if cls:
            errors.append("%s: expected no Content-Length" % path)
        return
    if len(cls) != 1:
        errors.append("%s: want one Content-Length, got %r" % (path, cls))
        return
    declared = int(cls[0])
    if path == "rfc4475/dblreq.dat":
        # The octets after the declared (empty) body are an extra CRLF and
        # then the trailing INVITE that must be ignored.
        if declared != 0 or not body.startswith(CRLF + b"INVITE "):
            errors.append("%s: trailing request not where expected" % path)
        return
    if declared != len(body):
        errors.append("%s: Content-Length %d, body %d" % (path, declared, len(body)))


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        raise SystemExit("usage: regen.py [--check]")
    files = build()
    if not check:
        for path, data in files.items():
            full = os.path.join(HERE, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        print("wrote %d files" % len(files))
        return 0
    errors = []
    verdicts = load_verdicts()
    on_disk = set()
    for sub in ("rfc4475", "rfc5118"):
        for name in os.listdir(os.path.join(HERE, sub)):
            on_disk.add(sub + "/" + name)
    for path in sorted(on_disk | set(files) | set(verdicts)):
        if path not in files:
            errors.append("%s: not in the RFC archives" % path)
            continue
        full = os.path.join(HERE, path)
        if not os.path.exists(full):
            errors.append("%s: missing on disk" % path)
            continue
        with open(full, "rb") as f:
            disk = f.read()
        if disk != files[path]:
            errors.append("%s: differs from the RFC archive" % path)
        if path not in verdicts:
            errors.append("%s: no line in verdicts.tsv" % path)
            continue
        check_framing(path, disk, verdicts[path][1], errors)
    for e in errors:
        print(e)
    print("%d files, %d errors" % (len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
