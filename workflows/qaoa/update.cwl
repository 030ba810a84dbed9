cwlVersion: v1.2
class: CommandLineTool
label: Tell the optimiser the energy and ask its next point (classical)
requirements:
  InlineJavascriptRequirement: {}
baseCommand: [sfq, qaoa, update]
inputs:
  state:
    type: File
    inputBinding: {prefix: --state}
  energy:
    type: File
    doc: evaluate's energy.json (sample mode) or the estimator's results (estimate mode).
    inputBinding: {prefix: --energy}
outputs:
  state_out:
    type: File
    outputBinding: {glob: state.json}
  done:
    type: boolean
    doc: Whether the optimiser has converged or used up maxiter.
    outputBinding:
      glob: state.json
      loadContents: true
      outputEval: $(JSON.parse(self[0].contents).done)
