cwlVersion: v1.2
class: CommandLineTool
label: The points to cluster
doc: The papers' make_blobs dataset, or the user's CSV of x,y rows when `points` is given.
baseCommand: [sfq, clustering, dataset]
inputs:
  points:
    type: File?
    doc: CSV of x,y rows (an optional header line); replaces the blobs.
    inputBinding: {prefix: --points}
  n_points:
    type: int
    inputBinding: {prefix: --n-points}
  centers:
    type: int
    inputBinding: {prefix: --centers}
  seed:
    type: int
    doc: make_blobs random_state.
    inputBinding: {prefix: --seed}
arguments: [--out, points.npz]
outputs:
  points_npz:
    type: File
    outputBinding: {glob: points.npz}
