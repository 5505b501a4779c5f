print("vishwa-shard: not yet")
