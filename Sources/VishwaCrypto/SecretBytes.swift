import CSodium

/// Secret key material in memory that libsodium guards: allocated with `sodium_malloc` (guard pages,
/// `mlock` where allowed) and wiped by `sodium_free` when the last reference goes.
///
/// Immutable after creation, so it may be shared across threads.
public final class SecretBytes: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    /// Number of secret bytes.
    public let count: Int

    /// Allocates `count` bytes and lets `fill` write them; traps if memory cannot be allocated.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        guard let p = sodium_malloc(max(count, 1)) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        pointer = p
        self.count = count
        // If `fill` throws, the object is already fully initialised, so deinit frees the memory.
        try fill(UnsafeMutableRawBufferPointer(start: p, count: count))
        // Read-only from now on: a stray write to a key is a bug worth a crash.
        sodium_mprotect_readonly(p)
    }

    /// Copies `bytes` into guarded memory. The caller should wipe its own copy.
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    /// `count` bytes from the operating system's CSPRNG (`randombytes_buf`).
    public static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { buffer in Random.fill(buffer) }
    }

    deinit {
        sodium_free(pointer)
    }

    /// Lends the bytes for the duration of `body`; the pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Constant-time comparison (`sodium_memcmp`).
    public func isEqual(to other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return sodium_memcmp(pointer, other.pointer, count) == 0
    }

    /// A plain copy, for writing a key to its (wrapped or 0600) file; wipe it after use with `Memory.wipe`.
    public func exposedCopy() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

/// Memory helpers around `sodium_memzero`, which the compiler may not optimise away.
public enum Memory {
    /// Overwrites `bytes` with zeros.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }
}

/// The operating system's CSPRNG through libsodium.
public enum Random {
    /// Fills `buffer` with random bytes (`randombytes_buf`).
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.ensureInitialized()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}
