#!/usr/bin/env python3
"""The tests' second implementation of the KBS evidence binding (RFC 8785 JCS + SHA-384) and of
flattened JWE (A256GCM; ECDH-ES+A256KW with Concat KDF, RSA-OAEP-256), on Python's
`cryptography`. Used by tests/host/test_kbs_vectors.sh against vigil's C implementation.

  kbs_vectors.py jcs FILE                  -> JCS text of the JSON in FILE
  kbs_vectors.py binding NONCE JWK-FILE    -> SHA-384 hex of JCS({additional-evidence,nonce,tee-pubkey})
  kbs_vectors.py tee-binding NONCE JWK-FILE -> SHA-384 hex of JCS({nonce,tee-pubkey}) (TDX/SNP report data)
  kbs_vectors.py keys DIR                  -> DIR/{ec,rsa}.pem and DIR/{ec,rsa}.jwk (fixed EC key)
  kbs_vectors.py decrypt KEY-PEM JWE-FILE  -> plaintext hex
  kbs_vectors.py encrypt JWK-FILE HEX      -> a JWE (fixed CEK, IV and ephemeral key)
"""
import base64, hashlib, json, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jcs(v):
    """RFC 8785 for strings, integers, literals, arrays, objects (no reals)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            o = ord(ch)
            esc = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
            if ch in esc:
                out.append(esc[ch])
            elif o < 0x20:
                out.append("\\u%04x" % o)
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError("real numbers are not bound")


def kek(z, apu=b"", apv=b""):
    other = struct.pack(">I", 14) + b"ECDH-ES+A256KW" + struct.pack(">I", len(apu)) + apu + \
        struct.pack(">I", len(apv)) + apv + struct.pack(">I", 256)
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=32, otherinfo=other).derive(z)


def oaep():
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def decrypt(key, jwe):
    hdr = json.loads(unb64u(jwe["protected"]))
    assert hdr["enc"] == "A256GCM", hdr
    ek = unb64u(jwe["encrypted_key"])
    if hdr["alg"] == "ECDH-ES+A256KW":
        epk = hdr["epk"]
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(epk["x"]), "big"),
                                            int.from_bytes(unb64u(epk["y"]), "big"),
                                            ec.SECP256R1()).public_key()
        cek = aes_key_unwrap(kek(key.exchange(ec.ECDH(), pub)), ek)
    elif hdr["alg"] == "RSA-OAEP-256":
        cek = key.decrypt(ek, oaep())
    else:
        raise ValueError(hdr["alg"])
    aad = jwe["protected"].encode()
    return AESGCM(cek).decrypt(unb64u(jwe["iv"]), unb64u(jwe["ciphertext"]) + unb64u(jwe["tag"]), aad)


def encrypt(jwk, plain):
    cek, iv = bytes(range(32)), bytes(range(100, 112))
    if jwk["kty"] == "EC":
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(jwk["x"]), "big"),
                                             int.from_bytes(unb64u(jwk["y"]), "big"),
                                             ec.SECP256R1()).public_key()
        eph = ec.derive_private_key(0x1234567890ABCDEF, ec.SECP256R1())
        n = eph.public_key().public_numbers()
        hdr = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
               "epk": {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")),
                       "y": b64u(n.y.to_bytes(32, "big"))}}
        ek = aes_key_wrap(kek(eph.exchange(ec.ECDH(), peer)), cek)
    else:
        pub = rsa.RSAPublicNumbers(int.from_bytes(unb64u(jwk["e"]), "big"),
                                   int.from_bytes(unb64u(jwk["n"]), "big")).public_key()
        hdr = {"alg": "RSA-OAEP-256", "enc": "A256GCM"}
        ek = pub.encrypt(cek, oaep())
    prot = b64u(json.dumps(hdr, separators=(",", ":")).encode())
    ct = AESGCM(cek).encrypt(iv, plain, prot.encode())
    return {"protected": prot, "encrypted_key": b64u(ek), "iv": b64u(iv),
            "ciphertext": b64u(ct[:-16]), "tag": b64u(ct[-16:])}


def main():
    cmd = sys.argv[1]
    if cmd == "jcs":
        print(jcs(json.load(open(sys.argv[2]))))
    elif cmd == "binding":
        o = {"additional-evidence": "", "nonce": sys.argv[2], "tee-pubkey": json.load(open(sys.argv[3]))}
        print(hashlib.sha384(jcs(o).encode()).hexdigest())
    elif cmd == "tee-binding":  # Trustee's runtime data for additional evidence
        o = {"nonce": sys.argv[2], "tee-pubkey": json.load(open(sys.argv[3]))}
        print(hashlib.sha384(jcs(o).encode()).hexdigest())
    elif cmd == "keys":
        d = sys.argv[2]
        eck = ec.derive_private_key(0xC0FFEE1234567890C0FFEE1234567890, ec.SECP256R1())
        n = eck.public_key().public_numbers()
        rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rn = rk.public_key().public_numbers()
        for name, k, jwk in (
                ("ec", eck, {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
                             "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}),
                ("rsa", rk, {"kty": "RSA", "alg": "RSA-OAEP-256", "n": b64u(rn.n.to_bytes(256, "big")),
                             "e": b64u(rn.e.to_bytes(3, "big"))})):
            open(f"{d}/{name}.pem", "wb").write(k.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            json.dump(jwk, open(f"{d}/{name}.jwk", "w"))
    elif cmd == "decrypt":
        key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
        print(decrypt(key, json.load(open(sys.argv[3]))).hex())
    elif cmd == "encrypt":
        print(json.dumps(encrypt(json.load(open(sys.argv[2])), bytes.fromhex(sys.argv[3]))))


main()
