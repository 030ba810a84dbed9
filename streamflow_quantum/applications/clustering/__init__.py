"""Clustering aggregation (Three ways to share a QPU, 4.1.2; design.md section 4).

Each round clusters the points three ways (:mod:`.methods`), turns every cluster into
a candidate and the consensus into a weighted maximum-independent-set QUBO
(:mod:`.consensus`), solves it by simulated annealing or QAOA (:mod:`.mis`), and
scores the chosen clusters with the silhouette (:mod:`.scoring`). :mod:`.cli` exposes
each part as a workflow step that exchanges files (:mod:`.files`).
"""

from __future__ import annotations

#: The clusterings of every round, each a step of its own (:mod:`.methods`).
METHODS = ("kmeans", "dbscan", "single")
