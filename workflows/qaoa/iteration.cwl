cwlVersion: v1.2
class: Workflow
label: One optimiser iteration, repeated by main.cwl's loop
doc: |
  sample mode: `evaluate` samples the circuit at the optimiser's next point (one quantum
  step). estimate mode: `prepare` writes that circuit and each edge's Z_i Z_j, and the
  estimator step (`sfq estimate`, quantum) returns their expectation values, cutting the
  circuit when it is wider than the device or max_width. `update` tells the optimiser.
requirements:
  InlineJavascriptRequirement: {}
  MultipleInputFeatureRequirement: {}
inputs:
  state: File
  shots: int
  mode: string
  seed: int
  max_width: int?
  max_overhead: float?
outputs:
  next_state:
    type: File
    outputSource: update/state_out
  done:
    type: boolean
    outputSource: update/done
steps:
  evaluate:
    run: evaluate.cwl
    when: $(inputs.mode == "sample")
    in:
      state: state
      shots: shots
      mode: mode
    out: [energy]
  prepare:
    run: prepare.cwl
    when: $(inputs.mode == "estimate")
    in:
      state: state
      mode: mode
    out: [circuit, observables]
  estimate:
    run: ../tools/estimate.cwl
    when: $(inputs.mode == "estimate")
    in:
      circuit: prepare/circuit
      observables: prepare/observables
      shots: shots
      seed: seed
      max_width: max_width
      max_overhead: max_overhead
      mode: mode
    out: [estimates]
  update:
    run: update.cwl
    in:
      state: state
      energy:
        source: [evaluate/energy, estimate/estimates]
        pickValue: the_only_non_null
    out: [state_out, done]
