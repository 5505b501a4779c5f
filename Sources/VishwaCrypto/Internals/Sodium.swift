import CSodium

/// Runs `sodium_init` once per process before any other libsodium call.
///
/// sodium_init is safe to call from several threads and more than once ("sodium_init() initializes
/// the library and should be called before any other function ... it is safe to call it multiple
/// times"); a lazily initialised global makes every entry point pay for it only once.
enum Sodium {
    private static let status: Int32 = sodium_init()

    static func ensureInitialized() {
        // 0: initialised now, 1: already initialised, -1: failure (no usable RNG), fatal for us.
        precondition(status >= 0, "libsodium failed to initialise (sodium_init returned \(status))")
    }
}

/// One byte of valid memory for empty buffers: libsodium's pointer parameters are non-null even
/// when the length is zero, and Swift's empty buffers have no base address.
nonisolated(unsafe) private let emptyByte: UnsafeMutablePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
}()

extension UnsafeRawBufferPointer {
    /// The base address as the `const unsigned char *` libsodium wants, valid even when empty.
    var bytePointer: UnsafePointer<UInt8> {
        baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? UnsafePointer(emptyByte)
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The base address as `unsigned char *`, valid even when empty.
    var mutableBytePointer: UnsafeMutablePointer<UInt8> {
        baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) } ?? emptyByte
    }
}
