"""The HyperQ packer: qVMs on any device, packed in space and time into composite circuits.

See docs/packer.md. The policies (``space``, ``space-time``, ``noise-aware``) are in
:mod:`.policy`, registered in :mod:`streamflow_quantum.packing.registry`.
"""
