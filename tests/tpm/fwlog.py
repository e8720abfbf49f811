#!/usr/bin/env python3
"""A crypto-agile TCG firmware event log (SHA-1 and SHA-256 digests, Spec ID Event03 header) for
the tests, written independently of vigil's reader: fwlog.py LOG EXTEND-LIST. EXTEND-LIST has one
tpm2_pcrextend argument per extended event (PCR:sha256=HEX), to put the same digests into a TPM."""
import hashlib, struct, sys
def ev1(pcr, typ, data):  # TCG_PCR_EVENT (the SHA-1 format header)
    return struct.pack("<II", pcr, typ) + b"\0" * 20 + struct.pack("<I", len(data)) + data
def ev2(pcr, typ, data, digest_of=None):
    d = data if digest_of is None else digest_of
    s1, s256 = hashlib.sha1(d).digest(), hashlib.sha256(d).digest()
    if typ == 3:
        s1, s256 = b"\0" * 20, b"\0" * 32
    return (struct.pack("<III", pcr, typ, 2) + struct.pack("<H", 4) + s1 + struct.pack("<H", 11) + s256
            + struct.pack("<I", len(data)) + data), s256
spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2) + struct.pack("<HHHH", 4, 20, 11, 32) + b"\0"
log = ev1(0, 3, spec)
events = [(0, 8, b"vigil test CRTM version\0"), (0, 0x80000008, b"platform firmware blob"),
          (1, 0x8000000b, b"handoff tables"), (2, 0x80000004, b"option rom")]
events += [(i, 4, b"\0\0\0\0") for i in range(8)]  # EV_SEPARATOR in PCRs 0-7
events += [(4, 0x80000003, b"boot application"), (7, 0x800000e0, b"secure boot var")]
events.insert(1, (0, 3, b"not extended: EV_NO_ACTION"))
ext = []
for pcr, typ, data in events:
    e, d = ev2(pcr, typ, data)
    log += e
    if typ != 3:
        ext.append(f"{pcr}:sha256={d.hex()}")
open(sys.argv[1], "wb").write(log + b"\xff" * 64)  # the log area's padding
open(sys.argv[2], "w").write("\n".join(ext) + "\n")
