cwlVersion: v1.2
class: CommandLineTool
label: Sample circuits on a QPU
doc: |
  Runs `sfq sample`: OpenQASM 2/3 or QPY circuits are compiled for the device, run,
  and their counts written as JSON, named after the circuit (ghz_3.qasm: ghz_3.json).
  Bound to a `qpu` deployment in StreamFlow, it goes through the vQPU broker; under
  plain cwltool it runs directly on Aer.
requirements:
  InlineJavascriptRequirement:
    expressionLib:
      - |
        // The results file: output_name, else the circuit's name with .json (ghz_3.json),
        // else for several circuits their names joined by '+' (ghz_2+ghz_3.json), or the
        // first one's and how many more where that would make a long name.
        function resultsName() {
          if (inputs.output_name) {
            return inputs.output_name;
          }
          var files = Array.isArray(inputs.circuits) ? inputs.circuits : [inputs.circuits];
          var names = files.map(function (f) { return f.nameroot; });
          var joined = names.join("+");
          if (names.length > 1 && joined.length > 120) {
            joined = names[0] + "+" + (names.length - 1) + "-more";
          }
          return joined + ".json";
        }
baseCommand: [sfq, sample]
arguments:
  - prefix: --output
    valueFrom: $(resultsName())
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
    type: string?
    doc: The results file's name (default, the circuit's, e.g. ghz_3.json for ghz_3.qasm).
outputs:
  counts:
    type: File
    doc: '{"results": [{"circuit", "shots", "counts", "backend", "job", "batch", "placement", "times"}]}'
    outputBinding:
      glob: $(resultsName())
