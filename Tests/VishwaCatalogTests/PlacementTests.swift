import TestSupport
import Testing
@testable import VishwaCatalog

/// Placement as a pure function (docs/architecture.md §3): no I/O, fixed seeds, so every run is reproducible.
@Suite(.ownThreads)
struct PlacementTests {
    static let shard = 1 << 20
    static let codings: [(k: Int, m: Int)] = [(6, 4), (4, 2), (10, 4), (1, 1), (2, 0), (3, 3)]

    static func hosts(_ freeShards: [Int]) -> [PlacementHost] {
        freeShards.enumerated().map { PlacementHost(id: Int64($0.offset + 1), freeBytes: $0.element * shard) }
    }

    static func counts(_ assignment: [Int64?]) -> [Int64: Int] {
        assignment.reduce(into: [:]) { counts, id in if let id { counts[id, default: 0] += 1 } }
    }

    /// The optimum for an even spread of n over h hosts: the largest t whose t fullest hosts hold at most m.
    static func optimalTolerance(n: Int, k: Int, hosts h: Int) -> Int {
        let even = (0..<min(n, h)).map { n / min(n, h) + ($0 < n % min(n, h) ? 1 : 0) }.sorted(by: >)
        var t = 0
        while t < even.count, even[..<(t + 1)].reduce(0, +) <= n - k { t += 1 }
        return t
    }

    @Test func placesEvenlyWithinTheCapOverRandomHostSets() throws {
        var rng = SeededGenerator(state: 42)
        for (k, m) in Self.codings {
            let n = k + m, cap = max(1, k - 1)
            for chunk in 0..<400 {
                let hosts = (0..<Int.random(in: 1...20, using: &rng)).map { i in
                    let tooSmall = Int.random(in: 0..<8, using: &rng) == 0
                    return PlacementHost(
                        id: Int64(100 + i * 7),
                        freeBytes: tooSmall ? Int.random(in: 0..<Self.shard, using: &rng)
                                            : Int.random(in: 20...5000, using: &rng) * Self.shard,
                        online: Int.random(in: 0..<5, using: &rng) != 0)
                }
                let usable = Set(hosts.filter { $0.online && $0.freeBytes >= Self.shard }.map(\.id))
                let h = usable.count
                guard h >= 2, h * cap >= n else {
                    let needed = max(2, (n + cap - 1) / cap)
                    #expect(throws: PlacementError.tooFewHosts(usable: h, needed: needed)) {
                        try Placer.place(k: k, m: m, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
                    }
                    continue
                }
                let placement = try Placer.place(k: k, m: m, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
                let counts = Self.counts(placement.hosts)
                #expect(placement.hosts.count == n)
                #expect(Set(placement.hosts).isSubset(of: usable))
                #expect(counts.values.allSatisfy { $0 <= cap })
                if h <= n {
                    #expect(counts.count == h)
                    #expect(counts.values.max()! - counts.values.min()! <= 1)
                    #expect(Set(placement.hosts.prefix(h)).count == h, "first H shards on distinct hosts")
                } else {
                    #expect(counts.count == n)
                }
                #expect(placement.toleratedHostLosses == Self.optimalTolerance(n: n, k: k, hosts: h))
                #expect(placement.toleratedHostLosses == Placer.toleratedHostLosses(k: k, assignment: placement.hosts))
            }
        }
    }

    @Test(arguments: [(10, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 4), (12, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 4),
                      (5, [2, 2, 2, 2, 2], 2), (3, [4, 3, 3], 1), (2, [5, 5], 0)])
    func spreadsSixPlusFourAsTheDesignSays(hostCount: Int, expectedCounts: [Int], tolerated: Int) throws {
        for chunk in 0..<20 {
            let hosts = Self.hosts(Array(repeating: 100, count: hostCount))
            let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
            #expect(Self.counts(placement.hosts).values.sorted(by: >) == expectedCounts)
            #expect(placement.toleratedHostLosses == tolerated)
        }
    }

    @Test func refusesWithFewerThanTwoUsableHosts() {
        let cases: [[PlacementHost]] = [
            [],
            [PlacementHost(id: 1, freeBytes: 1 << 40)],
            [PlacementHost(id: 1, freeBytes: 1 << 40), PlacementHost(id: 2, freeBytes: 1 << 40, online: false),
             PlacementHost(id: 3, freeBytes: Self.shard - 1)],
        ]
        for (hosts, usable) in zip(cases, [0, 1, 1]) {
            #expect(throws: PlacementError.tooFewHosts(usable: usable, needed: 2)) {
                try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: 0, hosts: hosts)
            }
        }
        let message = PlacementError.tooFewHosts(usable: 1, needed: 2).description
        #expect(!message.contains("\n"))
        #expect(message.contains("only 1 usable host ") && message.contains("at least 2"))
        #expect(message.contains("pair more hosts") && message.contains("offline"))
    }

    @Test func refusesWhenTheCapCannotHoldEveryShard() {
        // 3+3: at most 2 shards per host, so 6 shards need 3 hosts.
        #expect(throws: PlacementError.tooFewHosts(usable: 2, needed: 3)) {
            try Placer.place(k: 3, m: 3, shardBytes: Self.shard, chunkIndex: 0, hosts: Self.hosts([100, 100]))
        }
        // Two hosts with room for 3 shards each cannot take 6+4; one more full-size host would do.
        #expect(throws: PlacementError.tooFewHosts(usable: 2, needed: 3)) {
            try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: 0, hosts: Self.hosts([3, 3]))
        }
    }

    @Test func givesNoHostMoreShardsThanItsFreeSpaceHolds() throws {
        // Host 1 has room for one shard: the others take the rest, as evenly as possible (3/2/2/2).
        let hosts = Self.hosts([1, 100, 100, 100, 100])
        for chunk in 0..<50 {
            let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
            let counts = Self.counts(placement.hosts)
            #expect(counts[1] == 1)
            #expect(counts.values.sorted(by: >) == [3, 2, 2, 2, 1])
            #expect(placement.toleratedHostLosses == 1)
        }
    }

    @Test func isDeterministicAndIgnoresHostOrder() throws {
        var rng = SeededGenerator(state: 7)
        let hosts = (1...9).map {
            PlacementHost(id: Int64($0), freeBytes: Int.random(in: 10...1000, using: &rng) * Self.shard)
        }
        for chunk in 0..<100 {
            let placement = try Placer.place(k: 4, m: 2, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
            #expect(try Placer.place(k: 4, m: 2, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts) == placement)
            #expect(try Placer.place(k: 4, m: 2, shardBytes: Self.shard, chunkIndex: chunk,
                                     hosts: hosts.shuffled(using: &rng)) == placement)
        }
    }

    @Test(arguments: [4, 7, 13, 17])
    func rotationEvensOutLoadAcrossEqualHosts(hostCount: Int) throws {
        let hosts = Self.hosts(Array(repeating: 1000, count: hostCount))
        var totals: [Int64: Int] = [:], firsts: [Int64: Int] = [:]
        let chunks = 1000
        for chunk in 0..<chunks {
            let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: chunk, hosts: hosts)
            totals.merge(Self.counts(placement.hosts), uniquingKeysWith: +)
            firsts[placement.hosts[0], default: 0] += 1
        }
        #expect(totals.count == hostCount)
        // Mean load is 10 000 / H shards; the golden-ratio rotation keeps every host within a few shards of it.
        #expect(totals.values.max()! - totals.values.min()! <= 3, "\(totals)")
        #expect(firsts.count == hostCount, "shard 0 rotates over the hosts")
    }

    @Test func favoursHostsWithMoreFreeSpace() throws {
        // 4 hosts for 6+4: 2 each plus 2 extras drawn in proportion to free space 4:2:1:1, so each host gets an
        // extra with probability 1, 1/2, 1/4, 1/4: 3, 2.5, 2.25, 2.25 shards per chunk on average.
        let chunks = 1000
        var totals: [Int64: Int] = [:]
        for chunk in 0..<chunks {
            let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: chunk,
                                             hosts: Self.hosts([400, 200, 100, 100]))
            totals.merge(Self.counts(placement.hosts), uniquingKeysWith: +)
        }
        for (id, expected) in zip(1...4, [3000, 2500, 2250, 2250]) {
            #expect(abs(totals[Int64(id)]! - expected) <= 5, "host \(id): \(totals[Int64(id)]!)")
        }

        // More hosts than shards: the roomy host is used on every chunk, the others on 9 of 11.
        var used: [Int64: Int] = [:]
        for chunk in 0..<1100 {
            let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: chunk,
                                             hosts: Self.hosts([1000] + Array(repeating: 100, count: 11)))
            used.merge(Self.counts(placement.hosts), uniquingKeysWith: +)
        }
        #expect(used[1] == 1100)
        #expect((2...12).allSatisfy { abs(used[Int64($0)]! - 900) <= 3 }, "\(used)")
    }

    @Test func fillKeepsExistingEntriesAndAvoidsExcludedHosts() throws {
        let hosts = Self.hosts(Array(repeating: 100, count: 10))
        let placement = try Placer.place(k: 6, m: 4, shardBytes: Self.shard, chunkIndex: 3, hosts: hosts)
        let failed = placement.hosts[2]
        let current = placement.hosts.map { $0 == failed ? nil : $0 }
        let filled = Placer.fill(k: 6, m: 4, shardBytes: Self.shard, current: current, excluded: [failed], hosts: hosts)
        #expect(filled.count == 10)
        for (before, after) in zip(current, filled) where before != nil { #expect(after == before) }
        #expect(!filled.contains(failed))
        #expect(filled.allSatisfy { $0 != nil })
        #expect(Self.counts(filled).values.sorted(by: >) == [2, 1, 1, 1, 1, 1, 1, 1, 1])
        #expect(Placer.toleratedHostLosses(k: 6, assignment: filled) == 3)
    }

    @Test func fillSpreadsOntoTheLeastLoadedOnlineHosts() {
        var hosts = Self.hosts([100, 100, 100, 100, 100, 100])
        hosts[5] = PlacementHost(id: 6, freeBytes: 100 * Self.shard, online: false)
        let current: [Int64?] = [1, 1, 2, 2, 3, 3, nil, nil, nil, nil]
        let filled = Placer.fill(k: 6, m: 4, shardBytes: Self.shard, current: current, excluded: [], hosts: hosts)
        #expect(Self.counts(filled) == [1: 2, 2: 2, 3: 2, 4: 2, 5: 2])
        #expect(Placer.toleratedHostLosses(k: 6, assignment: filled) == 2)
    }

    @Test func fillRespectsTheCapAndLeavesNilWhenImpossible() {
        // 6+4 on two hosts (5 each); host 2 fails. Host 1 is at the cap, so nothing can move.
        let current: [Int64?] = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
        let holes = current.map { $0 == 2 ? nil : $0 }
        let alone = Placer.fill(k: 6, m: 4, shardBytes: Self.shard, current: holes, excluded: [2],
                                hosts: Self.hosts([100, 100]))
        #expect(alone == holes)
        // A third host with room for two shards takes two; three stay nil (5 + 2 = 7 >= k + 1: degraded).
        let helped = Placer.fill(k: 6, m: 4, shardBytes: Self.shard, current: holes, excluded: [2],
                                 hosts: Self.hosts([100, 100, 2]))
        #expect(Self.counts(helped) == [1: 5, 3: 2])
        #expect(helped.filter { $0 == nil }.count == 3)
        #expect(Placer.toleratedHostLosses(k: 6, assignment: helped) == 0)
    }

    @Test func toleratedHostLossesCountsOnlyStoredShards() {
        let distinct: [Int64?] = (1...10).map { Int64($0) }
        #expect(Placer.toleratedHostLosses(k: 6, assignment: distinct) == 4)
        #expect(Placer.toleratedHostLosses(k: 6, assignment: Array(distinct.prefix(8)) + [nil, nil]) == 2)
        #expect(Placer.toleratedHostLosses(k: 6, assignment: [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]) == 1)
        let unreadable = Array(distinct.prefix(5)) + [nil, nil, nil, nil, nil]
        #expect(Placer.toleratedHostLosses(k: 6, assignment: unreadable) == 0, "fewer than k shards stored")
        #expect(Placer.toleratedHostLosses(k: 2, assignment: [1, 2]) == 0)
        #expect(Placer.toleratedHostLosses(k: 1, assignment: [1, 2]) == 1)
    }
}
