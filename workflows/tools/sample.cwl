cwlVersion: v1.2
class: CommandLineTool
label: Sample circuits on a QPU
doc: |
  Runs `sfq sample`: OpenQASM 2/3 or QPY circuits are compiled for the device, run,
  and their counts written as JSON. Bound to a `qpu` deployment in StreamFlow, it goes
  through the vQPU broker; under plain cwltool it runs directly on Aer.
baseCommand: [sfq, sample]
inputs:
  circuits:
    type:
      - File
      - type: array
        items: File
    doc: One circuit file, or several sampled in one step.
    inputBinding:
      position: 1
  shots:
    type: int?
    doc: Shots per circuit (default, the QPU's).
    inputBinding:
      prefix: --shots
  seed:
    type: int?
    doc: Simulator seed, for reproducible counts.
    inputBinding:
      prefix: --seed
  output_name:
    type: string
    default: counts.json
    inputBinding:
      prefix: --output
outputs:
  counts:
    type: File
    doc: '{"results": [{"circuit", "shots", "counts", "backend", "job", "batch", "times"}]}'
    outputBinding:
      glob: $(inputs.output_name)
