cwlVersion: v1.2
class: CommandLineTool
label: Estimate Pauli observables of a circuit on a QPU, cutting it when too wide
doc: |
  Runs `sfq estimate`: expectation values of the observables (one Pauli string per
  line, leftmost on the highest qubit, optionally after a coefficient; or a JSON list
  of such lines). A circuit wider than max_width (default, the device's qubits) is cut
  with qiskit-addon-cutting; its subexperiments run as ordinary programs that the
  broker packs. Bound to a `qpu` deployment in StreamFlow it goes through the vQPU
  broker; under plain cwltool it runs directly on Aer.
requirements:
  InlineJavascriptRequirement:
    expressionLib:
      - |
        // The results file: output_name, else the circuit's name with .estimate.json.
        function resultsName() {
          return inputs.output_name || inputs.circuit.nameroot + ".estimate.json";
        }
baseCommand: [sfq, estimate]
arguments:
  - prefix: --output
    valueFrom: $(resultsName())
inputs:
  circuit:
    type: File
    doc: OpenQASM 2/3 or QPY circuit (final measurements are ignored).
    inputBinding:
      position: 1
  observables:
    type: File
    doc: Pauli observables, one per line, or a JSON list of lines.
    inputBinding:
      position: 2
  shots:
    type: int?
    doc: Shots per subexperiment (default, the QPU's).
    inputBinding:
      prefix: --shots
  seed:
    type: int?
    doc: Seed for cut finding, simulators and the standard errors.
    inputBinding:
      prefix: --seed
  max_width:
    type: int?
    doc: Qubits of the widest piece (default, the device's qubits).
    inputBinding:
      prefix: --max-width
  max_overhead:
    type: float?
    doc: Largest sampling overhead a cut may cost.
    inputBinding:
      prefix: --max-overhead
  output_name:
    type: string?
    doc: The results file's name (default, the circuit's with .estimate.json).
outputs:
  estimates:
    type: File
    doc: '{"results": [{"circuit", "observables", "values", "std_errors", "cuts", "subexperiments", "programs", "sampling_overhead", "batches"}]}'
    outputBinding:
      glob: $(resultsName())
