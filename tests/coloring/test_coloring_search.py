from __future__ import annotations

import itertools
import json

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamflow_quantum.applications.coloring.bounds import degree_upper_bound, spectral_lower_bound
from streamflow_quantum.applications.coloring.mis import MisSolver, annealing_mis, qaoa_mis
from streamflow_quantum.applications.coloring.search import ColoringSearch


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


KNOWN = [
    ("bipartite", nx.complete_bipartite_graph(3, 4), 2),
    ("odd cycle", nx.cycle_graph(7), 3),
    ("petersen", nx.petersen_graph(), 3),
    ("K4", nx.complete_graph(4), 4),
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
    assert search.expand(root.id, [[0], [0, 1], [9], [0, 3]]) == 1
    with pytest.raises(ValueError, match="not waiting"):
        search.expand(root.id, [[0, 3]])


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
    assert chi <= degree_upper_bound(graph)
