from __future__ import annotations

import itertools

import pytest
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeFez, FakeManilaV2, FakeTorino

from streamflow_quantum.packing.hyperq.qvm import ShapeCatalog
from streamflow_quantum.packing.hyperq.regions import HALVES, I_SHAPE_EDGES, find_layout


def assert_isolated(layout, groups):
    """No coupling edge (and no qubit) joins two groups of qubits."""
    for a, b in itertools.combinations(groups, 2):
        assert not set(a) & set(b)
        assert not any(layout.graph.has_edge(p, q) for p in a for q in b), (a, b)


def test_brisbane_is_hyperq_3x3_grid_of_i_regions(brisbane):
    layout = find_layout(brisbane)
    assert layout.kind == "hyperq-grid"
    assert sorted(layout.cells) == [(r, c) for r in range(3) for c in range(3)]
    for qubits in layout.cells.values():
        assert len(qubits) == 7
        assert all(layout.graph.has_edge(qubits[a], qubits[b]) for a, b in I_SHAPE_EDGES)
    assert_isolated(layout, list(layout.cells.values()))
    assert all(len(link) == 2 for link in layout.hlinks.values())
    assert all(len(link) == 3 for link in layout.vlinks.values())
    catalog = ShapeCatalog.build(layout, brisbane)
    sizes = {shape.num_qubits for shape in catalog.grid.values()}
    assert sizes == {7, 16, 17, 25, 27, 36, 55, 56, 85}
    # 42 of 127 qubits are never used, as in HyperQ.
    assert brisbane.num_qubits - catalog.grid[3, 3].num_qubits == 42


def test_every_shape_position_lies_on_device_edges(brisbane):
    catalog = ShapeCatalog.build(find_layout(brisbane), brisbane)
    for shape in [*catalog.grid.values(), catalog.half]:
        for position in shape.positions:
            for a, b in shape.edges:
                assert catalog.layout.graph.has_edge(position.qubits[a], position.qubits[b])


def test_halves_of_a_cell_are_isolated(brisbane):
    layout = find_layout(brisbane)
    for qubits in layout.cells.values():
        assert_isolated(layout, [[qubits[i] for i in half] for half in HALVES])


@pytest.mark.parametrize(
    ("device", "cells", "size"),
    [(FakeTorino, 14, 7), (FakeFez, 16, 7), (FakeManilaV2, 2, 2)],
)
def test_general_method_finds_isolated_lines(device, cells, size):
    layout = find_layout(device().target)
    assert layout.kind == "isolated-lines"
    assert len(layout.cells) == cells
    for line in layout.cells.values():
        assert len(line) == size
        assert all(layout.graph.has_edge(a, b) for a, b in itertools.pairwise(line))
    assert_isolated(layout, list(layout.cells.values()))


def test_ideal_simulator_is_cut_into_all_to_all_blocks():
    target = AerSimulator().target
    layout = find_layout(target)
    assert layout.kind == "all-to-all"
    catalog = ShapeCatalog.build(layout, target)
    assert [s.num_qubits for s in catalog.versions(10, "p")] == [12]
    assert catalog.versions(target.num_qubits, "p")[0].name == "device"
