cwlVersion: v1.2
class: CommandLineTool
label: Consensus candidates and their weighted-MIS QUBO
baseCommand: [sfq, clustering, qubo]
inputs:
  labels:
    type: File[]
    doc: Each method's labels.
    inputBinding: {prefix: --labels}
arguments: [--out, qubo.npz]
outputs:
  qubo:
    type: File
    outputBinding: {glob: qubo.npz}
