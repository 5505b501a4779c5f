import CSodium

/// Fixed-size key memory that Noise updates in place (chaining key, cipher keys).
///
/// Unlike `SecretBytes` it stays writable, because MixKey and Rekey overwrite their key rather than
/// allocate a new one. The memory comes from `sodium_malloc` (guard pages, `mlock` where allowed) and
/// `sodium_free` wipes it when the owner drops it. Not thread safe: one Noise state object owns each.
final class NoiseSecretBuffer {
    /// The bytes; valid until deinit. Never escape a copy into an array.
    let bytes: UnsafeMutableRawBufferPointer

    /// `count` zero bytes; traps if memory cannot be allocated.
    init(count: Int) {
        precondition(count > 0)
        Sodium.ensureInitialized()
        guard let pointer = sodium_malloc(count) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        sodium_memzero(pointer, count)
        bytes = UnsafeMutableRawBufferPointer(start: pointer, count: count)
    }

    deinit {
        // sodium_free zeroes the memory before unmapping it.
        sodium_free(bytes.baseAddress)
    }

    var readOnly: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }
}
