#!/usr/bin/env python3
"""An independent peer for the Vishwarupa wire protocol (docs/wire.md, version 3), on Python's
`noiseprotocol` package, so our Noise and framing code is checked against code we did not write.

    noise_peer.py client CODE SCENARIO [VAULT_HEX]
        Pairs with a host using the pairing code CODE (vwpair1/HOST:PORT/...), then runs SCENARIO:
          ops        PING, STAT, PUT of a 700 KiB shard, GET, HAS, LIST, DELETE, some pipelined;
                     a second PUT sent as a clear record (§1.1), its shard header in the secret
                     part, read back: the host's answer must carry the header encrypted too.
          garbage    a random "Noise message" that cannot authenticate.
          truncated  a length prefix announcing more bytes than sent, then a half-close.
          oversized  a frame whose length field exceeds the 64 MiB + 4 KiB limit.
          replay     an earlier transport message sent again verbatim.
          badop      a frame with the unknown operation code 200.
          trailing   a PING frame with bytes after its (empty) body.
          clearflip  a clear record (§1.1) whose clear part was changed after sealing.
        Prints one JSON line. Exit status 0 when the host behaved as wire.md says (for a hostile
        scenario: it closed the connection without answering), 1 when it did not, 2 on a usage error.

    noise_peer.py server PORT_FILE [WIRE_VERSION]
        Listens on 127.0.0.1 (ephemeral port), writes "PORT HOSTKEY_HEX" to PORT_FILE, accepts one
        device, answers PING and STAT until the device closes, and prints one JSON line about it.
        WIRE_VERSION (default 3) is what it announces in handshake message 2.

Everything here follows docs/wire.md; section numbers refer to it.
"""

import hashlib
import json
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from noise.connection import Keypair, NoiseConnection

PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_BLAKE2b"
PROLOGUE = b"vishwa/1"  # §1
WIRE_VERSION = 3
SHARD_HEADER = 84  # format.md §2: never sent in clear (§1.1)
MAX_PLAINTEXT = 65535 - 16  # §1: a transport message is at most 65535 bytes, tag included
MAX_FRAME_BODY = (64 << 20) + 4096  # §3

# §4 operation codes and §5 statuses (only those used here).
PING, STAT, PUT, GET, HAS, DELETE, LIST = 1, 2, 3, 4, 5, 6, 7
OK, NOT_FOUND, BAD_REQUEST = 0, 1, 5

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HOSTILE = ("garbage", "truncated", "oversized", "replay", "badop", "trailing", "clearflip")


class PeerError(Exception):
    """Something the other side did that wire.md does not allow (or a setup failure)."""


# -- Pairing codes (§6) ------------------------------------------------------------------------

def crockford_decode(text):
    """Crockford base32 to bytes: case-insensitive, O reads as 0, I and L as 1, dashes skipped."""
    value, bits, out = 0, 0, bytearray()
    for ch in text.upper():
        if ch == "-":
            continue
        ch = {"O": "0", "I": "1", "L": "1"}.get(ch, ch)
        index = CROCKFORD.find(ch)
        if index < 0:
            raise PeerError("not Crockford base32: %r" % ch)
        value = (value << 5) | index
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((value >> bits) & 0xFF)
    if value & ((1 << bits) - 1):
        raise PeerError("base32 padding bits are not zero")
    return bytes(out)


def parse_pairing_code(code):
    """vwpair1/HOST:PORT/CODE -> (host, port, host key, secret), checksum verified."""
    prefix, _, rest = code.strip().partition("/")
    address, _, encoded = rest.rpartition("/")
    if prefix != "vwpair1" or not address:
        raise PeerError("not a pairing code: %r" % code)
    host, _, port = address.rpartition(":")
    raw = crockford_decode(encoded)
    if len(raw) != 68:
        raise PeerError("pairing code holds %d bytes, expected 68" % len(raw))
    # The first 4 bytes of BLAKE2b-256 keyed with "vishwa pairing" over key || secret.
    checksum = hashlib.blake2b(raw[:64], digest_size=32, key=b"vishwa pairing").digest()[:4]
    if checksum != raw[64:]:
        raise PeerError("pairing code checksum does not match")
    return host.strip("[]"), int(port), raw[:32], raw[32:64]


# -- Sockets and Noise messages (§1) -----------------------------------------------------------

def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), count))
        data += chunk
    return bytes(data)


def send_message(sock, message):
    """One Noise message on TCP: a u16 length, then the message."""
    sock.sendall(struct.pack(">H", len(message)) + bytes(message))


def recv_message(sock):
    (length,) = struct.unpack(">H", recv_exact(sock, 2))
    return recv_exact(sock, length)


def new_static_key():
    return X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_of(private):
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def noise_connection(initiator, static_private):
    noise = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        noise.set_as_initiator()
    else:
        noise.set_as_responder()
    noise.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
    noise.set_prologue(PROLOGUE)
    noise.start_handshake()
    return noise


# -- Frames (§3) -------------------------------------------------------------------------------

def encode_frame(request_id, code, body=b""):
    return struct.pack(">IIB", 5 + len(body), request_id, code) + body


class Session:
    """An established connection: frames in and out, encrypted with the Noise transport keys."""

    def __init__(self, sock, noise):
        self.sock = sock
        self.noise = noise
        self.plain = bytearray()  # decrypted bytes not yet forming a whole frame
        self.sent_messages = []  # every transport message sent, for the replay scenario
        self.clear_lengths = []  # the clear part of every clear record received

    def send_plaintext(self, data):
        """Seals `data` into as many transport messages as it needs and sends them at once."""
        out = bytearray()
        for start in range(0, len(data), MAX_PLAINTEXT):
            message = self.noise.encrypt(bytes(data[start:start + MAX_PLAINTEXT]))
            self.sent_messages.append(message)
            out += struct.pack(">H", len(message)) + message
        self.sock.sendall(bytes(out))

    def clear_record(self, secret, clear):
        """A clear record (§1.1): `secret` sealed in a Noise message whose tag covers `clear`."""
        cipher = self.noise.noise_protocol.cipher_state_encrypt
        message = cipher.encrypt_with_ad(bytes(clear), bytes(secret))
        return struct.pack(">HIH", 0, len(clear), len(message)) + message + bytes(clear)

    def send_frames(self, *frames):
        """Several frames packed into the same stream (so small ones share one Noise message)."""
        self.send_plaintext(b"".join(frames))

    def recv_frame(self):
        """(id, code, body) of the next frame, reading and decrypting messages as needed."""
        while True:
            if len(self.plain) >= 4:
                (length,) = struct.unpack_from(">I", self.plain)
                if length < 5 or length - 5 > MAX_FRAME_BODY:
                    raise PeerError("impossible frame length %d" % length)
                if len(self.plain) >= 4 + length:
                    request_id, code = struct.unpack_from(">IB", self.plain, 4)
                    body = bytes(self.plain[9:4 + length])
                    del self.plain[:4 + length]
                    return request_id, code, body
            (length,) = struct.unpack(">H", recv_exact(self.sock, 2))
            if length == 0:  # a clear record (§1.1)
                clear_length, message_length = struct.unpack(">IH", recv_exact(self.sock, 6))
                if clear_length == 0 or clear_length > MAX_FRAME_BODY:
                    raise PeerError("clear record of %d bytes" % clear_length)
                message = recv_exact(self.sock, message_length)
                clear = recv_exact(self.sock, clear_length)
                self.clear_lengths.append(clear_length)
                cipher = self.noise.noise_protocol.cipher_state_decrypt
                self.plain += cipher.decrypt_with_ad(clear, message) + clear
            else:
                self.plain += self.noise.decrypt(recv_exact(self.sock, length))


def client_handshake(sock, host_key, vault_id, secret):
    """XX as initiator (§2): checks the pinned host key after message 2, pairs in message 3."""
    static = new_static_key()
    noise = noise_connection(True, static)
    send_message(sock, noise.write_message(b""))  # -> e
    payload = noise.read_message(recv_message(sock))  # <- e, ee, s, es
    if bytes(payload) != bytes([WIRE_VERSION]):
        raise PeerError("server hello %r, expected [%d]" % (bytes(payload), WIRE_VERSION))
    remote = noise.noise_protocol.handshake_state.rs.public_bytes
    if remote != host_key:
        raise PeerError("host key %s is not the pinned %s" % (remote.hex(), host_key.hex()))
    # Hello version 2, intent pair, with the vault's signature of the admission (§2.1).
    device_key = public_of(static)
    vault_key = Ed25519PrivateKey.from_private_bytes(
        hashlib.blake2b(b"interop vault key" + vault_id, digest_size=32).digest())
    signed = b"vishwa/admit/1" + bytes([1]) + host_key + device_key + vault_id + secret
    vault_public = vault_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    hello = bytes([2, 1]) + vault_id + secret + vault_public + vault_key.sign(signed)
    send_message(sock, noise.write_message(hello))  # -> s, se
    assert noise.handshake_finished
    session = Session(sock, noise)
    request_id, status, body = session.recv_frame()
    if request_id != 0 or status != OK:
        raise PeerError("welcome was id %d status %d: %s" % (request_id, status, body.decode(errors="replace")))
    return session


# -- Client scenarios --------------------------------------------------------------------------

def expect(condition, what):
    if not condition:
        raise PeerError(what)


def collect(session, ids):
    """Reads answers until every id in `ids` has one; returns {id: (status, body)} and arrival order."""
    answers, order = {}, []
    while len(answers) < len(ids):
        request_id, status, body = session.recv_frame()
        expect(request_id in ids and request_id not in answers, "answer for unexpected id %d" % request_id)
        answers[request_id] = (status, body)
        order.append(request_id)
    return answers, order


def ok_body(answers, request_id, name):
    status, body = answers[request_id]
    expect(status == OK, "%s failed with status %d: %s" % (name, status, body.decode(errors="replace")))
    return body


def scenario_ops(session):
    shard_id = os.urandom(16)
    shard = os.urandom(700 * 1024)  # spans 11 Noise messages
    summary = {}

    # Batch 1, pipelined: PING, STAT and PUT in flight at once.
    session.send_frames(encode_frame(1, PING), encode_frame(2, STAT), encode_frame(3, PUT, shard_id + shard))
    answers, order = collect(session, {1, 2, 3})
    ok_body(answers, 1, "PING")
    stat = ok_body(answers, 2, "STAT")
    capacity, free, used, shards, quota, version_length = struct.unpack_from(">QQQQQB", stat)
    expect(len(stat) == 41 + version_length, "STAT reply of %d bytes" % len(stat))
    ok_body(answers, 3, "PUT")
    summary["batch1_order"] = order
    summary["stat"] = {"capacity": capacity, "free": free, "used": used, "shards": shards,
                       "quota": None if quota == 2 ** 64 - 1 else quota,
                       "version": stat[41:].decode()}

    # Batch 2, pipelined and sharing one Noise message: GET whole, GET a range, HAS, LIST.
    absent = os.urandom(16)
    session.send_frames(
        encode_frame(10, GET, shard_id + struct.pack(">QQ", 0, 2 ** 64 - 1)),
        encode_frame(11, GET, shard_id + struct.pack(">QQ", 1000, 24)),
        encode_frame(12, HAS, struct.pack(">I", 2) + shard_id + absent),
        encode_frame(13, LIST, struct.pack(">BI", 0, 100)),
    )
    answers, order = collect(session, {10, 11, 12, 13})
    summary["batch2_order"] = order
    summary["get_matches"] = ok_body(answers, 10, "GET") == shard
    summary["range_matches"] = ok_body(answers, 11, "GET range") == shard[1000:1024]
    has = ok_body(answers, 12, "HAS")
    count, size, missing = struct.unpack(">Iqq", has)
    summary["has"] = [size, missing]
    listed = ok_body(answers, 13, "LIST")
    (n,) = struct.unpack_from(">I", listed)
    ids = [listed[4 + 16 * i:20 + 16 * i] for i in range(n)]
    expect(listed[4 + 16 * n] == 0 and len(listed) == 5 + 16 * n, "LIST reply shape")
    summary["listed"] = shard_id in ids and len(ids) == 1

    # DELETE, then GET must say not found.
    session.send_frames(encode_frame(20, DELETE, struct.pack(">I", 1) + shard_id))
    answers, _ = collect(session, {20})
    (summary["deleted"],) = struct.unpack(">I", ok_body(answers, 20, "DELETE"))
    session.send_frames(encode_frame(21, GET, shard_id + struct.pack(">QQ", 0, 2 ** 64 - 1)))
    answers, _ = collect(session, {21})
    summary["get_after_delete_status"] = answers[21][0]

    # A PUT whose shard's segments travel as a clear record, its id and header (the first 84
    # bytes) in the secret part; the host answers the GET the same way.
    clear_id, clear_shard = os.urandom(16), os.urandom(300 * 1024)
    secret = struct.pack(">IIB", 5 + 16 + len(clear_shard), 4, PUT) + clear_id + clear_shard[:SHARD_HEADER]
    session.sock.sendall(session.clear_record(secret, clear_shard[SHARD_HEADER:]))
    answers, _ = collect(session, {4})
    ok_body(answers, 4, "clear PUT")
    session.clear_lengths = []
    session.send_frames(encode_frame(5, GET, clear_id + struct.pack(">QQ", 0, 2 ** 64 - 1)))
    answers, _ = collect(session, {5})
    summary["clear_matches"] = ok_body(answers, 5, "GET of the clear PUT") == clear_shard
    summary["clear_answer_lengths"] = list(session.clear_lengths)

    # A record is any part of the frame stream (§1.1): here a whole PING, then a PUT that ends in
    # the clear part.
    other_id = os.urandom(16)
    secret = encode_frame(6, PING) + struct.pack(">IIB", 5 + 16 + len(clear_shard), 7, PUT) + other_id
    session.sock.sendall(session.clear_record(secret, clear_shard))
    answers, _ = collect(session, {6, 7})
    ok_body(answers, 6, "PING in a clear record")
    ok_body(answers, 7, "PUT after a PING in a clear record")
    session.send_frames(encode_frame(8, GET, other_id + struct.pack(">QQ", 0, 2 ** 64 - 1)))
    answers, _ = collect(session, {8})
    summary["mixed_record_matches"] = ok_body(answers, 8, "GET of the PUT after a PING") == clear_shard

    summary["ok"] = (summary["get_matches"] and summary["range_matches"] and summary["has"] == [len(shard), -1]
                     and summary["listed"] and summary["deleted"] == 1
                     and summary["get_after_delete_status"] == NOT_FOUND and summary["clear_matches"]
                     and summary["clear_answer_lengths"] == [len(clear_shard) - SHARD_HEADER]
                     and summary["mixed_record_matches"])
    return summary


def wait_for_close(sock, seconds):
    """(closed, answered bytes) after a hostile message: the host must close without a word."""
    sock.settimeout(0.2)
    received = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True, received
        if not chunk:
            return True, received
        received += len(chunk)
    return False, received


def scenario_hostile(session, name):
    # First prove the session works (and have an earlier message to replay).
    session.send_frames(encode_frame(1, PING))
    request_id, status, _ = session.recv_frame()
    expect((request_id, status) == (1, OK), "PING before the attack answered %d/%d" % (request_id, status))
    sock = session.sock
    if name == "garbage":
        junk = os.urandom(200)
        sock.sendall(struct.pack(">H", len(junk)) + junk)
    elif name == "truncated":
        sock.sendall(struct.pack(">H", 1000) + os.urandom(10))
        sock.shutdown(socket.SHUT_WR)
    elif name == "oversized":
        length = 5 + (64 << 20) + (1 << 20)
        session.send_plaintext(struct.pack(">IIB", length, 2, PUT) + os.urandom(1000))
    elif name == "replay":
        message = session.sent_messages[0]
        sock.sendall(struct.pack(">H", len(message)) + message)
    elif name == "badop":
        session.send_frames(encode_frame(2, 200))
    elif name == "trailing":
        session.send_frames(encode_frame(2, PING, b"\x00\x01\x02"))
    elif name == "clearflip":
        shard = bytearray(os.urandom(64 * 1024))
        record = bytearray(session.clear_record(struct.pack(">IIB", 5 + 16 + len(shard), 2, PUT) + os.urandom(16), shard))
        record[-1000] ^= 1
        sock.sendall(bytes(record))
    closed, answered = wait_for_close(sock, 5.0)
    return {"closed": closed, "answered_bytes": answered, "ok": closed and answered == 0}


def run_client(code, scenario, vault_hex=None):
    host, port, host_key, secret = parse_pairing_code(code)
    vault_id = bytes.fromhex(vault_hex) if vault_hex else os.urandom(16)
    expect(len(vault_id) == 16, "vault id must be 16 bytes")
    result = {"scenario": scenario, "ok": False}
    sock = socket.create_connection((host, port), timeout=15)
    try:
        session = client_handshake(sock, host_key, vault_id, secret)
        if scenario == "ops":
            result.update(scenario_ops(session))
        else:
            result.update(scenario_hostile(session, scenario))
    except Exception as error:  # reported in the JSON line, as the test reads it
        result["error"] = "%s: %s" % (type(error).__name__, error)
    finally:
        sock.close()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


# -- Server (responder) ------------------------------------------------------------------------

def stat_reply():
    version = b"python"
    return struct.pack(">QQQQQB", 1 << 40, 1 << 39, 12345, 3, 2 ** 64 - 1, len(version)) + version


def run_server(port_file, wire_version=WIRE_VERSION):
    static = new_static_key()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    # Written whole then renamed, so a reader never sees half a line.
    with open(port_file + ".tmp", "w") as f:
        f.write("%d %s\n" % (listener.getsockname()[1], public_of(static).hex()))
    os.rename(port_file + ".tmp", port_file)

    listener.settimeout(60)
    sock, _ = listener.accept()
    listener.close()
    sock.settimeout(30)
    result = {"mode": "server", "ok": False, "answered": {"ping": 0, "stat": 0}}
    try:
        noise = noise_connection(False, static)
        noise.read_message(recv_message(sock))  # -> e
        send_message(sock, noise.write_message(bytes([wire_version])))  # <- e, ee, s, es
        hello = bytes(noise.read_message(recv_message(sock)))  # -> s, se
        expect(len(hello) >= 18 and hello[0] in (1, 2), "client hello of %d bytes" % len(hello))
        result["hello"] = {"intent": hello[1], "vault": hello[2:18].hex(), "length": len(hello)}
        session = Session(sock, noise)
        session.send_frames(encode_frame(0, OK))  # the welcome
        while True:
            try:
                request_id, code, body = session.recv_frame()
            except EOFError:
                break
            if code == PING and not body:
                session.send_frames(encode_frame(request_id, OK))
                result["answered"]["ping"] += 1
            elif code == STAT and not body:
                session.send_frames(encode_frame(request_id, OK, stat_reply()))
                result["answered"]["stat"] += 1
            else:
                session.send_frames(encode_frame(request_id, BAD_REQUEST, b"python peer: PING and STAT only"))
        result["ok"] = True
    except Exception as error:
        result["error"] = "%s: %s" % (type(error).__name__, error)
    finally:
        sock.close()
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "client" and argv[2] in ("ops",) + HOSTILE and len(argv) <= 4:
        return run_client(argv[1], argv[2], argv[3] if len(argv) == 4 else None)
    if len(argv) in (2, 3) and argv[0] == "server" and (len(argv) == 2 or argv[2].isdigit()):
        return run_server(argv[1], int(argv[2]) if len(argv) == 3 else WIRE_VERSION)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
