"""QPU backends: a base class the broker calls, Aer, IBM Quantum, and their registry."""
