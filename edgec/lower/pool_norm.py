"""Lowering of the pool_norm ops (see edgec.lower)."""
