cwlVersion: v1.2
class: CommandLineTool
label: Build the MaxCut problem and the optimiser state (classical)
baseCommand: [sfq, qaoa, problem]
inputs:
  graph:
    type: File?
    doc: Edge list, 'u v' per line; without it, a random 3-regular graph.
    inputBinding: {prefix: --graph}
  nodes:
    type: int
    inputBinding: {prefix: --nodes}
  blocks:
    type: int
    inputBinding: {prefix: --blocks}
  seed:
    type: int
    inputBinding: {prefix: --seed}
  mode:
    type: string
    inputBinding: {prefix: --mode}
  max_width:
    type: int?
    inputBinding: {prefix: --max-width}
  reps:
    type: int
    inputBinding: {prefix: --reps}
  maxiter:
    type: int
    inputBinding: {prefix: --maxiter}
outputs:
  state:
    type: File
    outputBinding: {glob: state.json}
