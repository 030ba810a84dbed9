cwlVersion: v1.2
class: CommandLineTool
label: Sample the best parameters (or, in estimate mode when too wide, round their correlations) and report the cut
baseCommand: [sfq, qaoa, finish]
inputs:
  state:
    type: File
    inputBinding: {prefix: --state}
  shots:
    type: int
    inputBinding: {prefix: --shots}
outputs:
  result:
    type: File
    doc: '{"cut", "cut_value", "best_known", "approximation_ratio", "iterations", ...}'
    outputBinding: {glob: result.json}
