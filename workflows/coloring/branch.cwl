cwlVersion: v1.2
class: CommandLineTool
label: Branch on the layer's independent sets, bound, hand out the next layer (classical)
baseCommand: [sfq, coloring, branch]
inputs:
  state:
    type: File
    inputBinding: {prefix: --state}
  mis:
    type: File[]
    inputBinding: {position: 1}
outputs:
  state_out:
    type: File
    outputBinding: {glob: state.json}
  layer_out:
    type: File[]
    outputBinding: {glob: node-*.json}
  coloring:
    type: File
    outputBinding: {glob: coloring.json}
