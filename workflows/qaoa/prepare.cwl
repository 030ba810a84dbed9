cwlVersion: v1.2
class: CommandLineTool
label: Write the circuit at the optimiser's next point and each edge's Z_i Z_j (classical, estimate mode)
baseCommand: [sfq, qaoa, prepare]
inputs:
  state:
    type: File
    inputBinding: {prefix: --state}
outputs:
  circuit:
    type: File
    doc: The bound QAOA circuit, qaoa-K.qpy for the K-th evaluation.
    outputBinding: {glob: qaoa-*.qpy}
  observables:
    type: File
    outputBinding: {glob: qaoa.observables}
