"""Qiskit Aer: ideal, or with a fake device's noise model and coupling map."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamflow_quantum.backends.base import Backend, calibration_id, normalise_counts
from streamflow_quantum.backends.faithful import faithful_counts
from streamflow_quantum.backends.registry import fake_device
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ConfigError

if TYPE_CHECKING:
    from qiskit.providers import BackendV2
    from qiskit_aer import AerSimulator

    from streamflow_quantum.core.model import Batch


#: Aer branches the state at mid-circuit measurements and resets instead of simulating
#: each shot apart: time-packed chains and cut subexperiments run many times faster
#: (an 18-qubit circuit with a measured and reset middle, 200 shots: 44 s against 1.1 s).
SIMULATOR_OPTIONS = {"shot_branching_enable": True}


def _simulator(device: BackendV2, noise: bool) -> AerSimulator:
    from qiskit_aer import AerSimulator

    if noise:
        return AerSimulator.from_backend(device, **SIMULATOR_OPTIONS)
    return AerSimulator.from_backend(device, noise_model=None, **SIMULATOR_OPTIONS)


def _calibrated_at(device: BackendV2) -> object:
    """When the device's properties were last updated, where it has any."""
    properties = device.properties() if callable(getattr(device, "properties", None)) else None
    return getattr(properties, "last_update_date", None)


def _noisy(simulator: AerSimulator) -> bool:
    noise_model = simulator.options.noise_model
    return noise_model is not None and not noise_model.is_ideal()


def _with_properties(device: BackendV2, path: Path) -> BackendV2:
    """A fresh instance of the fake ``device`` whose Target and noise come from ``path``.

    A fake device reads its properties from ``os.path.join(dirname, props_filename)``
    (then ``properties_from_server_data`` and ``convert_to_target``, as it does for its
    own snapshot); an absolute ``props_filename`` points that join at our file.
    """
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    if not isinstance(device, FakeBackendV2):
        raise ConfigError(f"{device.name}: only fake devices take a calibration file")
    fresh = type(device)()
    fresh.props_filename = str(path.resolve())
    described, has = len(fresh.properties().qubits), fresh.configuration().n_qubits
    if described != has:
        raise ConfigError(
            f"calibration {path} describes {described} qubits but {device.name} has {has}"
        )
    return fresh


class AerBackend(Backend):
    """Simulates a batch in one ``run()`` call, by one of two faces.

    With noise, the composite-faithful face (:func:`faithful_counts`): the composite is
    scheduled so idle qubits carry delays, split into independent qubit groups, and
    each group is one experiment. A time-packed program so pays for the reset and the
    waits before it, and any program for its own idle time. This applies to
    single-program batches too, so packed and serial runs are measured alike.

    Ideal, each placement alone as its own experiment: without noise, fresh qubits
    are exactly what a reset gives and timing changes nothing, so this is exact and
    skips the scheduling.

    A fake device with a ``calibration`` file (a ``props_*.json`` as Qiskit ships with
    each fake device) takes its errors from that file, and again each time
    :meth:`refresh_calibration` finds the file's content changed.
    """

    @classmethod
    def options_schema(cls) -> Schema:
        return load_schema(__package__ or "", "aer.json")

    @classmethod
    def check_device(cls, device: str, spec: str) -> None:
        if device:
            fake_device(device, spec)

    @classmethod
    def open(cls, device: str, noise: bool, **options: Any) -> AerBackend:
        """``options`` are the ``aer`` block: ``calibration``."""
        return cls(
            fake_device(device, f"aer:{device}") if device else None,
            noise=noise,
            calibration_file=options.get("calibration"),
        )

    def __init__(
        self,
        device: BackendV2 | None = None,
        noise: bool = True,
        calibration_file: str | Path | None = None,
    ) -> None:
        from qiskit_aer import AerSimulator

        self.device = device
        self.noise = noise
        self.calibration_file = Path(calibration_file) if calibration_file is not None else None
        #: The sha256 of the calibration file when last read.
        self._read: str | None = None
        if device is None:
            if self.calibration_file is not None:
                raise ConfigError(
                    "aer: a calibration file needs a fake device, e.g. aer:fake_manila"
                )
            self.simulator = AerSimulator(**SIMULATOR_OPTIONS)
            super().__init__("aer", self.simulator.target)
            return
        name = f"aer:{device.name}"
        if self.calibration_file is not None:
            if not self.calibration_file.is_file():
                raise ConfigError(f"{name}: no calibration file {self.calibration_file}")
            self._read = self._digest()
            self.device = device = _with_properties(device, self.calibration_file)
            self.calibration = calibration_id(_calibrated_at(device), self._read)
        else:
            self.calibration = calibration_id(_calibrated_at(device))
        self.simulator = _simulator(device, noise)
        super().__init__(name, self.simulator.target)

    def _digest(self) -> str:
        assert self.calibration_file is not None
        return hashlib.sha256(self.calibration_file.read_bytes()).hexdigest()

    def refresh_calibration(self) -> bool:
        """Reload the calibration file where its content changed (a digest of it: reading
        a properties file each period costs little, and a quick swap may keep its mtime)."""
        if self.calibration_file is None or self.device is None:
            return False
        digest = self._digest()
        if digest == self._read:
            return False
        device = _with_properties(self.device, self.calibration_file)
        simulator = _simulator(device, self.noise)
        self._recalibrated(simulator.target, calibration_id(_calibrated_at(device), digest))
        self.device, self.simulator, self._read = device, simulator, digest
        return True

    def run(self, batch: Batch, seed: int | None) -> tuple[str, list[Counter[str]]]:
        job = f"aer-{uuid.uuid4().hex[:12]}"
        simulator = self.simulator  # one calibration for the whole batch
        if _noisy(simulator):
            return job, faithful_counts(simulator, batch, batch.shots, seed)
        circuits = [placement.circuit for placement in batch.placements]
        result = simulator.run(circuits, shots=batch.shots, seed_simulator=seed).result()
        counts = [normalise_counts(result.get_counts(i)) for i in range(len(circuits))]
        return job, counts
