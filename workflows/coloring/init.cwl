cwlVersion: v1.2
class: CommandLineTool
label: Bound the root, take the greedy incumbent, hand out the first layer (classical)
baseCommand: [sfq, coloring, init]
inputs:
  graph:
    type: File
    inputBinding: {prefix: --graph}
  max_nodes:
    type: int
    inputBinding: {prefix: --max-nodes}
  width:
    type: int
    inputBinding: {prefix: --width}
  greedy:
    type: boolean
    inputBinding:
      prefix: --no-greedy
      valueFrom: $(!self)
outputs:
  state:
    type: File
    outputBinding: {glob: state.json}
  layer:
    type: File[]
    doc: One node-*.json per search node of the layer; empty once the search is over.
    outputBinding: {glob: node-*.json}
  coloring:
    type: File
    outputBinding: {glob: coloring.json}
