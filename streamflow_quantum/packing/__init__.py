"""Packing policies: how the broker turns its queue into backend jobs."""
