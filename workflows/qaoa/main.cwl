cwlVersion: v1.2
class: Workflow
label: QAOA MaxCut on a 3-regular graph
doc: |
  A variational loop: each iteration evaluates the expected cut at the optimiser's
  current point on the QPU and lets COBYLA choose the next point (one classical step,
  state carried in state.json). The loop stops when COBYLA converges or after maxiter
  evaluations; the best point is then sampled. mode sample: each evaluation is one
  sample call. mode estimate: each evaluation is the estimator step on one Z_i Z_j per
  edge, which cuts a circuit wider than the device or max_width; when the final
  circuit is that wide too, the cut is rounded from the best point's correlations.
$namespaces:
  cwltool: "http://commonwl.org/cwltool#"
requirements:
  InlineJavascriptRequirement: {}
  SubworkflowFeatureRequirement: {}
inputs:
  graph:
    type: File?
    doc: Edge list, 'u v' per line; without it, a random 3-regular graph of `nodes` nodes.
  nodes: {type: int, default: 8}
  blocks:
    type: int
    default: 1
    doc: Random 3-regular blocks of nodes/blocks nodes each, joined in a ring by single edges.
  mode:
    type: string
    default: sample
    doc: sample (mean cut of sampled bitstrings) or estimate (from each edge's <Z_i Z_j>).
  max_width:
    type: int?
    doc: Most qubits one program may take (default, the device's); estimate mode cuts wider circuits.
  max_overhead:
    type: float?
    doc: Largest sampling overhead a cut may cost (estimate mode).
  seed: {type: int, default: 7}
  reps: {type: int, default: 1}
  maxiter: {type: int, default: 15}
  shots: {type: int, default: 512}
  final_shots: {type: int, default: 2048}
outputs:
  result:
    type: File
    outputSource: finish/result
steps:
  problem:
    run: problem.cwl
    in:
      graph: graph
      nodes: nodes
      blocks: blocks
      seed: seed
      reps: reps
      maxiter: maxiter
      mode: mode
      max_width: max_width
    out: [state]
  optimize:
    run: iteration.cwl
    in:
      state: problem/state
      shots: shots
      mode: mode
      seed: seed
      max_width: max_width
      max_overhead: max_overhead
      done: {default: false}
    out: [next_state, done]
    requirements:
      cwltool:Loop:
        loopWhen: $(!inputs.done)
        loop:
          state: next_state
          done: done
        outputMethod: last
  finish:
    run: finish.cwl
    in:
      state: optimize/next_state
      shots: final_shots
    out: [result]
