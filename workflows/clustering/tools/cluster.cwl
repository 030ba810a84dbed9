cwlVersion: v1.2
class: CommandLineTool
label: One clustering method of one round
doc: k-means, DBSCAN or single linkage, with the round's parameters drawn from the round number.
baseCommand: [sfq, clustering, cluster]
inputs:
  points:
    type: File
    inputBinding: {prefix: --points}
  method:
    type:
      type: enum
      symbols: [kmeans, dbscan, single]
    inputBinding: {prefix: --method}
  round:
    type: int
    inputBinding: {prefix: --round}
arguments: [--out, $(inputs.method).npz]
outputs:
  labels:
    type: File
    outputBinding: {glob: $(inputs.method).npz}
