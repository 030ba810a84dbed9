"""MaxCut as a QUBO, and the exact or annealed best cut to compare QAOA against."""

from __future__ import annotations

import networkx as nx
import numpy as np

#: Brute force enumerates 2^(n-1) cuts: about a second at this size.
BRUTE_FORCE_MAX_NODES = 20


def random_regular(nodes: int, seed: int, degree: int = 3) -> nx.Graph:
    """A random ``degree``-regular graph, as in the serverless paper's dataset."""
    if nodes <= degree or (nodes * degree) % 2:
        raise ValueError(
            f"no {degree}-regular graph on {nodes} nodes: use an even number of nodes above {degree}"
        )
    return nx.random_regular_graph(degree, nodes, seed=seed)


def ring_of_regular(nodes: int, blocks: int, seed: int, degree: int = 3) -> nx.Graph:
    """A ``degree``-regular graph of ``blocks`` random regular blocks joined in a ring.

    Block ``k`` holds nodes ``k * nodes / blocks`` on; one edge ``(a, b)`` of each block
    is replaced by an edge from ``b`` to the next block's ``a``, so every degree stays
    ``degree`` and only ``blocks`` edges (one for two blocks) join the blocks: a QAOA
    circuit on it is cut into blocks by cutting those edges' gates alone.
    """
    if blocks < 1 or nodes % blocks:
        raise ValueError(f"{nodes} nodes do not split into {blocks} equal blocks")
    size = nodes // blocks
    graph = nx.Graph()
    ends = []
    for k in range(blocks):
        block = random_regular(size, seed + k, degree)
        block = nx.relabel_nodes(block, {v: v + k * size for v in block})
        graph.update(block)
        ends.append(min(block.edges()))
    if blocks == 1:
        return graph
    graph.remove_edges_from(ends)
    graph.add_edges_from((b, ends[(k + 1) % blocks][0]) for k, (_, b) in enumerate(ends))
    return graph


def maxcut_qubo(graph: nx.Graph) -> np.ndarray:
    """``Q`` with ``x^T Q x = -cut(x)``; row ``i`` is the ``i``-th node in sorted order."""
    index = {node: i for i, node in enumerate(sorted(graph))}
    q = np.zeros((len(index), len(index)))
    for u, v in graph.edges():
        i, j = sorted((index[u], index[v]))
        q[i, i] -= 1
        q[j, j] -= 1
        q[i, j] += 2
    return q


def cut_size(graph: nx.Graph, side: dict[int, int]) -> int:
    return sum(side[u] != side[v] for u, v in graph.edges())


def best_known_cut(graph: nx.Graph) -> tuple[int, str]:
    """The maximum cut and how it was found: exactly up to 20 nodes, else by annealing."""
    nodes = sorted(graph)
    index = {node: i for i, node in enumerate(nodes)}
    edges = np.array([(index[u], index[v]) for u, v in graph.edges()])
    if len(nodes) <= BRUTE_FORCE_MAX_NODES:
        # Node 0 stays on side 0: a cut and its complement are the same cut.
        codes = np.arange(2 ** (len(nodes) - 1), dtype=np.int64) << 1
        best = 0
        for chunk in np.array_split(codes, max(1, len(codes) // 65536)):
            sides = (chunk[:, None] >> np.arange(len(nodes))) & 1
            best = max(
                best, int((sides[:, edges[:, 0]] != sides[:, edges[:, 1]]).sum(axis=1).max())
            )
        return best, "brute-force"
    import dimod
    from dwave.samplers import SimulatedAnnealingSampler

    bqm = dimod.BinaryQuadraticModel.from_qubo(
        {(i, j): q for (i, j), q in np.ndenumerate(maxcut_qubo(graph)) if q}
    )
    energy = SimulatedAnnealingSampler().sample(bqm, num_reads=100, seed=0).first.energy
    return int(round(-energy)), "simulated-annealing"
