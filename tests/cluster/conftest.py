from __future__ import annotations

import pytest

from streamflow_quantum.cluster.config import ClusterSpec
from streamflow_quantum.cluster.lifecycle import up


@pytest.fixture(scope="session")
def cluster() -> ClusterSpec:
    """The local cluster with its default options, started unless already up."""
    spec = ClusterSpec()
    up(spec)
    return spec
