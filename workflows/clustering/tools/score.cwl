cwlVersion: v1.2
class: CommandLineTool
label: Assign, score and keep the best clustering
doc: |
  Uncovered points join the nearest chosen centroid; the silhouette decides whether
  this round's clustering replaces the best so far, and `done` whether to stop.
  The step writes its outputs itself (cwl.output.json), `more` and `next_round`
  included, so that the loop around it evaluates no JavaScript.
baseCommand: [sfq, clustering, score]
arguments: [--cwl-output]
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
  score:
    type: File
    doc: '{"silhouette", "rounds", "clusters", "best_round", "done"}'
  done:
    type: boolean
  more:
    type: boolean
    doc: Not done.
  next_round:
    type: int
