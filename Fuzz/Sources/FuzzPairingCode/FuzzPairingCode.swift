import CLibFuzzer
import FuzzSupport
import VishwaCore
import VishwaTransport

/// Bytes, read as UTF-8 (invalid sequences become U+FFFD, as in any text a person pastes), through
/// `PairingCode(parsing:)` and `HostAddress(parsing:)` (docs/wire.md §6), and raw through Base32.
///
/// Besides "never traps": whatever is accepted must print as text that parses back to the same
/// value, since `vishwa-shard invite` prints the code that `vishwa host add` parses.
///
/// B1 (brackets in hosts, fixed in cc1c182) and B2 (a non-ASCII host merging with the ':' printed
/// after it, fixed in 922f1d2) are checked strictly (Fuzz/README.md).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPairingCode(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)

    if let code = try? PairingCode(parsing: text) {
        let printed = code.description
        Oracle.require((try? PairingCode(parsing: printed)) == code,
                       "pairing code \(text.debugDescription) prints as \(printed.debugDescription), which does not parse back")
    }

    for defaultPort in [nil, 7070] as [Int?] {
        guard let address = HostAddress(parsing: text, defaultPort: defaultPort) else { continue }
        Oracle.require((0...65535).contains(address.port) && !address.host.isEmpty, "accepted \(address)")
        let printed = address.description
        let roundTrips = HostAddress(parsing: printed) == address
        let message = "address \(text.debugDescription) prints as \(printed.debugDescription), which does not parse back"
        Oracle.require(roundTrips, message)
    }

    // Crockford base32 of arbitrary bytes decodes back to them.
    let encoded = Base32.encode(Array(bytes))
    Oracle.require(encoded.count == Base32.length(forBytes: size), "base32 of \(size) bytes has \(encoded.count) characters")
    Oracle.require((try? Base32.decode(encoded)) == Array(bytes), "base32 round trip failed for \(Array(bytes))")
    _ = try? Base32.decode(text)
    return 0
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
@_cdecl("FuzzPairingCode_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzPairingCode)
}
