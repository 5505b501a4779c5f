import VishwaClient

/// Gives the hosts back the space of removed and overwritten files without anyone running
/// `vishwa gc`: every `interval` it deletes the shards that have waited `minAge` seconds in the
/// garbage queue. The wait is for other readers of an old version (a `vishwa download` that began
/// before the file was replaced, a catalog restored from a slightly older backup); this mount's
/// own readers never need a shard once it is queued. Offline hosts keep theirs for a later pass.
/// Nil (off) for a zero interval.
func collectGarbageOften(_ session: VaultSession, every interval: Duration, minAge: Int64) -> Repeating? {
    guard interval > .zero else { return nil }
    return Repeating(every: interval) {
        do {
            let report = try await GarbageCollector.run(session, minAge: minAge)
            if report.deleted + report.alreadyGone > 0 {
                session.logger.info("gc: deleted \(report.deleted) shards from the hosts, \(report.pending) still queued")
            }
        } catch {
            session.logger.warning("gc pass failed: \(error)")
        }
    }
}
