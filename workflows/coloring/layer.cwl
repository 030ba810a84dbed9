cwlVersion: v1.2
class: Workflow
label: One layer of the search, repeated by main.cwl's loop
doc: Every open node of the layer solves its MIS as a concurrent quantum step.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  state: File
  layer: File[]
  solver: string
  reps: int
  maxiter: int
  shots: int
  seed: int?
outputs:
  next_state:
    type: File
    outputSource: branch/state_out
  next_layer:
    type: File[]
    outputSource: branch/layer_out
  coloring:
    type: File
    outputSource: branch/coloring
steps:
  mis:
    run: mis.cwl
    scatter: node
    in:
      node: layer
      solver: solver
      reps: reps
      maxiter: maxiter
      shots: shots
      seed: seed
    out: [mis]
  branch:
    run: branch.cwl
    in:
      state: state
      mis: mis/mis
    out: [state_out, layer_out, coloring]
