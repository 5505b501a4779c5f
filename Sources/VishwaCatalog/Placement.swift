// Which hosts hold the shards of a chunk (docs/architecture.md §3). Pure functions over a snapshot of the hosts:
// no I/O, no clock, no randomness; the same input always gives the same placement.
//
// The rules, in order of precedence:
// 1. Only usable hosts: online, with room for every shard they are given (`freeBytes / shardBytes`).
// 2. Never `k` or more shards of one chunk on one host (cap `k - 1`): that host alone could rebuild the
//    chunk's ciphertext. With `k = 1` every shard is a full copy and no placement can prevent that, so the
//    cap is 1 (copies on distinct hosts).
// 3. Spread as evenly as the caps allow ("water-filling"), which maximises the host losses survived.
// 4. Which hosts get the extra shard (or, with more hosts than shards, which hosts are used at all) is drawn
//    in proportion to free space, rotating with the chunk index so load evens out across chunks.

/// One host as placement sees it: a snapshot of its last contact.
public struct PlacementHost: Sendable, Hashable {
    /// The catalog's host id; ids within one call must be distinct.
    public let id: Int64
    /// Bytes the host can still accept; weighs how often it is chosen.
    public let freeBytes: Int
    /// Whether the host is reachable now; offline hosts never receive shards.
    public let online: Bool

    public init(id: Int64, freeBytes: Int, online: Bool = true) {
        self.id = id
        self.freeBytes = freeBytes
        self.online = online
    }
}

/// Where the `n` shards of one chunk go.
public struct Placement: Sendable, Equatable {
    /// `hosts[i]` is the host id chosen for shard `i` (count `n`).
    public let hosts: [Int64]
    /// How many host losses this chunk survives: the largest `t` such that losing any `t` of the chosen hosts
    /// leaves at least `k` shards.
    public let toleratedHostLosses: Int
}

/// Why a chunk cannot be placed.
public enum PlacementError: Error, Equatable, CustomStringConvertible {
    /// Only `usable` hosts can take shards (online, with room for at least one), but `needed` are required:
    /// always at least 2, and more when the per-host cap of `k - 1` shards (or free space) cannot hold all `n`.
    case tooFewHosts(usable: Int, needed: Int)

    public var description: String {
        switch self {
        case .tooFewHosts(let usable, let needed):
            let are = usable == 1 ? "is" : "are"
            return "only \(usable) usable host\(usable == 1 ? "" : "s") (online, with free space) \(are) available "
                + "but at least \(needed) are needed: pair more hosts or bring offline ones back"
        }
    }
}

/// Shard placement: pure, deterministic, and safe to call from any thread.
public enum Placer {
    /// Places the `n = k + m` shards of chunk number `chunkIndex`, each `shardBytes` bytes.
    ///
    /// Always returns a full assignment of `n` hosts, evenly spread within the cap (per-host counts differ by at
    /// most 1 unless a host's free space holds fewer); shards `0..<min(n, H)` go to distinct hosts.
    /// Throws `tooFewHosts` when fewer than 2 hosts are usable, or when the cap and free space cannot hold all
    /// `n` shards (e.g. 6+4 needs 2 hosts, 3+3 needs 3); `needed` then counts hosts assuming each new one could
    /// take a full `k - 1`. Degraded writes (fewer than `n` shards) are the caller's choice, through `fill`.
    /// Traps if `k < 1`, `m < 0`, `shardBytes < 0`, `chunkIndex < 0` or host ids repeat.
    public static func place(k: Int, m: Int, shardBytes: Int, chunkIndex: Int, hosts: [PlacementHost])
        throws(PlacementError) -> Placement
    {
        precondition(k >= 1 && m >= 0 && shardBytes >= 0 && chunkIndex >= 0, "invalid placement request")
        let n = k + m
        let cap = shardCap(k: k)
        // Ids ascending, so the result does not depend on the caller's order.
        let usable = hosts.filter { $0.online }.sorted { $0.id < $1.id }
            .map { (host: $0, room: min(cap, room(host: $0, shardBytes: shardBytes))) }
            .filter { $0.room >= 1 }
        precondition(Set(usable.map(\.host.id)).count == usable.count, "duplicate host ids")
        let totalRoom = usable.reduce(0) { $0 + $1.room }
        guard usable.count >= 2, totalRoom >= n else {
            let missing = max(0, n - totalRoom)
            throw .tooFewHosts(usable: usable.count, needed: max(2, usable.count + (missing + cap - 1) / cap))
        }

        // Water-filling: every host gets min(room, level) for the highest level that fits, and `extra` of the
        // hosts with room above that level get one more. That spread minimises the largest t-host sums for
        // every t at once, so it maximises the tolerated losses.
        var level = 0
        while level < cap, usable.reduce(0, { $0 + min($1.room, level + 1) }) <= n { level += 1 }
        var counts = usable.map { min($0.room, level) }
        let extra = n - counts.reduce(0, +)
        let eligible = usable.indices.filter { usable[$0].room > level }
        for index in choose(extra, from: eligible.map { usable[$0].host.freeBytes }, chunkIndex: chunkIndex) {
            counts[eligible[index]] += 1
        }

        // Deal shards round by round over the hosts, starting at a host that rotates with the chunk, so the
        // first min(n, H) shards (the data shards first) sit on distinct hosts.
        let start = chunkIndex % usable.count
        let order = Array(start..<usable.count) + Array(0..<start)
        var assignment: [Int64] = []
        for round in 0..<(counts.max() ?? 0) {
            for i in order where counts[i] > round { assignment.append(usable[i].host.id) }
        }
        return Placement(hosts: assignment, toleratedHostLosses: toleratedHostLosses(k: k, assignment: assignment))
    }

    /// Re-places only some shard indices (repair, or a host failing during upload).
    ///
    /// `current` is the full assignment (count `n`), `nil` where a shard has no host or must move. Its non-nil
    /// entries are kept as they are (even on excluded or offline hosts) and count toward each host's cap; the
    /// nil ones are filled one by one on the online, non-excluded host with room that holds the fewest shards
    /// of this chunk (ties: most free space left, then lowest id), which keeps the spread as even as possible.
    /// Entries that cannot be placed within the cap or free space stay nil; the caller decides (docs/architecture.md §3:
    /// at least `k + 1` stored shards → accept degraded). Traps if `current.count != k + m`.
    public static func fill(
        k: Int, m: Int, shardBytes: Int, current: [Int64?], excluded: Set<Int64>, hosts: [PlacementHost]
    ) -> [Int64?] {
        precondition(k >= 1 && m >= 0 && shardBytes >= 0 && current.count == k + m, "invalid fill request")
        let cap = shardCap(k: k)
        var held: [Int64: Int] = [:]
        for case let id? in current { held[id, default: 0] += 1 }
        // room: shards the host may still take, by free space and by the cap.
        var candidates = hosts.filter { $0.online && !excluded.contains($0.id) }.map { host in
            (id: host.id, free: host.freeBytes,
             room: min(room(host: host, shardBytes: shardBytes), cap - held[host.id, default: 0]))
        }
        var result = current
        for slot in result.indices where result[slot] == nil {
            guard let best = candidates.indices.filter({ candidates[$0].room >= 1 }).min(by: { a, b in
                let (x, y) = (candidates[a], candidates[b])
                let (heldX, heldY) = (held[x.id, default: 0], held[y.id, default: 0])
                if heldX != heldY { return heldX < heldY }
                return x.free != y.free ? x.free > y.free : x.id < y.id
            }) else { break }
            result[slot] = candidates[best].id
            held[candidates[best].id, default: 0] += 1
            candidates[best].room -= 1
            candidates[best].free -= shardBytes
        }
        return result
    }

    /// Host losses survived by an assignment (`nil` entries are shards not stored): the largest `t` such that
    /// losing any `t` of its hosts leaves at least `k` shards, i.e. the `t` fullest hosts hold at most
    /// `stored - k`. Returns 0 when fewer than `k` shards are stored (the chunk is already unreadable; callers
    /// that care check the stored count themselves).
    public static func toleratedHostLosses(k: Int, assignment: [Int64?]) -> Int {
        var counts: [Int64: Int] = [:]
        for case let id? in assignment { counts[id, default: 0] += 1 }
        var spare = assignment.count(where: { $0 != nil }) - k
        var tolerated = 0
        for count in counts.values.sorted(by: >) {
            spare -= count
            guard spare >= 0 else { break }
            tolerated += 1
        }
        return tolerated
    }

    /// Most shards of one chunk a host may hold: `k - 1`, or 1 for `k = 1` (see the rules above).
    static func shardCap(k: Int) -> Int { max(1, k - 1) }

    /// Shards that fit in the host's free space (unbounded for empty shards).
    static func room(host: PlacementHost, shardBytes: Int) -> Int {
        shardBytes == 0 ? Int.max : max(0, host.freeBytes) / shardBytes
    }

    /// Picks `count` distinct indices of `weights` (free bytes), each with long-run frequency proportional to its
    /// weight (one whose share exceeds a whole pick is taken every time). Systematic sampling: lay the inclusion
    /// probabilities end to end on [0, count) and take the points u, u+1, …, where u is the golden-ratio sequence
    /// frac(chunkIndex · φ), a low-discrepancy rotation, so equal hosts take turns evenly over consecutive chunks.
    static func choose(_ count: Int, from weights: [Int], chunkIndex: Int) -> [Int] {
        guard count > 0 else { return [] }
        precondition(count <= weights.count)
        let w = weights.map { Double(max(1, $0)) }
        // Inclusion probabilities count·w/W, with any above 1 fixed at 1 and the rest rescaled.
        // Marking one host certain only raises the others' ratios, so marking them one at a time is exact.
        var certain = Set<Int>()
        var rest = count, total = w.reduce(0, +)
        while rest > 0, let next = w.indices.first(where: { !certain.contains($0) && Double(rest) * w[$0] >= total }) {
            certain.insert(next)
            rest -= 1
            total -= w[next]
        }
        let p = w.indices.map { certain.contains($0) ? 1 : (rest == 0 ? 0 : Double(rest) * w[$0] / total) }
        // frac(chunkIndex · φ) in 64-bit fixed point (0x9E37… = 2^64/φ), exact and platform independent.
        let u = Double((UInt64(chunkIndex) &* 0x9E37_79B9_7F4A_7C15) >> 11) / Double(1 << 53)
        var chosen: [Int] = []
        var i = 0, start = 0.0  // interval i is [start, start + p[i])
        for j in 0..<count {
            let point = u + Double(j)
            while i < p.count - 1, start + p[i] <= point { start += p[i]; i += 1 }
            // Guard against rounding: each point takes a new index and leaves enough for the points after it.
            let index = min(max(i, (chosen.last ?? -1) + 1), p.count - (count - j))
            chosen.append(index)
            while i < index { start += p[i]; i += 1 }
        }
        return chosen
    }
}
