"""Cross-checks Noise_XX_25519_ChaChaPoly_BLAKE2b.json with an independent implementation.

The JSON entries were copied by hand from the published files named in each "source"; this script proves
the copy is exact by replaying every vector with Python's noiseprotocol (pip install noiseprotocol==0.3.1),
then prints the rekey value pinned in NoiseVectorTests.rekeyMatchesNoiseprotocol.

    python3 crosscheck.py    # prints one OK line per vector, then the rekey ciphertext
"""
import json
import os
import warnings

from noise.connection import Keypair, NoiseConnection

warnings.simplefilter("ignore")  # noiseprotocol warns that fixed ephemeral keys are for tests only
h = bytes.fromhex
here = os.path.dirname(os.path.abspath(__file__))
vectors = json.load(open(os.path.join(here, "Noise_XX_25519_ChaChaPoly_BLAKE2b.json")))["vectors"]


def replay(vec):
    """Runs all messages of `vec`; returns (initiator, responder, every byte matched)."""
    ini = NoiseConnection.from_name(vec["protocol_name"].encode())
    res = NoiseConnection.from_name(vec["protocol_name"].encode())
    ini.set_as_initiator()
    res.set_as_responder()
    for conn, side in ((ini, "init"), (res, "resp")):
        conn.set_prologue(h(vec[side + "_prologue"]))
        conn.set_keypair_from_private_bytes(Keypair.STATIC, h(vec[side + "_static"]))
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, h(vec[side + "_ephemeral"]))
        conn.start_handshake()
    ok = True
    for i, m in enumerate(vec["messages"]):  # alternate senders; the first three are the handshake
        src, dst = (ini, res) if i % 2 == 0 else (res, ini)
        if i < 3:
            ct = src.write_message(h(m["payload"]))
            pt = dst.read_message(ct)
        else:
            ct = src.encrypt(h(m["payload"]))
            pt = dst.decrypt(ct)
        ok &= ct.hex() == m["ciphertext"] and pt.hex() == m["payload"]
    if "handshake_hash" in vec:
        ok &= ini.get_handshake_hash().hex() == vec["handshake_hash"]
    return ini, res, ok


for vec in vectors:
    print(vec["source"], "OK" if replay(vec)[2] else "MISMATCH")

ini, res, _ = replay(vectors[0])  # cacophony
ini.rekey_outbound_cipher()
res.rekey_inbound_cipher()
ct = ini.encrypt(b"after rekey")
assert res.decrypt(ct) == b"after rekey"
print("rekey:", ct.hex())
