"""Scale-out: a plan of shards, and the merge of the shards' bundles."""
