"""Lowering of the tensor ops (see edgec.lower)."""
