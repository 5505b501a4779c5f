#!/usr/bin/env python3
"""An encoder for shard formats 1, 2 and 3 written independently of the Swift code (PyNaCl for
XChaCha20-Poly1305, a naive GF(2^8) for the Cauchy parity), used to cross-check the known-answer
vectors in KnownAnswerTests.swift. Run: pip install pynacl; python3 this."""
import hashlib
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

KEY = bytes(range(32))
VAULT = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
FILE_ID = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
SEGMENT = 64 * 1024

SEAL = bytes.fromhex("5e5e5e5e00112233445566778899aabb")

def encode(chunk, k, m, fmt, version=42, chunk_index=0):
    piece = (len(chunk) + k - 1) // k
    data = [chunk[i * piece:(i + 1) * piece].ljust(piece, b"\0") for i in range(k)]
    parity = []
    for row in range(k, k + m):
        tables = [[gf_mul(gf_inv(row ^ j), b) for b in range(256)] for j in range(k)]
        out = bytearray(piece)
        for j in range(k):
            t, d = tables[j], data[j]
            for b in range(piece):
                out[b] ^= t[d[b]]
        parity.append(bytes(out))
    shards = []
    for i, p in enumerate(data + parity):
        header = (b"VWSH" + bytes([fmt, k, m, i]) + len(chunk).to_bytes(4, "big") + VAULT + FILE_ID
                  + version.to_bytes(8, "big") + chunk_index.to_bytes(8, "big"))
        nonce = bytes((i + j) & 255 for j in range(24))
        # Format 3 binds the chunk's seal id too; it is not stored in the shard.
        ad = header + SEAL if fmt == 3 else header
        if fmt == 1:
            body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(p, ad, nonce, KEY)
        else:
            body = b""
            for s in range(max(1, -(-piece // SEGMENT))):
                counter = (int.from_bytes(nonce[16:], "little") ^ s).to_bytes(8, "little")
                body += sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
                    p[s * SEGMENT:(s + 1) * SEGMENT], ad, nonce[:16] + counter, KEY)
        shards.append(header + nonce + body)
    return b"".join(shards)

print("format 1, 'abc', 2+1:", encode(b"abc", 2, 1, 1).hex())
print("format 2, 'abc', 2+1:", encode(b"abc", 2, 1, 2).hex())
big = bytes((i * 7 + 3) % 251 for i in range(300_000))
print("format 2, 300,000 bytes, 2+1, BLAKE2b-256:", hashlib.blake2b(encode(big, 2, 1, 2), digest_size=32).hexdigest())
small = bytes(i % 251 for i in range(1000))
print("format 2, 1000 bytes, 6+4, BLAKE2b-256:", hashlib.blake2b(encode(small, 6, 4, 2), digest_size=32).hexdigest())
print("format 3, 'abc', 2+1:", encode(b"abc", 2, 1, 3).hex())
print("format 3, 300,000 bytes, 2+1, BLAKE2b-256:", hashlib.blake2b(encode(big, 2, 1, 3), digest_size=32).hexdigest())
print("format 3, 1000 bytes, 6+4, BLAKE2b-256:", hashlib.blake2b(encode(small, 6, 4, 3), digest_size=32).hexdigest())
