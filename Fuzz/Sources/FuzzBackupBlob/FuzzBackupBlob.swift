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
// (file symlinks), so the internal blob code is in reach without VishwaClient's dependencies.

/// A catalog backup blob as a host returns it (docs/format.md §5), read the way `vishwa recover`
/// reads it: `CatalogBackup.parse`; for version 1, the sealed host directory and the snapshot
/// decoded from the shards the blob carries (`decodeV1`, whose bounds recovery relies on); for
/// version 2, the sealed manifest (`openManifest`) and the carried shards of its one chunk. The
/// vault key is fixed. The input is also read as the JSON of a host directory and of a manifest.
///
/// Besides "never traps" (and no allocation over 1 GiB, which libFuzzer's -malloc_limit_mb
/// counts as a crash: nothing in a blob may size memory beyond what its bytes bear out):
/// - a blob `parse` accepts re-encodes to exactly its bytes;
/// - the directory and the manifest open only under the fixed key and the generation they were
///   sealed for, and shards decode only to the snapshot the vault wrote: a host cannot forge a
///   catalog;
/// - JSON that opens as a directory or as a (valid) manifest re-seals to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBackupBlob(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch CatalogBackup.parse(ByteBuffer(bytes: bytes)) {
    case .inline(let blob)?:
        checkV1(blob, bytes: bytes)
    case .manifest(let generation, let sealed, let shards)?:
        checkV2(generation: generation, sealed: sealed, shards: shards, bytes: bytes)
    case nil:
        break
    }
    checkDirectoryJSON(bytes)
    checkManifestJSON(bytes)
    return 0
}

private func checkV1(_ blob: CatalogBackup.V1, bytes: [UInt8]) {
    Oracle.require(blob.k >= 1 && blob.k + blob.m <= 255 && blob.shards.allSatisfy { $0.0 < blob.k + blob.m },
                   "parsed k \(blob.k), m \(blob.m), shard indices \(blob.shards.map(\.0))")
    Oracle.require(Array(v1Blob(blob).readableBytesView) == bytes, "version 1 blob re-encodes differently")

    // The directory: opens only under the fixed key and this generation (a host cannot forge one).
    let directory = CatalogBackup.openDirectory(blob.directory, generation: blob.generation, key: Keys.backup)
    Oracle.require(directory == nil || blob.generation == Keys.generation, "a host forged the directory of generation \(blob.generation)")

    // The snapshot, as recovery decodes it from the shards present.
    if let snapshot = try? CatalogBackup.decodeV1(blob, shards: blob.shards, vaultID: Keys.vault, key: Keys.backup) {
        Oracle.require(blob.generation == Keys.generation && snapshot == Keys.snapshot(length: blob.length),
                       "shards of generation \(blob.generation) decoded to a catalog the vault never wrote")
    }
}

private func checkV2(generation: UInt64, sealed: [UInt8], shards: [(Int, [UInt8])], bytes: [UInt8]) {
    Oracle.require(shards.allSatisfy { $0.0 < 255 }, "shard indices \(shards.map(\.0))")
    let again = CatalogBackup.blob(generation: generation, manifest: sealed, shards: shards.map { ($0.0, $0.1[...]) })
    Oracle.require(Array(again.readableBytesView) == bytes, "version 2 blob re-encodes differently")

    guard let manifest = CatalogBackup.openManifest(sealed, generation: generation, key: Keys.backup) else { return }
    Oracle.require(generation == Keys.generation, "a host forged the manifest of generation \(generation)")
    Oracle.require(CatalogBackup.openManifest(sealed, generation: generation &+ 1, key: Keys.backup) == nil,
                   "a manifest opened as another generation")
    // Only the vault seals manifests, so this one is a seed's; its carried shards (chunk 0 of a
    // one-chunk backup) decode, as recovery decodes them, only to the snapshot the vault wrote.
    guard manifest.chunks.count == 1, let parameters = try? CodingParameters(k: manifest.k, m: manifest.m, chunkSize: manifest.chunkSize)
    else { return }
    let context = ShardContext(vaultID: Keys.vault, fileID: CatalogBackup.fileID, version: generation,
                               chunkIndex: 0, chunkLength: manifest.chunks[0].length)
    if let decoded = try? ShardCodec(parameters: parameters).decode(shards.map(\.1), context: context, key: Keys.backup) {
        Oracle.require(decoded.plaintext == Keys.snapshot(length: manifest.length), "carried shards decoded to a catalog the vault never wrote")
    }
}

/// The input as the directory's plaintext (only the vault can seal one, so this is the JSON a
/// damaged or old-version client might have written): sealed and opened, then re-sealed.
private func checkDirectoryJSON(_ json: [UInt8]) {
    let nonce = [UInt8](repeating: 7, count: XChaCha20Poly1305.nonceLength)
    let sealed = nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: CatalogBackup.directoryAD(Keys.generation),
                                                 key: Keys.backup)
    Oracle.require(CatalogBackup.openDirectory(sealed, generation: Keys.generation &+ 1, key: Keys.backup) == nil,
                   "a directory opened under another generation")
    guard let entries = CatalogBackup.openDirectory(sealed, generation: Keys.generation, key: Keys.backup) else { return }
    let resealed = sealDirectory(entries, generation: Keys.generation)
    Oracle.require(CatalogBackup.openDirectory(resealed, generation: Keys.generation, key: Keys.backup) == entries,
                   "directory entries do not survive sealing again")
    for entry in entries { _ = Hex.decode(entry.publicKey) }
}

/// The input as a manifest's plaintext: it opens only when it describes what the format allows
/// (`CatalogBackup.valid`), and then re-seals to the same manifest.
private func checkManifestJSON(_ json: [UInt8]) {
    let nonce = [UInt8](repeating: 9, count: XChaCha20Poly1305.nonceLength)
    let sealed = nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: CatalogBackup.manifestAD(Keys.generation),
                                                 key: Keys.backup)
    Oracle.require(CatalogBackup.openManifest(sealed, generation: Keys.generation &+ 1, key: Keys.backup) == nil,
                   "a manifest opened under another generation")
    guard let manifest = CatalogBackup.openManifest(sealed, generation: Keys.generation, key: Keys.backup) else { return }
    Oracle.require(CatalogBackup.valid(manifest), "an invalid manifest opened")
    let parameters = try? CodingParameters(k: manifest.k, m: manifest.m, chunkSize: manifest.chunkSize)
    Oracle.require(parameters != nil && manifest.chunks.allSatisfy { $0.length <= manifest.chunkSize }
                   && manifest.chunks.reduce(0) { $0 + $1.length } == manifest.length,
                   "a manifest whose chunks do not add up opened")
    let resealed = CatalogBackup.seal(manifest, generation: Keys.generation, key: Keys.backup)
    Oracle.require(CatalogBackup.openManifest(resealed, generation: Keys.generation, key: Keys.backup) == manifest,
                   "a manifest does not survive sealing again")
}

/// A version 1 blob's bytes (docs/format.md §5), written here: the client writes only version 2.
private func v1Blob(_ blob: CatalogBackup.V1) -> ByteBuffer {
    var b = ByteBuffer()
    b.writeBytes(CatalogBackup.magic)
    b.writeInteger(UInt8(1))
    b.writeInteger(blob.generation)
    b.writeInteger(UInt32(blob.length))
    b.writeInteger(UInt8(blob.k))
    b.writeInteger(UInt8(blob.m))
    b.writeInteger(UInt32(blob.directory.count))
    b.writeBytes(blob.directory)
    b.writeInteger(UInt16(blob.shards.count))
    for (index, shard) in blob.shards {
        b.writeInteger(UInt8(index))
        b.writeInteger(UInt32(shard.count))
        b.writeBytes(shard)
    }
    return b
}

private func sealDirectory(_ directory: [CatalogBackup.DirectoryEntry], generation: UInt64) -> [UInt8] {
    let json = [UInt8]((try? JSONEncoder().encode(directory)) ?? Data())
    let nonce = Random.bytes(XChaCha20Poly1305.nonceLength)
    return nonce + XChaCha20Poly1305.seal(json, nonce: nonce, additionalData: CatalogBackup.directoryAD(generation), key: Keys.backup)
}

private enum Keys {
    static let backup = SecretBytes(copying: (0..<32).map { UInt8($0) &* 3 &+ 9 })
    static let vault = VaultID(high: 0x0102_0304_0506_0708, low: 0x1112_1314_1516_1718)
    /// The generation of the seeds made with `FUZZ_WRITE_SEEDS`.
    static let generation: UInt64 = 42

    static func snapshot(length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) } }
}

/// Writes genuine blobs (shards, directory and manifests sealed with the fixed key) to `dir` as seeds.
private func writeSeeds(to dir: String) throws {
    let directory = [CatalogBackup.DirectoryEntry(address: "192.0.2.1:7070", publicKey: String(repeating: "ab", count: 32), name: "cupboard"),
                     CatalogBackup.DirectoryEntry(address: "[2001:db8::1]:7070", publicKey: String(repeating: "0f", count: 32), name: nil)]
    func write(_ bytes: ByteBuffer, _ name: String) throws {
        try Data(bytes.readableBytesView).write(to: URL(fileURLWithPath: dir + "/" + name))
    }
    func encode(_ length: Int, _ parameters: CodingParameters, chunk: Int = 0) throws -> EncodedChunk {
        let context = ShardContext(vaultID: Keys.vault, fileID: CatalogBackup.fileID, version: Keys.generation,
                                   chunkIndex: UInt64(chunk), chunkLength: length)
        return try ShardCodec(parameters: parameters).encode(Keys.snapshot(length: length), context: context, key: Keys.backup)
    }
    // Version 1: the snapshot as one chunk, the directory and this host's shards inline.
    for (name, k, m, length, keep) in [("seed-blob-small", 2, 1, 1000, [0, 2]), ("seed-blob-all", 3, 2, 5000, [0, 1, 2, 3, 4]),
                                       ("seed-blob-one-shard", 6, 4, 70_000, [7])] {
        let parameters = try CodingParameters(k: k, m: m, chunkSize: length)
        let encoded = try encode(length, parameters)
        let blob = CatalogBackup.V1(generation: Keys.generation, length: length, k: k, m: m,
                                    directory: sealDirectory(directory, generation: Keys.generation),
                                    shards: keep.map { ($0, Array(encoded.shard($0))) })
        try write(v1Blob(blob), name)
    }
    // Version 2, one chunk carried in the blobs: this host's blob holds three of its shards.
    let parameters = try CodingParameters(k: 2, m: 2, chunkSize: 4096)
    let encoded = try encode(3000, parameters)
    let carried = CatalogBackup.Manifest(
        k: 2, m: 2, chunkSize: 4096, length: 3000, hosts: directory,
        chunks: [.init(length: 3000, shards: (0..<4).map { .init(index: $0, host: $0 % 2, id: nil) })])
    try write(CatalogBackup.blob(generation: Keys.generation, manifest: CatalogBackup.seal(carried, generation: Keys.generation, key: Keys.backup),
                                 shards: [0, 2, 3].map { ($0, encoded.shard($0)) }), "seed-v2-carried")
    // Version 2, three chunks stored as shards elsewhere: the blob holds only the manifest.
    let stored = CatalogBackup.Manifest(
        k: 2, m: 2, chunkSize: 4096, length: 10_000, hosts: directory,
        chunks: [4096, 4096, 1808].map { length in
            .init(length: length, shards: (0..<4).map { .init(index: $0, host: $0 % 2, id: String(repeating: "5\($0)", count: 16)) })
        })
    let storedSeal = CatalogBackup.seal(stored, generation: Keys.generation, key: Keys.backup)
    try write(CatalogBackup.blob(generation: Keys.generation, manifest: storedSeal, shards: []), "seed-v2-stored")
    try Data(try JSONEncoder().encode(directory)).write(to: URL(fileURLWithPath: dir + "/seed-directory-json"))
    try Data(try JSONEncoder().encode(stored)).write(to: URL(fileURLWithPath: dir + "/seed-manifest-json"))
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
