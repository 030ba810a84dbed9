cwlVersion: v1.2
class: CommandLineTool
label: Sample the energy at the optimiser's next point (quantum, one sample call)
baseCommand: [sfq, qaoa, evaluate]
inputs:
  state:
    type: File
    inputBinding: {prefix: --state}
  shots:
    type: int
    inputBinding: {prefix: --shots}
outputs:
  energy:
    type: File
    outputBinding: {glob: energy.json}
