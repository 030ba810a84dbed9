cwlVersion: v1.2
class: CommandLineTool
label: Sample maximal independent sets of one search node's subgraph (quantum, QAOA)
baseCommand: [sfq, coloring, mis]
inputs:
  node:
    type: File
    inputBinding: {prefix: --node}
  solver:
    type: string
    inputBinding: {prefix: --solver}
  reps:
    type: int
    inputBinding: {prefix: --reps}
  maxiter:
    type: int
    inputBinding: {prefix: --maxiter}
  shots:
    type: int
    inputBinding: {prefix: --shots}
  seed:
    type: int?
    inputBinding: {prefix: --seed}
outputs:
  mis:
    type: File
    doc: '{"id", "solver", "sets", "batches", "mean_energy", "uniform_energy", "best_energy", "gain"}'
    outputBinding: {glob: mis.json}
