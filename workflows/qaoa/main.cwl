cwlVersion: v1.2
class: Workflow
label: QAOA MaxCut on a 3-regular graph
doc: |
  A variational loop: each iteration samples the energy of the optimiser's current
  point on the QPU (one quantum step, one sample call) and lets COBYLA choose the
  next point (one classical step, state carried in state.json). The loop stops when
  COBYLA converges or after maxiter evaluations; the best point is then sampled.
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
      seed: seed
      reps: reps
      maxiter: maxiter
    out: [state]
  optimize:
    run: iteration.cwl
    in:
      state: problem/state
      shots: shots
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
