"""The snapshot compiler: management rows in, a versioned xDS snapshot out. No I/O."""
