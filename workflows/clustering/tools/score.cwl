cwlVersion: v1.2
class: CommandLineTool
label: Assign, score and keep the best clustering
doc: |
  Uncovered points join the nearest chosen centroid; the silhouette decides whether
  this round's clustering replaces the best so far, and `done` whether to stop.
requirements:
  InlineJavascriptRequirement: {}
baseCommand: [sfq, clustering, score]
inputs:
  points:
    type: File
    inputBinding: {prefix: --points}
  qubo:
    type: File
    inputBinding: {prefix: --qubo}
  solution:
    type: File
    inputBinding: {prefix: --mis}
  round:
    type: int
    inputBinding: {prefix: --round}
  best_score:
    type: File?
    inputBinding: {prefix: --best-score}
  best_clustering:
    type: File?
    inputBinding: {prefix: --best-clustering}
  threshold:
    type: float
    inputBinding: {prefix: --threshold}
  max_rounds:
    type: int
    inputBinding: {prefix: --max-rounds}
outputs:
  clustering:
    type: File
    doc: CSV x,y,label of the best clustering so far.
    outputBinding: {glob: clustering.csv}
  score:
    type: File
    doc: '{"silhouette", "rounds", "clusters", "best_round", "done"}'
    outputBinding: {glob: score.json}
  done:
    type: boolean
    outputBinding:
      glob: score.json
      loadContents: true
      outputEval: $(JSON.parse(self[0].contents).done)
