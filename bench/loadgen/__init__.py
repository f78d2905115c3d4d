"""Pieces the load benchmarks share: an HTTP/1.1 client, servers, photos, stats and checks."""
