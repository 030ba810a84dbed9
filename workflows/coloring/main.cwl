cwlVersion: v1.2
class: Workflow
label: Graph colouring with BBQ-MIS (branch and bound over QAOA-sampled independent sets)
doc: |
  `init` bounds the root with spectral and clique bounds; its incumbent is one colour
  per vertex, or a greedy colouring with `greedy: true` (which on the default graph
  already meets the bound, so nothing is sampled). Each loop iteration is one layer of the search: its open nodes solve
  their maximum-independent-set QUBOs with QAOA as concurrent quantum steps, then
  `branch` gives each sampled maximal independent set the next colour, bounds and
  prunes the children, and hands out the next layer. The loop ends when no layer is
  left (the bound is met, the tree is exhausted, or max_nodes nodes were explored).
$namespaces:
  cwltool: "http://commonwl.org/cwltool#"
requirements:
  InlineJavascriptRequirement: {}
  SubworkflowFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
inputs:
  graph:
    type: File
    default: {class: File, location: graph.txt}
    doc: Edge list, 'u v' per line.
  max_nodes: {type: int, default: 20}
  width:
    type: int
    default: 4
    doc: Most search nodes per layer, i.e. concurrent quantum MIS steps.
  greedy:
    type: boolean
    default: false
    doc: Start from a greedy colouring (false, the default - every colour class comes from the MIS steps).
  solver:
    type: string
    default: qaoa
    doc: qaoa (on the QPU) or annealing (the papers' classical proxy).
  reps: {type: int, default: 1}
  maxiter: {type: int, default: 20}
  shots: {type: int, default: 256}
  seed: {type: int?, default: 7}
outputs:
  coloring:
    type: File
    doc: |
      {"colors": {node: index}, "num_colors", "lower_bound", "nodes_explored", "gap", "optimal",
      "classes": [{"color", "vertices", "sampled_by": node id or null}], "sampled_classes",
      "explored": [{"id", "batches", "mean_energy", "uniform_energy", "best_energy", "gain", ...}], ...}
    outputSource: [search/coloring, init/coloring]
    pickValue: first_non_null
steps:
  init:
    run: init.cwl
    in:
      graph: graph
      max_nodes: max_nodes
      width: width
      greedy: greedy
    out: [state, layer, coloring]
  search:
    run: layer.cwl
    in:
      state: init/state
      layer: init/layer
      solver: solver
      reps: reps
      maxiter: maxiter
      shots: shots
      seed: seed
    out: [next_state, next_layer, coloring]
    requirements:
      cwltool:Loop:
        loopWhen: $(inputs.layer.length > 0)
        loop:
          state: next_state
          layer: next_layer
        outputMethod: last
