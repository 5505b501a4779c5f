#!/usr/bin/env python3
"""An encoder for shard format 1 written independently of the Swift code (PyNaCl for
XChaCha20-Poly1305, a naive GF(2^8) for the Cauchy parity), used once to cross-check the
known-answer vector `pinnedTiny2x1` in KnownAnswerTests.swift. Run: pip install pynacl; python3 this."""
import nacl.bindings as sodium

def gf_mul(a, c):
    p = 0
    while c:
        if c & 1:
            p ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        c >>= 1
    return p

def gf_inv(a):
    return next(x for x in range(1, 256) if gf_mul(a, x) == 1)

key = bytes(range(32))
vault = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
file_id = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
chunk, k, m, version, chunk_index = b"abc", 2, 1, 42, 0
piece = (len(chunk) + k - 1) // k
data = [chunk[i * piece:(i + 1) * piece].ljust(piece, b"\0") for i in range(k)]
parity = [bytes(
    sum_ for sum_ in [__import__("functools").reduce(lambda acc, j: acc ^ gf_mul(gf_inv(row ^ j), data[j][b]), range(k), 0)
                      for b in range(piece)])
    for row in range(k, k + m)]
out = b""
for i, p in enumerate(data + parity):
    header = (b"VWSH" + bytes([1, k, m, i]) + len(chunk).to_bytes(4, "big") + vault + file_id
              + version.to_bytes(8, "big") + chunk_index.to_bytes(8, "big"))
    nonce = bytes((i + j) & 255 for j in range(24))
    out += header + nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(p, header, nonce, key)
print(out.hex())
