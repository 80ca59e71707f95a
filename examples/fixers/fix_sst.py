#!/usr/bin/env python3
"""A small CCMCertFix-like fixer for serialized certificate stores (.sst).

    python3 fix_sst.py IN.sst OUT.sst

For every certificate whose friendly name (property 11) has a U+0000 before
its last code unit, keeps the text before the first U+0000 plus one
terminator (certmig's `truncate` policy). Every other byte is copied as is.
Exits 2 and writes nothing when IN is not a well-formed store.

An example of a fix tool written outside Rust, validated with:

    certmig validate --fixer 'python3 examples/fixers/fix_sst.py {in} {out}' --format sst
"""
import struct
import sys

HEADER = b"\x00\x00\x00\x00CERT"
FRIENDLY_NAME = 11


def repair(value):
    if len(value) % 2:
        return value  # not text: leave it alone
    units = [value[i:i + 2] for i in range(0, len(value), 2)]
    if b"\x00\x00" not in units[:-1]:
        return value  # no embedded NUL
    return b"".join(units[:units.index(b"\x00\x00")]) + b"\x00\x00"


def fix(data):
    if not data.startswith(HEADER):
        raise ValueError("not a serialized store (no 00000000 'CERT' header)")
    out, pos = bytearray(HEADER), len(HEADER)
    while True:
        if pos + 12 > len(data):
            raise ValueError(f"entry header past the end at byte {pos}")
        prop_id, reserved, length = struct.unpack_from("<III", data, pos)
        if prop_id == 0 and reserved == 0 and length == 0:
            if pos + 12 != len(data):
                raise ValueError(f"data after the end marker at byte {pos + 12}")
            return bytes(out + data[pos:pos + 12])
        if reserved != 1 or pos + 12 + length > len(data):
            raise ValueError(f"bad entry at byte {pos}")
        value = data[pos + 12:pos + 12 + length]
        if prop_id == FRIENDLY_NAME:
            value = repair(value)
        out += struct.pack("<III", prop_id, 1, len(value)) + value
        pos += 12 + length


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fix_sst.py IN.sst OUT.sst")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    try:
        fixed = fix(data)
    except ValueError as e:
        print(f"fix_sst.py: {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[2], "wb") as f:
        f.write(fixed)


if __name__ == "__main__":
    main()
