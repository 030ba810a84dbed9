cwlVersion: v1.2
class: Workflow
label: One round of clustering aggregation
doc: |
  Three clusterings in parallel (each its own job), the consensus QUBO, the MIS solve
  (the quantum step), then assignment and silhouette, keeping the best so far.
requirements:
  MultipleInputFeatureRequirement: {}
inputs:
  points: File
  round: int
  solver: string
  quantum_delay: float
  threshold: float
  max_rounds: int
  best_score: File?
  best_clustering: File?
outputs:
  clustering:
    type: File
    outputSource: silhouette/clustering
  score:
    type: File
    outputSource: silhouette/score
  done:
    type: boolean
    outputSource: silhouette/done
  more:
    type: boolean
    outputSource: silhouette/more
  next_round:
    type: int
    outputSource: silhouette/next_round
  solution:
    type: File
    doc: The MIS step's mis.json, with its quantum evidence.
    outputSource: mis/solution
steps:
  kmeans:
    run: tools/cluster.cwl
    in:
      points: points
      round: round
      method: {default: kmeans}
    out: [labels]
  dbscan:
    run: tools/cluster.cwl
    in:
      points: points
      round: round
      method: {default: dbscan}
    out: [labels]
  single:
    run: tools/cluster.cwl
    in:
      points: points
      round: round
      method: {default: single}
    out: [labels]
  qubo:
    run: tools/qubo.cwl
    in:
      labels:
        source: [kmeans/labels, dbscan/labels, single/labels]
        linkMerge: merge_flattened
    out: [qubo]
  mis:
    run: tools/mis.cwl
    in:
      qubo: qubo/qubo
      solver: solver
      round: round
      quantum_delay: quantum_delay
    out: [solution]
  silhouette:
    run: tools/score.cwl
    in:
      points: points
      qubo: qubo/qubo
      solution: mis/solution
      round: round
      best_score: best_score
      best_clustering: best_clustering
      threshold: threshold
      max_rounds: max_rounds
    out: [clustering, score, done, more, next_round]
