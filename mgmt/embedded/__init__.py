"""The embedded run mode: every Tollgate process on one machine, started and stopped together."""
