"""Reading circuits as users hand them over: OpenQASM 2, OpenQASM 3 or QPY.

The bytes come from untrusted clients, so everything that could make the parsers read files or
allocate without bound is checked on the raw text or header first: includes other than the
standard library, declared register sizes, broadcast operations, bracket nesting and, for QPY,
the header's counts. The parsed circuit is checked again (operations after gate expansion).
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.core.gates import (
    PROBE_PARAMS,
    expanded_size,
    same_as_standard,
    standard_gates,
)
from streamflow_quantum.core.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_QASM_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.MULTILINE)
_QPY_MAGIC = b"QISKIT"
_STANDARD_INCLUDE = {"2": "qelib1.inc", "3": "stdgates.inc"}
_IDENTIFIER = r"[A-Za-z_]\w*"
# A user's definition of a standard gate is matched against it only when this small.
_MAX_PROBED_DEFINITION = 1000


def safe_name(name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """A program name fit for one-line messages and logs: escaped, at most ``max_name`` long."""
    escaped = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name
    )
    if len(escaped) > limits.max_name:
        escaped = escaped[: max(limits.max_name - 3, 0)] + "..."
    return escaped


def _reason(error: BaseException) -> str:
    """A parser's message, as one printable line of bounded length."""
    return safe_name(one_line(error), Limits(max_name=300))


def load_circuit(
    data: bytes, name: str, limits: Limits = DEFAULT_LIMITS, *, measured: bool = True
) -> QuantumCircuit:
    """Parse one circuit, detecting its format; fail with a one-line reason.

    ``measured``: refuse a circuit without measurements (counts need them; an
    estimate measures in its observables' bases instead)."""
    label = safe_name(name, limits)
    if len(data) > limits.max_bytes:
        raise ProgramError(
            f"{label}: the file has {len(data)} bytes; this broker's limit is "
            f"{limits.max_bytes} (maxBytes)"
        )
    if data.startswith(_QPY_MAGIC):
        circuit = _load_qpy(data, label, limits)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProgramError(f"{label}: neither OpenQASM text nor QPY") from e
        circuit = _parse_qasm(text, label, limits)
    _check_parsed(circuit, label, limits)
    if measured and not any(
        instruction.operation.name == "measure" for instruction in circuit.data
    ):
        raise ProgramError(
            f"{label}: the circuit measures no qubit; add measurements to get counts"
        )
    circuit.name = name
    return circuit


def _limit(label: str, what: str, value: int, limit: int, setting: str) -> None:
    """Refuse ``value`` past ``limit``; ``what`` reads "declares {} qubits" and the like."""
    if value > limit:
        raise ProgramError(
            f"{label}: {what.format(value)}; this broker's limit is {limit} ({setting})"
        )


def _check_parsed(circuit: QuantumCircuit, label: str, limits: Limits) -> None:
    _limit(label, "has {} qubits", circuit.num_qubits, limits.max_qubits, "maxQubits")
    _limit(label, "has {} classical bits", circuit.num_clbits, limits.max_clbits, "maxClbits")
    _limit(label, "has {} operations", circuit.size(), limits.max_operations, "maxOperations")
    try:
        expanded = expanded_size(circuit, limits.max_operations)
    except (
        ValueError,
        ArithmeticError,
    ) as e:  # a gate's parameters outside its definition's domain
        raise ProgramError(f"{label}: a gate definition cannot be evaluated: {_reason(e)}") from e
    if expanded > limits.max_operations:
        raise ProgramError(
            f"{label}: its gate definitions expand to more than {limits.max_operations} "
            "operations; this broker's limit is that (maxOperations)"
        )


# --- QPY -----------------------------------------------------------------------------------


def _load_qpy(data: bytes, label: str, limits: Limits) -> QuantumCircuit:
    from qiskit import qpy

    _check_qpy_header(data, label, limits)
    try:
        circuits = qpy.load(io.BytesIO(data))
    except (qpy.QpyError, ValueError, TypeError, KeyError, IndexError, EOFError, struct.error) as e:
        raise ProgramError(f"{label}: not a readable QPY file: {_reason(e)}") from e
    if len(circuits) != 1 or not hasattr(circuits[0], "num_qubits"):
        raise ProgramError(f"{label}: a QPY file must hold exactly one circuit")
    return circuits[0]


def _check_qpy_header(data: bytes, label: str, limits: Limits) -> None:
    """Check the counts in the file and circuit headers before ``qpy.load`` trusts them.

    The layout is that of ``qiskit.qpy.formats`` (file header, a type key from version 5, a
    table of program offsets from version 16, then the circuit header).
    """
    from qiskit.qpy import common, formats

    try:
        version = data[len(_QPY_MAGIC)]
        if not 2 <= version <= common.QPY_VERSION:
            raise ProgramError(
                f"{label}: QPY version {version} is not supported here (2 to {common.QPY_VERSION})"
            )
        file_pack = formats.FILE_HEADER_V10_PACK if version >= 10 else formats.FILE_HEADER_PACK
        num_programs = struct.unpack_from(file_pack, data)[5]
        if num_programs != 1:
            raise ProgramError(
                f"{label}: a QPY file must hold exactly one circuit, not {num_programs}"
            )
        offset = struct.calcsize(file_pack)
        if version >= 5:
            if data[offset : offset + 1] != b"q":
                raise ProgramError(f"{label}: the QPY file holds no circuit")
            offset += 1
        if version >= 16:
            offset = struct.unpack_from(formats.CIRCUIT_TABLE_ENTRY_PACK, data, offset)[0]
        if version >= 12:
            header = formats.CIRCUIT_HEADER_V12._make(
                struct.unpack_from(formats.CIRCUIT_HEADER_V12_PACK, data, offset)
            )
        else:
            header = formats.CIRCUIT_HEADER_V2._make(
                struct.unpack_from(formats.CIRCUIT_HEADER_V2_PACK, data, offset)
            )
    except (struct.error, IndexError) as e:
        raise ProgramError(f"{label}: not a readable QPY file: truncated header") from e
    _limit(label, "declares {} qubits", header.num_qubits, limits.max_qubits, "maxQubits")
    _limit(label, "declares {} classical bits", header.num_clbits, limits.max_clbits, "maxClbits")
    _limit(
        label,
        "declares {} operations",
        header.num_instructions,
        limits.max_operations,
        "maxOperations",
    )
    # Each of these takes bytes of its own in the file, so a count past its size is forged.
    counts = [header.num_registers, header.metadata_size, getattr(header, "num_vars", 0)]
    if max(counts) > len(data):
        raise ProgramError(f"{label}: not a readable QPY file: its header's counts are forged")


# --- OpenQASM ------------------------------------------------------------------------------


def _code(text: str, block_comments: bool) -> str:
    """``text`` with comments blanked (newlines kept) and string literals kept as they are.

    Strings are matched first so that ``//`` inside an include's path is not a comment. The
    parser is then handed this text, so it sees exactly what the checks below saw.
    """
    pattern = r'"[^"\n]*"|//[^\n]*' + (r"|/\*.*?\*/" if block_comments else "")

    def blank(match: re.Match[str]) -> str:
        s = match.group()
        return s if s.startswith('"') else re.sub(r"[^\n]", " ", s)

    return re.sub(pattern, blank, text, flags=re.DOTALL)


def _parse_qasm(text: str, label: str, limits: Limits) -> QuantumCircuit:
    match = _QASM_VERSION.search(_code(text, block_comments=True))
    if match is not None:
        version = match.group(1)
    elif re.search(r"\bqreg\b", _code(text, block_comments=False)):
        version = "2"  # Qiskit's OpenQASM 2 parser takes a file without header (QASMBench has some)
    else:
        raise ProgramError(
            f"{label}: no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header; is it a circuit file?"
        )
    if version not in _STANDARD_INCLUDE:
        raise ProgramError(f"{label}: OpenQASM {version} is not supported; use OpenQASM 2 or 3")
    code = _code(text, block_comments=version == "3")
    _check_includes(code, version, label)
    sizes = _check_registers(code, version, label, limits)
    _check_operations(code, sizes, label, limits)
    if version == "3":
        _check_nesting(code, label, limits)
    return _parse_with_standard_gates(code, version, label)


def _check_includes(code: str, version: str, label: str) -> None:
    """Refuse any include but the standard library's: the parsers would read the filesystem."""
    allowed = _STANDARD_INCLUDE[version]
    for match in re.finditer(r"\binclude\b", code):
        statement = re.match(r'include\s*"([^"\n]*)"\s*;', code[match.start() :])
        if statement is None:
            raise ProgramError(f'{label}: malformed include; only include "{allowed}"; is allowed')
        if statement.group(1) != allowed:
            raise ProgramError(
                f'{label}: includes "{safe_name(statement.group(1))}"; only the standard '
                f'library, include "{allowed}";, is allowed'
            )


def _integer(literal: str) -> int | None:
    """An OpenQASM integer literal's value (decimal, 0x, 0o, 0b, with '_'), else None."""
    literal = literal.strip().replace("_", "")
    if re.fullmatch(r"\d+", literal):
        return int(literal)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", literal):
        return int(literal, 0)
    return None


def _check_registers(code: str, version: str, label: str, limits: Limits) -> dict[str, int]:
    """Add up declared qubits and clbits from the text; return each register's size."""
    sizes: dict[str, int] = {}
    qubits = clbits = 0
    keywords = r"qreg|creg" if version == "2" else r"qreg|creg|qubit|bit"
    for match in re.finditer(rf"\b({keywords})\b", code):
        keyword = match.group(1)
        rest = code[match.end() :]
        if keyword in {"qreg", "creg"}:
            declaration = re.match(rf"\s+({_IDENTIFIER})\s*\[([^\]]*)\]", rest)
            name, size_text = declaration.groups() if declaration else ("", "")
        else:  # qubit[n] name, bit name, or a type in a subroutine's signature
            declaration = re.match(rf"\s*(?:\[([^\]]*)\])?\s*({_IDENTIFIER})?", rest)
            size_text, name = declaration.groups() if declaration else ("", "")
            size_text = "1" if size_text is None else size_text
        size = _integer(size_text)
        if size is None:
            raise ProgramError(
                f"{label}: a register's size must be an integer literal (after '{keyword}')"
            )
        sizes[name or ""] = size
        if keyword in {"qreg", "qubit"}:
            qubits += size
        else:
            clbits += size
    if version == "3":
        physical = [int(index) for index in re.findall(r"\$(\d+)", code)]
        qubits += max(physical, default=-1) + 1
        for alias in re.findall(rf"\blet\s+({_IDENTIFIER})", code):
            sizes[alias] = qubits  # an alias may join registers: as wide as all of them
    _limit(label, "declares {} qubits", qubits, limits.max_qubits, "maxQubits")
    _limit(label, "declares {} classical bits", clbits, limits.max_clbits, "maxClbits")
    return sizes


def _check_operations(code: str, sizes: dict[str, int], label: str, limits: Limits) -> None:
    """Bound the operations from the text: ``h q;`` applies to every qubit of ``q``.

    Each statement counts as the largest register it names whole (1 if none; barriers 1).
    """
    total = 0
    for statement in re.split(r"[;{}]", code):
        words = re.findall(rf"\b({_IDENTIFIER})\b(?!\s*\[)", statement)
        if not words or words[0] in {"barrier", "qreg", "creg", "qubit", "bit", "OPENQASM"}:
            total += 1
            continue
        total += max((sizes.get(word, 1) for word in words), default=1)
        if total > limits.max_operations:
            raise ProgramError(
                f"{label}: applies more than {limits.max_operations} operations; "
                f"this broker's limit is {limits.max_operations} (maxOperations)"
            )


def _check_nesting(code: str, label: str, limits: Limits) -> None:
    depth = deepest = 0
    for bracket in re.findall(r"[()\[\]{}]", code):
        depth += 1 if bracket in "([{" else -1
        deepest = max(deepest, depth)
    _limit(label, "nests brackets {} levels deep", deepest, limits.max_nesting, "maxNesting")


def _parse_with_standard_gates(code: str, version: str, label: str) -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 as Qiskit's exporters write it, reading no file.

    Qiskit's exporters write the standard gates outside the standard include (``ecr``, ``rzx``,
    ``iswap``... for both versions) as ``gate`` definitions, and the parsers turn those into
    custom gates that merely carry the standard name. So a definition under a standard gate's
    name is parsed under a fresh name, then each use of it becomes the standard gate if the
    definition acts as it, or keeps the fresh name (and its own meaning) otherwise, so it is
    never taken for a device's native gate of that name.
    """
    standard = standard_gates()
    defined = set(re.findall(rf"\bgate\s+({_IDENTIFIER})", code))
    renames = {name: _fresh_name(name, code) for name in sorted(defined & standard.keys())}
    if renames:
        code = re.sub(rf"\b({'|'.join(renames)})\b", lambda m: renames[m.group(1)], code)
    parse = _qasm2_parser(code, defined) if version == "2" else _parse_qasm3
    circuit = parse(code, label)
    if renames:
        circuit = _as_standard(circuit, _matching_definitions(code, version, renames, parse))
    return circuit


_Parser = Callable[[str, str], "QuantumCircuit"]


def _qasm2_parser(code: str, defined: set[str]) -> _Parser:
    """Qiskit's OpenQASM 2 parser, with the legacy gates ``code`` does not define itself."""
    from qiskit import qasm2

    standard = standard_gates()
    opaque = set(re.findall(rf"\bopaque\s+({_IDENTIFIER})", code))
    custom = [c for c in qasm2.LEGACY_CUSTOM_INSTRUCTIONS if c.name not in defined | opaque]
    custom += [
        qasm2.CustomInstruction(
            name, len(standard[name].params), standard[name].num_qubits, standard[name].base_class
        )
        for name in opaque & standard.keys()
    ]

    def parse(source: str, label: str) -> QuantumCircuit:
        try:
            return qasm2.loads(source, include_path=(), custom_instructions=custom)
        except qasm2.QASM2Error as e:
            raise ProgramError(f"{label}: invalid OpenQASM 2: {_reason(e)}") from e

    return parse


def _parse_qasm3(code: str, label: str) -> QuantumCircuit:
    from openqasm3.parser import QASM3ParsingError
    from qiskit import qasm3

    try:
        return qasm3.loads(code)
    except (qasm3.QASM3Error, QASM3ParsingError, ValueError, RecursionError) as e:
        raise ProgramError(f"{label}: invalid OpenQASM 3: {_reason(e)}") from e


def _fresh_name(name: str, code: str) -> str:
    fresh = f"custom_{name}"
    while re.search(rf"\b{fresh}\b", code):
        fresh += "_"
    return fresh


def _matching_definitions(
    code: str, version: str, renames: dict[str, str], parse: _Parser
) -> dict[str, str]:
    """Of the renamed definitions, those that act as the standard gate: fresh name -> name.

    Each is instantiated at fixed parameter values in a probe program holding only the file's
    gate definitions, read by the same parser, and compared with the standard gate at the same
    values. A probe the parser refuses (a definition using the file's constants, say) matches
    nothing: the file's own definitions are then kept as they are.
    """
    standard = standard_gates()
    definitions = re.findall(r"\b(?:gate|opaque)\b[^{;]*(?:\{[^}]*\}|;)", code)
    register = _fresh_name("probe", code)
    calls = []
    candidates = {}
    for name, fresh in renames.items():
        gate = standard[name]
        signature = re.search(rf"\bgate\s+{fresh}\s*(?:\(([^)]*)\))?\s*([^{{]*)\{{", code)
        if signature is None:
            continue
        params = [p for p in (signature.group(1) or "").split(",") if p.strip()]
        qargs = [q for q in signature.group(2).split(",") if q.strip()]
        if len(params) != len(gate.params) or len(qargs) != gate.num_qubits:
            continue
        candidates[fresh] = name
        qubits = ",".join(f"{register}[{i}]" for i in range(gate.num_qubits))
        for values in PROBE_PARAMS:
            arguments = f"({','.join(map(str, values[: len(params)]))})" if params else ""
            calls.append(f"{fresh}{arguments} {qubits};")
    if not candidates:
        return {}
    width = max(standard[name].num_qubits for name in candidates.values())
    include = _STANDARD_INCLUDE[version]
    header = f"OPENQASM {version}.0;\n" + (f'include "{include}";\n' if include in code else "")
    declaration = f"qreg {register}[{width}];" if version == "2" else f"qubit[{width}] {register};"
    probe_text = header + "\n".join(definitions) + f"\n{declaration}\n" + "\n".join(calls)
    try:
        probe = parse(probe_text, "probe")
    except ProgramError:
        return {}
    verdict = dict.fromkeys(candidates, True)
    for instruction in probe.data:
        op = instruction.operation
        if op.name not in verdict:
            return {}  # not the probe's own calls: keep the file's definitions as they are
        small = expanded_size(op.definition, _MAX_PROBED_DEFINITION) <= _MAX_PROBED_DEFINITION
        verdict[op.name] = verdict[op.name] and small and same_as_standard(op, candidates[op.name])
    return {fresh: candidates[fresh] for fresh, same in verdict.items() if same}


def _as_standard(circuit: QuantumCircuit, matching: dict[str, str]) -> QuantumCircuit:
    """``circuit`` with each use of a matching definition replaced by the standard gate.

    Uses inside control flow (OpenQASM 3) are replaced too; uses inside other definitions or
    under modifiers keep the fresh name and their definition, which means the same.
    """
    from qiskit.circuit import ControlFlowOp

    if not matching:
        return circuit
    standard = standard_gates()
    result = circuit.copy_empty_like()
    for instruction in circuit.data:
        op = instruction.operation
        if op.name in matching:
            op = standard[matching[op.name]].base_class(*op.params)
        elif isinstance(op, ControlFlowOp):
            op = op.replace_blocks([_as_standard(block, matching) for block in op.blocks])
        result.append(instruction.replace(operation=op))
    return result


def read_circuit_file(path: str, limits: Limits = DEFAULT_LIMITS) -> QuantumCircuit:
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise ProgramError(f"{name}: cannot read {path}: {e.strerror}") from e
    return load_circuit(data, name, limits)
