// The host's on-disk shard store: see ShardStore.swift.
