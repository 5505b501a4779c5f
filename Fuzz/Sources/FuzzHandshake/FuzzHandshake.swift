import CLibFuzzer
import FuzzSupport
import VishwaCore
import VishwaCrypto
import VishwaWire

/// Bytes from a hostile peer at each point of Noise_XX (docs/wire.md §1–2) and after it:
///
/// 1. a host (responder) reads them as message 1; if it accepts them it answers message 2 and
///    then reads the same bytes as message 3, which must fail to authenticate;
/// 2. a device (initiator) that sent message 1 reads them as message 2, which must fail;
/// 3. after a real handshake, the host's transport decrypts them, which must fail without
///    moving its nonce; and the device's transport seals them as plaintext, which must open on the
///    host, and fail to open after one bit is flipped (also for plaintexts at the size limit).
///
/// Keys are fixed so a crash input replays the same way. After any handshake error, the handshake
/// must refuse every further step (`.handshakeFailed`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHandshake(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    responderReadsMessage1(bytes)
    initiatorReadsMessage2(bytes)
    transportRejectsForgery(bytes)
    transportRoundTrips(bytes)
    // Inputs stay far below 64 KiB (libFuzzer's default -max_len is 4096): an input starting with
    // 0xFF also seals a plaintext around the 65519-byte limit, 8 bytes under to 7 over.
    if let first = bytes.first, first == 0xFF, bytes.count >= 2 {
        var large = [UInt8](repeating: 0xA5, count: NoiseTransport.maxPlaintextLength - 8 + Int(bytes[1] % 16))
        large.replaceSubrange(0..<min(bytes.count, large.count), with: bytes.prefix(large.count))
        transportRoundTrips(large)
    }
    return 0
}

// MARK: Handshake

private func responderReadsMessage1(_ bytes: [UInt8]) {
    let host = NoiseHandshake(role: .responder, staticKeyPair: Keys.host, prologue: noisePrologue,
                              ephemeral: Keys.hostEphemeral)
    do {
        _ = try host.readMessage(bytes)  // -> e: any 32 bytes and a clear payload are accepted
    } catch {
        requireDead(host, after: error)
        return
    }
    Oracle.require(bytes.count >= 32, "message 1 of \(bytes.count) bytes accepted")
    do {
        _ = try host.writeMessage(payload: ServerHello.encode())
    } catch {
        // A low-order ephemeral key from the device makes `ee` fail: the handshake ends there.
        Oracle.require(error == .invalidRemoteKey, "message 2 after an accepted message 1: \(error)")
        requireDead(host, after: error)
        return
    }
    do {
        _ = try host.readMessage(bytes)
        Oracle.require(false, "forged message 3 of \(bytes.count) bytes authenticated")
    } catch {
        requireDead(host, after: error)
    }
}

private func initiatorReadsMessage2(_ bytes: [UInt8]) {
    let device = NoiseHandshake(role: .initiator, staticKeyPair: Keys.device, prologue: noisePrologue,
                                ephemeral: Keys.deviceEphemeral)
    do {
        _ = try device.writeMessage(payload: [])
        _ = try device.readMessage(bytes)
        Oracle.require(false, "forged message 2 of \(bytes.count) bytes authenticated")
    } catch {
        Oracle.require(device.remoteStaticKey == nil, "a failed message 2 published the host's key")
        requireDead(device, after: error)
    }
}

/// After an error on the bytes, every step throws `.handshakeFailed` (NoiseHandshake's contract).
private func requireDead(_ handshake: NoiseHandshake, after error: NoiseError) {
    Oracle.require(!handshake.isComplete, "handshake complete after \(error)")
    for step in 0..<3 {
        do {
            switch step {
            case 0: _ = try handshake.writeMessage(payload: [])
            case 1: _ = try handshake.readMessage([UInt8](repeating: 0, count: 96))
            default: _ = try handshake.split()
            }
            Oracle.require(false, "step \(step) succeeded after \(error)")
        } catch {
            Oracle.require(error == .handshakeFailed, "step \(step) after a failure threw \(error)")
        }
    }
}

// MARK: Transport

private func transportRejectsForgery(_ bytes: [UInt8]) {
    let received = Keys.session.host.receivedCount
    do {
        _ = try Keys.session.host.decrypt(bytes)
        Oracle.require(false, "forged transport message of \(bytes.count) bytes decrypted")
    } catch {
        switch error {
        case .authenticationFailed, .messageTooShort, .messageTooLarge: break
        default: Oracle.require(false, "forged transport message: \(error)")
        }
    }
    Oracle.require(Keys.session.host.receivedCount == received, "a rejected message moved the receiving nonce")
}

private func transportRoundTrips(_ plaintext: [UInt8]) {
    let (device, host) = (Keys.session.device, Keys.session.host)
    let sent = device.sentCount
    let message: [UInt8]
    do {
        message = try device.encrypt(plaintext)
    } catch {
        Oracle.require(error == .messageTooLarge(length: plaintext.count + 16)
                       && plaintext.count > NoiseTransport.maxPlaintextLength,
                       "sealing \(plaintext.count) bytes: \(error)")
        Oracle.require(device.sentCount == sent, "a refused message moved the sending nonce")
        return
    }
    Oracle.require(message.count == plaintext.count + NoiseTransport.tagLength, "sealed length \(message.count)")

    // One flipped bit, chosen by the input, anywhere in ciphertext or tag.
    var tampered = message
    let bit = plaintext.prefix(64).reduce(plaintext.count) { ($0 &* 31 &+ Int($1)) & 0xFFFFF } % (tampered.count * 8)
    tampered[bit / 8] ^= UInt8(1 << (bit % 8))
    Oracle.require((try? host.decrypt(tampered)) == nil, "a message with bit \(bit) flipped opened")

    // The failure did not move the host's nonce, so the genuine message still opens.
    do {
        let opened = try host.decrypt(message)
        Oracle.require(opened == plaintext, "transport round trip changed \(plaintext.count) bytes")
    } catch {
        Oracle.require(false, "a genuine transport message failed: \(error)")
    }
}

// MARK: Fixed keys

private enum Keys {
    static func pair(_ fill: UInt8) -> X25519KeyPair {
        X25519KeyPair(secretKey: SecretBytes(copying: [UInt8](repeating: fill, count: 32)))
    }

    static let host = pair(1)
    static let hostEphemeral = pair(2)
    static let device = pair(3)
    static let deviceEphemeral = pair(4)

    /// One real session for the whole run: transport nonces move on with each input, as on a
    /// long-lived connection. libFuzzer runs inputs one at a time on one thread.
    nonisolated(unsafe) static let session: (device: NoiseTransport, host: NoiseTransport) = {
        let device = NoiseHandshake(role: .initiator, staticKeyPair: Keys.device, prologue: noisePrologue)
        let host = NoiseHandshake(role: .responder, staticKeyPair: Keys.host, prologue: noisePrologue)
        do {
            _ = try host.readMessage(device.writeMessage(payload: []))
            _ = try device.readMessage(host.writeMessage(payload: ServerHello.encode()))
            let hello = ClientHello(vaultID: VaultID(high: 1, low: 2), intent: .session)
            _ = try host.readMessage(device.writeMessage(payload: hello.encode()))
            return (try device.split(), try host.split())
        } catch {
            fatalError("the fuzzer's own handshake failed: \(error)")
        }
    }()
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
@_cdecl("FuzzHandshake_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzHandshake)
}
