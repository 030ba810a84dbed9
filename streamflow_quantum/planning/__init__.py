"""Capacity planning: a discrete-event model of a shared QPU platform (`sfq plan`).

The model, after "Modeling and Performance Evaluation of Hybrid Classical-Quantum
Serverless Computing Platforms" (section II-C), with the broker's own queue policies:

- Jobs arrive as a Poisson process or as a recorded trace of broker result records.
  A job is a preparation task, then ``iterations`` rounds of a classical task followed
  by a quantum task, then a post-processing task; a broker program is one quantum task,
  its compilation the preparation.
- C classical workers run the classical tasks, either as a FIFO pool (one task per
  worker, the broker's compile threads) or as shared CPUs (every task runs at once, at
  ``min(1, C / A)`` of full speed when A tasks are active: the paper's model).
- Q QPUs take batches from one queue of quantum tasks, ordered before each batch by a
  queue policy of ``streamflow_quantum.queueing``. A batch is up to k tasks: ``serial``
  runs one; ``space`` runs k side by side, for the longest one's device time; ``time``
  runs k one after another, for the sum. Each batch also costs a fixed overhead.
- Admission control: a job that arrives while ``capacity`` quantum tasks are queued, or
  while ``classical_capacity`` classical tasks are active, is dropped (the paper's
  Q_max and C_max). An admitted job is never interrupted.

Built on SimPy (a kept library for process-based discrete-event simulation); only the
shared CPUs, which SimPy has no resource for, are modelled here.
"""
