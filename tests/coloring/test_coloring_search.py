from __future__ import annotations

import itertools
import json

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamflow_quantum.applications.coloring.bounds import (
    EXACT_CLIQUE_MAX_NODES,
    clique_lower_bound,
    degree_upper_bound,
    lower_bound,
    spectral_lower_bound,
)
from streamflow_quantum.applications.coloring.mis import (
    MisSample,
    MisSolver,
    annealing_mis,
    qaoa_mis,
)
from streamflow_quantum.applications.coloring.search import ColoringSearch
from streamflow_quantum.applications.qubo_qaoa import Sampler
from streamflow_quantum.applications.step_files import load_edge_list
from streamflow_quantum.broker.client import sample
from tests.conftest import REPO
from tests.qaoa.samplers import BROKEN

#: The workflow's default input: chromatic number 5, a 5-clique, spectral bound 4.
DEFAULT_GRAPH = REPO / "workflows" / "coloring" / "graph.txt"
#: Least mean ``gain`` of the explored nodes' final MIS sampling: how far its mean
#: energy moved from uniform sampling's (0) towards the best sampled set's (1).
#: QAOA at 4 evaluations and 128 shots scores 0.7-0.9 per node; noise about 0.
MIN_MEAN_GAIN = 0.5


def solve(
    graph: nx.Graph, mis: MisSolver, *, resume_each_layer: bool = False, **options: object
) -> ColoringSearch:
    search = ColoringSearch.start(graph, **options)
    while not search.done:
        for node in search.next_layer():
            search.expand(node.id, mis(search.subgraph(node)))
        if resume_each_layer:
            search = ColoringSearch.from_dict(json.loads(json.dumps(search.to_dict())))
    return search


def chromatic_number(graph: nx.Graph) -> int:
    """By exhaustion: the fewest colours k that admit a proper colouring."""
    nodes = list(graph)
    for k in range(1, len(nodes) + 1):
        for colors in itertools.product(range(k), repeat=len(nodes)):
            assignment = dict(zip(nodes, colors, strict=True))
            if all(assignment[u] != assignment[v] for u, v in graph.edges()):
                return k
    return 0


def assert_proper(graph: nx.Graph, result: dict) -> None:
    colors = {int(v): c for v, c in result["colors"].items()}
    assert colors.keys() == set(graph)
    assert all(colors[u] != colors[v] for u, v in graph.edges())
    assert len(set(colors.values())) == result["num_colors"] == max(colors.values()) + 1


def assert_quantum_evidence(result: dict) -> None:
    """Every colour class is a sampled set, and the samples beat uniform noise."""
    explored = {node["id"]: node for node in result["explored"]}
    assert explored and all(node["batches"] for node in explored.values())
    assert result["sampled_classes"] == result["num_colors"] == len(result["classes"])
    assert all(c["sampled_by"] in explored for c in result["classes"])
    gains = [node["gain"] for node in explored.values()]
    assert sum(gains) / len(gains) >= MIN_MEAN_GAIN


def qaoa_search(graph: nx.Graph, sampler: Sampler) -> dict:
    """The search with no greedy start: every colour class must come from a sample."""
    return solve(
        graph, lambda g: qaoa_mis(g, maxiter=4, shots=128, seed=7, sampler=sampler), greedy=False
    ).result()


KNOWN = [
    ("bipartite", nx.complete_bipartite_graph(3, 4), 2),
    ("odd cycle", nx.cycle_graph(7), 3),
    ("petersen", nx.petersen_graph(), 3),
    ("K4 and a pendant", nx.Graph([*nx.complete_graph(4).edges(), (3, 4)]), 4),
]


@pytest.mark.parametrize(("name", "graph", "chi"), KNOWN, ids=[k[0] for k in KNOWN])
def test_qaoa_branching_alone_reaches_the_chromatic_number(
    name: str, graph: nx.Graph, chi: int
) -> None:
    # No greedy incumbent: every colouring better than one colour per vertex comes
    # from QAOA-sampled independent sets.
    search = solve(graph, lambda g: qaoa_mis(g, maxiter=10, seed=5), greedy=False)
    result = search.result()
    assert_proper(graph, result)
    assert result["num_colors"] == result["lower_bound"] == chi
    assert result["optimal"] and result["gap"] == 0
    assert result["nodes_explored"] <= 20
    assert_quantum_evidence(result)


def test_the_default_graph_is_coloured_optimally_from_sampled_sets() -> None:
    graph = load_edge_list(DEFAULT_GRAPH)
    result = qaoa_search(graph, sample)
    assert_proper(graph, result)
    assert result["num_colors"] == result["lower_bound"] == 5 and result["optimal"]
    assert_quantum_evidence(result)


@pytest.mark.parametrize("broken", BROKEN.values(), ids=BROKEN.keys())
def test_the_evidence_fails_when_the_sampler_is_broken(broken: Sampler) -> None:
    graph = load_edge_list(DEFAULT_GRAPH)
    with pytest.raises((AssertionError, ValueError)):
        assert_quantum_evidence(qaoa_search(graph, broken))


def test_with_the_greedy_start_classes_record_that_they_were_not_sampled() -> None:
    # The greedy colouring meets the clique bound: nothing is explored or sampled.
    result = solve(load_edge_list(DEFAULT_GRAPH), lambda g: annealing_mis(g, seed=1)).result()
    assert result["optimal"] and result["nodes_explored"] == 0
    assert result["sampled_classes"] == 0 and result["explored"] == []
    assert all(c["sampled_by"] is None for c in result["classes"])
    with pytest.raises(AssertionError):
        assert_quantum_evidence(result)


def test_an_unprovable_graph_reports_its_gap() -> None:
    grotzsch = nx.mycielski_graph(4)  # chromatic number 4, triangle-free, spectral bound 3
    result = solve(grotzsch, lambda g: annealing_mis(g, seed=1)).result()
    assert_proper(grotzsch, result)
    assert result["num_colors"] == 4
    assert result["lower_bound"] == 3
    assert result["gap"] == 1 and not result["optimal"]


def test_the_node_budget_stops_the_search() -> None:
    grotzsch = nx.mycielski_graph(4)
    result = solve(
        grotzsch, lambda g: annealing_mis(g, seed=1), greedy=False, max_nodes=3, width=2
    ).result()
    assert_proper(grotzsch, result)
    assert result["nodes_explored"] == 3
    assert result["stopped_early"] and result["open_nodes"] > 0


def test_layers_are_at_most_width_nodes_and_resume_from_json() -> None:
    graph = nx.petersen_graph()
    search = ColoringSearch.start(graph, width=2, greedy=False)
    layer = search.next_layer()
    assert len(layer) == 1  # the root alone
    search.expand(layer[0].id, annealing_mis(search.subgraph(layer[0]), seed=2))
    assert search.log[0]["batches"] == []  # annealing: no quantum batches
    assert len(search.next_layer()) == 2
    resumed = solve(
        graph, lambda g: annealing_mis(g, seed=2), resume_each_layer=True, greedy=False, width=2
    )
    direct = solve(graph, lambda g: annealing_mis(g, seed=2), greedy=False, width=2)
    assert resumed.result() == direct.result()


def test_sets_that_are_not_maximal_independent_sets_are_not_branched_on() -> None:
    search = ColoringSearch.start(nx.path_graph(4), greedy=False)
    root = search.next_layer()[0]
    # {0}: not maximal; {0, 1}: not independent; {9}: not a vertex; {0, 3}: maximal
    assert search.expand(root.id, MisSample([[0], [0, 1], [9], [0, 3]])) == 1
    assert search.log[0] == {
        "id": root.id,
        "sets": 4,
        "maximal_sets": 1,
        "children": 1,
        "batches": [],
    }
    with pytest.raises(ValueError, match="not waiting"):
        search.expand(root.id, MisSample([[0, 3]]))


def test_the_clique_bound_proves_the_default_graph_where_the_spectral_bounds_do_not() -> None:
    graph = load_edge_list(DEFAULT_GRAPH)
    assert spectral_lower_bound(graph) == 4
    assert clique_lower_bound(graph) == lower_bound(graph) == 5


def test_beyond_the_exact_size_a_greedy_clique_still_bounds() -> None:
    graph = nx.disjoint_union(nx.complete_graph(7), nx.cycle_graph(EXACT_CLIQUE_MAX_NODES))
    assert clique_lower_bound(graph) == 7
    assert clique_lower_bound(nx.cycle_graph(EXACT_CLIQUE_MAX_NODES + 1)) == 2


def test_bounds_on_known_graphs() -> None:
    assert spectral_lower_bound(nx.empty_graph(0)) == 0
    assert spectral_lower_bound(nx.empty_graph(3)) == 1
    assert spectral_lower_bound(nx.complete_graph(6)) == 6
    assert degree_upper_bound(nx.star_graph(5)) == 2  # degrees 5,1,1,...: min(6,1), min(2,2), ...
    assert degree_upper_bound(nx.complete_graph(5)) == 5


graphs = st.integers(min_value=1, max_value=7).flatmap(
    lambda n: st.sets(
        st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda e: e[0] < e[1])
    ).map(lambda edges: nx.Graph(list(edges)) if edges else nx.empty_graph(n))
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs, greedy=st.booleans(), seed=st.integers(0, 100))
def test_colourings_are_always_proper_and_bounds_bracket_the_chromatic_number(
    graph: nx.Graph, greedy: bool, seed: int
) -> None:
    result = solve(
        graph, lambda g: annealing_mis(g, reads=8, seed=seed), greedy=greedy, width=3
    ).result()
    assert_proper(graph, result)
    chi = chromatic_number(graph)
    assert result["lower_bound"] <= chi <= result["num_colors"]
    assert clique_lower_bound(graph) <= chi
    assert chi <= degree_upper_bound(graph)
