cwlVersion: v1.2
class: Workflow
label: GHZ states of several widths, sampled concurrently on one QPU
requirements:
  ScatterFeatureRequirement: {}
inputs:
  circuits: File[]
  shots: int?
  seed: int?
outputs:
  counts:
    type: File[]
    outputSource: sample/counts
steps:
  sample:
    run: sample.cwl
    scatter: circuits
    in:
      circuits: circuits
      shots: shots
      seed: seed
    out: [counts]
