import CLibFuzzer
import Foundation
import FuzzSupport
import NIOCore
import VishwaCodec
import VishwaCore
import VishwaCrypto

#if canImport(Glibc)
import Glibc
#endif

// This module holds ../Sources/VishwaClient/CatalogBackup+Blob.swift and ClientError.swift
// (file symlinks), so the internal blob parser is in reach without VishwaClient's dependencies.

/// A catalog backup blob as a host returns it (docs/format.md §5), read the way `vishwa recover`
/// reads it: `CatalogBackup.parse`, then the coding parameters and the shard decode the blob
/// asks for, with a fixed vault key; and, as the recovered directory, the input as the JSON the
/// sealed host directory holds.
///
/// Besides "never traps":
/// - a blob `parse` accepts re-encodes (`CatalogBackup.blob`) to exactly its bytes;
/// - its shards decode only when they are the fixed key's own (the seeds): a host cannot forge
///   a catalog; and the decode never sizes memory from what the blob claims beyond a bound
///   (known bug B3, Fuzz/README.md: ignored unless FUZZ_KNOWN_BUGS=crash);
/// - the sealed directory opens only under the key and generation it was sealed for; JSON that
///   opens as a directory re-seals to the same entries.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackupBlob(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let blob = CatalogBackup.parse(ByteBuffer(bytes: bytes)) {
        checkBlob(blob, bytes: bytes)
    }
    checkDirectoryJSON(bytes)
    return 0
}

private func checkBlob(_ blob: CatalogBackup.ParsedBlob, bytes: [UInt8]) {
    Oracle.require(blob.k >= 1 && blob.k + blob.m <= 255 && blob.shards.allSatisfy { (0..<256).contains($0.0) },
                   "parsed k \(blob.k), m \(blob.m)")
    // Recovery's next step: the parameters the blob names. A length the format cannot code is refused.
    guard let parameters = try? CodingParameters(k: blob.k, m: blob.m, chunkSize: max(blob.length, 1)) else { return }
    let again = CatalogBackup.blob(generation: blob.generation, length: blob.length, parameters: parameters,
                                   directory: blob.directory, shards: blob.shards.map { ($0.0, $0.1[...]) })
    Oracle.require(Array(again.readableBytesView) == bytes, "blob re-encodes differently")

    // The directory: opens only under the fixed key and this generation (a host cannot forge one).
    let directory = try? CatalogBackup.openDirectory(blob.directory, generation: blob.generation, key: Keys.backup)
    Oracle.require(directory == nil || blob.generation == Keys.generation, "a host forged the directory of generation \(blob.generation)")

    // The decode recovery runs: (k+m) pieces of the claimed length are allocated before any shard
    // is authenticated, so the claim must be bounded before it sizes memory.
    let piece = parameters.pieceLength(forChunkLength: blob.length)
    let working = parameters.n * piece
    Oracle.requireUnlessKnown("B3", working <= 1 << 30,
                              "a \(bytes.count)-byte blob makes recovery allocate \(working) bytes (\(blob.k)+\(blob.m), length \(blob.length))")
    guard working <= 1 << 30 else { return }
    let context = ShardContext(vaultID: Keys.vault, fileID: CatalogBackup.fileID, version: blob.generation,
                               chunkIndex: 0, chunkLength: blob.length)
    do {
        let decoded = try ShardCodec(parameters: parameters).decode(blob.shards.map(\.1), context: context, key: Keys.backup)
        Oracle.require(blob.generation == Keys.generation && decoded.plaintext == Keys.snapshot(length: blob.length),
                       "shards of generation \(blob.generation) decoded to a catalog the vault never wrote")
    } catch {
        // Not the vault's own shards, or too few of them.
    }
}

/// The input as the directory's plaintext (only the vault can seal one, so this is the JSON a
/// damaged or old-version client might have written): sealed and opened, then re-sealed.
private func checkDirectoryJSON(_ json: [UInt8]) {
    let nonce = [UInt8](repeating: 7, count: XChaCha20Poly1305.nonceLength)
    let sealed = nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: CatalogBackup.directoryAD(Keys.generation),
                                                 key: Keys.backup)
    Oracle.require((try? CatalogBackup.openDirectory(sealed, generation: Keys.generation &+ 1, key: Keys.backup)) == nil,
                   "a directory opened under another generation")
    guard let entries = try? CatalogBackup.openDirectory(sealed, generation: Keys.generation, key: Keys.backup) else { return }
    let resealed = CatalogBackup.sealDirectory(entries, generation: Keys.generation, key: Keys.backup)
    Oracle.require((try? CatalogBackup.openDirectory(resealed, generation: Keys.generation, key: Keys.backup)) == entries,
                   "directory entries do not survive sealing again")
    for entry in entries { _ = Hex.decode(entry.publicKey) }
}

private enum Keys {
    static let backup = SecretBytes(copying: (0..<32).map { UInt8($0) &* 3 &+ 9 })
    static let vault = VaultID(high: 0x0102_0304_0506_0708, low: 0x1112_1314_1516_1718)
    /// The generation of the seeds made with `FUZZ_WRITE_SEEDS`.
    static let generation: UInt64 = 42

    static func snapshot(length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) } }
}

/// Writes genuine blobs (shards and directory sealed with the fixed key) to `dir` as seeds.
private func writeSeeds(to dir: String) throws {
    let directory = [CatalogBackup.DirectoryEntry(address: "192.0.2.1:7070", publicKey: String(repeating: "ab", count: 32), name: "cupboard"),
                     CatalogBackup.DirectoryEntry(address: "[2001:db8::1]:7070", publicKey: String(repeating: "0f", count: 32), name: nil)]
    for (name, k, m, length, keep) in [("seed-blob-small", 2, 1, 1000, [0, 2]), ("seed-blob-all", 3, 2, 5000, [0, 1, 2, 3, 4]),
                                       ("seed-blob-one-shard", 6, 4, 70_000, [7])] {
        let parameters = try CodingParameters(k: k, m: m, chunkSize: length)
        let context = ShardContext(vaultID: Keys.vault, fileID: CatalogBackup.fileID, version: Keys.generation,
                                   chunkIndex: 0, chunkLength: length)
        let encoded = try ShardCodec(parameters: parameters).encode(Keys.snapshot(length: length), context: context, key: Keys.backup)
        let blob = CatalogBackup.blob(generation: Keys.generation, length: length, parameters: parameters,
                                      directory: CatalogBackup.sealDirectory(directory, generation: Keys.generation, key: Keys.backup),
                                      shards: keep.map { ($0, encoded.shard($0)) })
        try Data(blob.readableBytesView).write(to: URL(fileURLWithPath: dir + "/" + name))
    }
    try Data(try JSONEncoder().encode(directory)).write(to: URL(fileURLWithPath: dir + "/seed-directory-json"))
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
/// With FUZZ_WRITE_SEEDS=DIR it writes the seed inputs to DIR instead of fuzzing.
@_cdecl("FuzzBackupBlob_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    if let dir = getenv("FUZZ_WRITE_SEEDS") {
        do { try writeSeeds(to: String(cString: dir)) } catch { fatalError("writing seeds: \(error)") }
        return 0
    }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzBackupBlob)
}
