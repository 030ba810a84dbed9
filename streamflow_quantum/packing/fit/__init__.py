"""The ``fit`` packer: programs placed anywhere on the free part of the coupling graph.

Each program is compiled once for the whole device; its interaction graph is
embedded (subgraph monomorphism) into the qubits no other program of the batch
uses or touches, at the placement with the highest estimated success probability
that keeps within the program's fidelity budget. See ``policy.py``.
"""
