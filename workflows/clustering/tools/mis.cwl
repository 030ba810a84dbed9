cwlVersion: v1.2
class: CommandLineTool
label: Solve the consensus QUBO
doc: |
  The quantum step: `sa` is simulated annealing (the papers' proxy for a quantum
  annealer), `qaoa` samples QAOA circuits through the vQPU broker when bound to a qpu
  deployment (directly on Aer under plain cwltool). `quantum_delay` sleeps to emulate
  a long QPU job (the papers' neutral-atom device: about 120 s).
baseCommand: [sfq, clustering, mis]
inputs:
  qubo:
    type: File
    inputBinding: {prefix: --qubo}
  solver:
    type: string
    doc: sa or qaoa.
    inputBinding: {prefix: --solver}
  round:
    type: int
    doc: Seeds the solver.
    inputBinding: {prefix: --round}
  quantum_delay:
    type: float
    inputBinding: {prefix: --quantum-delay}
arguments: [--out, mis.json]
outputs:
  solution:
    type: File
    doc: |
      {"solver", "selected", "candidates", "energy", "qaoa_candidates", "solve_s",
      "quantum_delay_s", "from_sampler", "batches", and with qaoa "mean_energy",
      "uniform_energy", "best_energy", "gain"}
    outputBinding: {glob: mis.json}
