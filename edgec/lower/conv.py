"""Lowering of the conv ops (see edgec.lower)."""
