cwlVersion: v1.2
class: Workflow
label: Clustering aggregation by a weighted maximum independent set
doc: |
  "Three ways to share a QPU", 4.1.2: each round runs k-means, DBSCAN and single
  linkage, picks a consensus of their clusters by solving a weighted MIS (simulated
  annealing or QAOA on the QPU), and scores it with the silhouette. Rounds repeat,
  keeping the best clustering, until the silhouette reaches `threshold` or after
  `max_rounds` rounds.
$namespaces:
  cwltool: http://commonwl.org/cwltool#
requirements:
  SubworkflowFeatureRequirement: {}
inputs:
  points:
    type: File?
    doc: CSV of x,y rows; without it, make_blobs(n_points, centers, seed).
  n_points: {type: int, default: 80000}
  centers: {type: int, default: 8}
  seed: {type: int, default: 4919}
  solver:
    type: string
    default: sa
    doc: sa (simulated annealing) or qaoa (on the QPU).
  quantum_delay:
    type: float
    default: 0
    doc: Seconds each MIS step sleeps, to emulate a long QPU job.
  threshold: {type: float, default: 0.8}
  max_rounds: {type: int, default: 10}
outputs:
  clustering:
    type: File
    doc: CSV x,y,label of the best clustering.
    outputSource: aggregate/clustering
  score:
    type: File
    doc: '{"silhouette", "rounds", "clusters", "best_round", "done"}'
    outputSource: aggregate/score
  mis:
    type: File
    doc: |
      The last round's MIS solution: {"solver", "selected", "energy", ..., "from_sampler"
      (chosen candidates the solver chose before repair), "batches" (QAOA's broker
      batches), "mean_energy", "uniform_energy", "best_energy", "gain"}.
    outputSource: aggregate/solution
steps:
  dataset:
    run: tools/dataset.cwl
    in:
      points: points
      n_points: n_points
      centers: centers
      seed: seed
    out: [points_npz]
  aggregate:
    run: round.cwl
    in:
      points: dataset/points_npz
      round: {default: 1}
      more: {default: true}
      solver: solver
      quantum_delay: quantum_delay
      threshold: threshold
      max_rounds: max_rounds
      best_score: {default: null}
      best_clustering: {default: null}
    out: [clustering, score, more, next_round, solution]
    requirements:
      # Parameter references only: a JavaScript expression here would start a
      # JavaScript engine (about 0.25 s) between every two rounds.
      cwltool:Loop:
        loopWhen: $(inputs.more)
        loop:
          round: next_round
          more: more
          best_score: score
          best_clustering: clustering
        outputMethod: last
