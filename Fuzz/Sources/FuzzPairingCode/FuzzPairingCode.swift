import CLibFuzzer
import VishwaTransport

/// Bytes, read as UTF-8 (invalid sequences become U+FFFD, as any text pasted by a person may),
/// through `PairingCode(parsing:)` and `HostAddress(parsing:)` (docs/wire.md §6).
///
/// Besides "never traps", each accepted text must round-trip: what we print must parse back to
/// the same value, since a pairing code is printed by `vishwa-shard invite` and parsed by `vishwa`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPairingCode(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)

    if let code = try? PairingCode(parsing: text) {
        let printed = code.description
        guard let again = try? PairingCode(parsing: printed), again == code else {
            fatalError("pairing code \(text.debugDescription) prints as \(printed.debugDescription), which does not parse back")
        }
    }

    for defaultPort in [nil, 7070] as [Int?] {
        guard let address = HostAddress(parsing: text, defaultPort: defaultPort) else { continue }
        precondition((0...65535).contains(address.port) && !address.host.isEmpty)
        let printed = address.description
        guard HostAddress(parsing: printed) == address else {
            fatalError("address \(text.debugDescription) prints as \(printed.debugDescription), which does not parse back")
        }
    }
    return 0
}

/// The program's main() (SwiftPM links `main` to `<Module>_main`): runs libFuzzer on the target.
@_cdecl("FuzzPairingCode_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzPairingCode)
}
