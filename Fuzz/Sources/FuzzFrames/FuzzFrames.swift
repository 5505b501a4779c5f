import CLibFuzzer
import FuzzSupport
import NIOCore
import VishwaCore
import VishwaWire

/// Bytes as a decrypted frame stream (docs/wire.md §3): `Frame.decode` until it needs more bytes
/// or throws, and every frame through each body decoder a peer's bytes reach (§4, §5) and the
/// client hello (§2).
///
/// Besides "never traps": a decode that throws or waits consumes nothing; a frame re-encodes to
/// exactly the bytes it came from; and every body a decoder accepts re-encodes to the same bytes
/// (the wire has one encoding per value, which the host's "parses exactly" rule relies on).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var stream = ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: size))
    while true {
        let before = stream
        let frame: Frame?
        do {
            frame = try Frame.decode(from: &stream)
        } catch {
            Oracle.require(stream == before, "Frame.decode threw (\(error)) and consumed bytes")
            break
        }
        guard let frame else {
            Oracle.require(stream == before, "Frame.decode waited for more bytes and consumed some")
            break
        }
        let consumed = before.getSlice(at: before.readerIndex, length: before.readableBytes - stream.readableBytes)!
        Oracle.require(wireBytes(frame) == consumed, "frame \(frame.id)/\(frame.code) re-encodes differently")
        Oracle.require(frame.bodyPrefix == nil && frame.body.readableBytes <= Frame.maxBodyLength,
                       "decoded frame with a body prefix or over the limit")

        checkRequest(frame)
        checkResponse(frame)
        checkClientHello(Array(frame.body.readableBytesView))
    }
    return 0
}

/// §4: a request that decodes is the one its frame encodes. Compared as wire bytes: an encoded
/// PUT carries its shard id as `bodyPrefix`, which a decoded frame never has.
private func checkRequest(_ frame: Frame) {
    guard let request = try? Request(frame: frame) else { return }
    Oracle.require(wireBytes(request.frame(id: frame.id)) == wireBytes(frame),
                   "\(request.operation) request re-encodes differently")
}

private func wireBytes(_ frame: Frame) -> ByteBuffer {
    var buffer = ByteBuffer()
    frame.encode(into: &buffer)
    return buffer
}

/// §4 reply bodies, each decoder tried on every body as a client would on a hostile host's reply.
private func checkResponse(_ frame: Frame) {
    guard let response = try? Response(frame: frame) else { return }
    let body = response.body

    if let stat = try? StatReply(decoding: body) {
        // The version is display text: bytes that are not UTF-8 are read with U+FFFD and so cannot
        // re-encode the same; every other STAT reply must.
        let versionBytes = body.getBytes(at: body.readerIndex + 41, length: body.readableBytes - 41) ?? []
        if String(validating: versionBytes, as: UTF8.self) != nil {
            Oracle.require(stat.encode() == body, "STAT reply re-encodes differently")
        }
    }
    if let list = try? ListReply(decoding: body) {
        Oracle.require(list.encode() == body, "LIST reply re-encodes differently")
        Oracle.require(list.ids.count <= Request.maxBatch, "LIST reply with \(list.ids.count) ids")
    }
    if let scrub = try? ScrubReply(decoding: body) {
        Oracle.require(scrub.encode() == body, "SCRUB reply re-encodes differently")
    }
    // HAS: decoded against the count the body itself announces, so well-formed bodies get through.
    let announced = Int(body.getInteger(at: body.readerIndex, as: UInt32.self) ?? 0)
    if let sizes = try? HasReply.decode(body, expected: announced) {
        Oracle.require(sizes.count == announced, "HAS reply decoded \(sizes.count) of \(announced) sizes")
        Oracle.require((try? HasReply.decode(HasReply.encode(sizes), expected: announced)) == sizes,
                       "HAS reply does not round-trip")
    }
    if let count = try? CountReply.decode(body) {
        Oracle.require(CountReply.encode(count) == body, "count reply re-encodes differently")
    }
    if let backup = try? BackupReply.decode(body) {
        Oracle.require(BackupReply.encode(generation: backup.generation, data: backup.data) == body,
                       "BACKUP_GET reply re-encodes differently")
    }
    if let generations = try? BackupReply.decodeList(body) {
        Oracle.require(BackupReply.encodeList(generations) == body, "BACKUP_LIST reply re-encodes differently")
    }
}

/// §2: the client hello of handshake message 3.
private func checkClientHello(_ bytes: [UInt8]) {
    guard let hello = try? ClientHello(decoding: bytes) else { return }
    // A version 1 session hello is read as a session, which is written as version 2.
    let expected = bytes.count == 18 && bytes[0] == 1 ? [2] + bytes.dropFirst() : bytes
    Oracle.require(hello.encode() == expected, "client hello re-encodes differently")
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
@_cdecl("FuzzFrames_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzFrames)
}
