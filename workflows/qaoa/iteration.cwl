cwlVersion: v1.2
class: Workflow
label: One optimiser iteration, repeated by main.cwl's loop
inputs:
  state: File
  shots: int
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
    in:
      state: state
      shots: shots
    out: [energy]
  update:
    run: update.cwl
    in:
      state: state
      energy: evaluate/energy
    out: [state_out, done]
