"""The ``fit`` policy: placement over the whole coupling graph under a fidelity budget.

``prepare`` compiles a program once for the whole device (optimization level 2,
so circuits are at least as short as HyperQ's), keeps its k-qubit body and
interaction graph, and finds its best placement alone on the empty device (its
*solo* placement, what serial execution would give it).

``next_batch`` places the queue head at its solo placement (or at another
placement estimated in ``prepare`` and within its budget, where that leaves room
for more programs), then the rest in
queue order (greedy; the whole queue is the look-ahead), each on the free part of
the device: qubits that no placed program uses or touches, so within a time
layer no coupling edge joins two programs. Among the embeddings found whose
estimated success probability is at least ``(1 - fidelity_budget)`` x the solo one,
it takes the one that blocks the fewest free qubits (its own and its buffer), the
best ranked on a tie; the solo placement itself where it is free (no search, and no
loss). The head always fits (the device is
empty), so every batch holds it and no program runs later than under serial FIFO.

With ``timePacking``, programs that did not fit in space are appended, widest
first, after a shorter program on a subset of its qubits (``appendsPerSlot`` times per slot),
after resets of the reused qubits and a barrier (hyperq/compose's convention),
where they end no later than the batch's longest program; their estimate counts
those resets, and the budget applies the same way. Appended programs stay on
their slot's qubits, so isolation holds in every time layer.

After a new calibration, ``recalibrate`` rebuilds the device model and places
every queued program again (see there).
"""

from __future__ import annotations

import functools
import math
import threading
import weakref
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.transpiler.exceptions import TranspilerError

from streamflow_quantum.backends.base import estimate_duration_s
from streamflow_quantum.backends.transpiling import transpile
from streamflow_quantum.core.config import Schema, load_schema
from streamflow_quantum.core.errors import ProgramError, one_line
from streamflow_quantum.packing.fidelity import success_probability
from streamflow_quantum.packing.fit.bound import Demand, lower_bound_batches
from streamflow_quantum.packing.fit.conflicts import (
    Allowed,
    Reach,
    conflict_bound,
    in_time,
    may_follow,
)
from streamflow_quantum.packing.fit.cover import Kind, cover_bound
from streamflow_quantum.packing.fit.device import (
    CALL_LIMIT,
    Device,
    Listing,
    Search,
    ranked_success,
)
from streamflow_quantum.packing.fit.fitted import Fitted, Mapping
from streamflow_quantum.packing.fit.pattern import Pattern, extract_pattern, restrict
from streamflow_quantum.packing.hyperq.compose import compose_batch, lay_out
from streamflow_quantum.packing.hyperq.prepared import midcircuit_operations

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.transpiler import Target

    from streamflow_quantum.backends.base import Backend
    from streamflow_quantum.core.model import Batch, Program

OPTIMIZATION_LEVEL = 2
#: Budget for a program that brings none (the broker fills in its ``fidelityBudget``).
DEFAULT_BUDGET = 0.1
#: Placements whose circuit is built and estimated per program and slot, best ranked first.
TRIES = 2
#: Placements estimated per program in ``prepare``: its solo one and the queue head's choices.
OPTIONS = 2
#: Placements at a batch's start kept per pattern (oldest dropped first).
LAID_KEPT = 256
#: How far below the need a ranked placement's forecast may fall and still be built:
#: the forecast misses direction fixes and idle time that differ between placements.
SLACK = 0.99
#: The lower bound lists at most this many embeddings of a program, and checks its budget
#: on at most ``BUILT_CAP`` of them (each built and estimated); beyond, it assumes the least.
EMBEDDINGS_CAP = 20_000
BUILT_CAP = 512
#: A program whose pattern has at most this many embeddings is placed from the list of
#: them, ranked once per calibration, rather than by a VF2 search per batch: a search
#: finds the first embeddings in qubit order, the list the best ranked anywhere free.
LISTED_CAP = 4096


@dataclass(eq=False)
class Prepared:
    """What the policy keeps for one queued program."""

    program: Program
    pattern: Pattern
    #: Whether the placement search embeds the pattern with its component links.
    linked: bool
    #: The best placement alone on the empty device.
    solo: Fitted
    #: The placements estimated alone on the empty device, best first (``solo`` first).
    options: tuple[Fitted, ...]
    isolated: bool
    #: Solo success over what its ranking cost promises: what the ranking leaves out
    #: (direction fixes, idle times that differ from the compiled circuit's), which
    #: varies little between placements of one program.
    unranked: float = 1.0

    def forecast(self, cost: float) -> float:
        """The success a placement of ranking cost ``cost`` should reach, before building it."""
        return ranked_success(cost) * self.unranked

    @property
    def alone(self) -> bool:
        return self.isolated or self.program.alone

    def need(self, default_budget: float) -> float:
        """The least estimated success probability a placement must reach."""
        budget = self.program.fidelity_budget
        return (1 - (default_budget if budget is None else budget)) * self.solo.success


@dataclass(eq=False)
class Slot:
    """A space-placed program's qubits, and what runs on them after it."""

    qubits: frozenset[int]
    end_s: float
    used: set[int] = field(default_factory=set)
    appends: int = 0


class FitPolicy:
    name = "fit"
    packs = True

    def __init__(
        self,
        target: Target,
        time_packing: bool = True,
        appends_per_slot: int = 1,
        search_limit: int = 64,
        isolate_above: int = 16,
        default_budget: float = DEFAULT_BUDGET,
        look_ahead: int = 512,
    ) -> None:
        self.target = target
        self.device = Device(target)
        self.time_packing = time_packing
        self.appends_per_slot = appends_per_slot
        self.search_limit = search_limit
        self.isolate_above = isolate_above
        self.default_budget = default_budget
        self.look_ahead = look_ahead
        #: The batches planned for what is queued (``_planned``), and the program ids the
        #: last batch left queued (None: none yet, or a new calibration).
        self._plan: list[list[Fitted]] | None = None
        self._left: frozenset[str] | None = None
        #: Each queued program's preparation, by program id.
        self.prepared: dict[str, Prepared] = {}
        #: Per pattern, its listing (``Device.listing``; None: too many embeddings), kept
        #: while the pattern lives (programs with one circuit share it, and its links).
        self._listings: weakref.WeakKeyDictionary[Pattern, Listing | None] = (
            weakref.WeakKeyDictionary()
        )
        #: Where :meth:`recalibrate` reads a new Target (set by :meth:`from_backend`).
        self.backend: Backend | None = None
        self._lock = threading.Lock()

    @classmethod
    def options_schema(cls) -> Schema:
        return load_schema("streamflow_quantum.packing", "fit.json")

    @classmethod
    def from_backend(cls, backend: Backend, **options: Any) -> FitPolicy:
        policy = cls(backend.target, **options)
        policy.backend = backend
        return policy

    def forget(self, program: Program) -> None:
        with self._lock:
            self.prepared.pop(program.id, None)

    # -- prepare --------------------------------------------------------------

    def prepare(self, program: Program, like: Program | None = None) -> None:
        """Compile (in the calling thread, beside others) then search placements (one
        thread at a time: the device's and patterns' caches are shared with packing)."""
        if like is not None:
            with self._lock:
                self.prepared[program.id] = self._like(self.prepared[like.id], program)
            return
        circuit = program.circuit
        if circuit.num_qubits > self.device.num_qubits:
            raise ProgramError(
                f"{program.name}: needs {circuit.num_qubits} qubits but the device has "
                f"{self.device.num_qubits}; use a larger device or a smaller circuit"
            )
        try:
            compiled = transpile(circuit, self.target, OPTIMIZATION_LEVEL)
        except TranspilerError as error:
            raise ProgramError(
                f"{program.name}: cannot compile for this device: {one_line(error)}"
            ) from error
        pattern = extract_pattern(compiled, self.device.model.idle_times(compiled))
        isolated = midcircuit_operations(circuit) > self.isolate_above
        with self._lock:
            self.prepared[program.id] = self._place_alone(program, pattern, isolated)

    def _place_alone(self, program: Program, pattern: Pattern, isolated: bool) -> Prepared:
        """Where the compiled program could go on the empty device, best first."""
        everything = range(self.device.num_qubits)
        linked = True
        # A connected pattern embeds at home, so its search ends; one with links may
        # not embed at all, and a failing VF2 search is bounded only by its call limit.
        search = self.device.search(
            pattern,
            everything,
            self.search_limit,
            call_limit=CALL_LIMIT if pattern.links else None,
        )
        if not search.mappings and pattern.links:
            linked = False
            search = self.device.search(
                pattern, everything, self.search_limit, linked=False, call_limit=None
            )
        candidates = [pattern.home, *search.mappings[:OPTIONS]]
        built = sorted(
            (self._fit(program, pattern, m) for m in dict.fromkeys(candidates)),
            key=lambda item: -item.success,
        )
        solo = built[0]
        return Prepared(
            program,
            pattern,
            linked,
            solo,
            tuple(built),
            isolated,
            solo.success / ranked_success(self.device.rank(pattern, solo.mapping)),
        )

    @staticmethod
    def _like(kept: Prepared, program: Program) -> Prepared:
        """``kept``'s preparation for ``program``, a program with the same circuit."""
        options = tuple(replace(option, program=program) for option in kept.options)
        return replace(kept, program=program, solo=options[0], options=options)

    # -- calibration ----------------------------------------------------------

    def recalibrate(self, target: Target | None = None) -> None:
        """Take a new calibration's Target (default: the backend's current one).

        The device model, its qubit ranking and error tables are rebuilt, and every
        queued program is placed alone again at once (its solo placement, options and
        estimates follow the new errors). Its compiled body stays: the new Target has
        the same gates and coupling map, so it remains valid.
        """
        if target is None:
            if self.backend is None:
                raise ValueError("this fit policy has no backend: pass the new Target")
            target = self.backend.target
        with self._lock:
            self.target = target
            self.device = Device(target)
            self._plan, self._left = None, None
            self._listings.clear()  # ranked with the old errors
            self.__dict__.pop("_reset_s", None)
            # Programs with the same circuit share a pattern: placed once.
            placed: dict[int, Prepared] = {}
            for program_id, item in list(self.prepared.items()):
                done = placed.get(id(item.pattern))
                if done is None:
                    item.pattern.laid.clear()  # estimated with the old errors
                    done = placed[id(item.pattern)] = self._place_alone(
                        item.program, item.pattern, item.isolated
                    )
                self.prepared[program_id] = self._like(done, item.program)

    def solo_success(self, program: Program) -> float | None:
        with self._lock:
            return self.prepared[program.id].solo.success

    def _fit(
        self,
        program: Program,
        pattern: Pattern,
        mapping: Mapping,
        *,
        start_s: float = 0.0,
        resets: Sequence[int] = (),
        barrier: Sequence[int] = (),
    ) -> Fitted:
        """The program laid on ``mapping``, its circuit estimated as placed.

        A placement at the start of a batch depends on the mapping alone, and the
        same ones come up batch after batch: the pattern keeps the last few.
        """
        fresh = not resets and not barrier and start_s == 0.0
        kept = pattern.laid.get(mapping) if fresh else None
        if kept is not None:
            return replace(kept, program=program)
        physical = lay_out(
            self._turned(pattern, mapping),
            mapping,
            self.target,
            resets=resets,
            barrier=barrier,
            fix_directions=False,
        )
        fitted = Fitted(
            program,
            physical,
            mapping,
            success_probability(physical, self.target, start_s=start_s, after=resets),
            estimate_duration_s(physical, self.target) or 0.0,
            start_s,
        )
        if fresh:
            if len(pattern.laid) >= LAID_KEPT:
                del pattern.laid[next(iter(pattern.laid))]
            pattern.laid[mapping] = fitted
        return fitted

    def _turned(self, pattern: Pattern, mapping: Mapping) -> QuantumCircuit:
        """The body with its two-qubit gates in the device's directions at ``mapping``.

        That depends only on which of its gates the placement reverses, so the fixed
        body is kept per reversal pattern and shared by every placement that has it.
        """
        supported = self.target.instruction_supported
        key = tuple(
            bool(supported(name, tuple(mapping[i] for i in qargs)))
            for name, qargs in pattern.two_qubit
        )
        body = pattern.turned.get(key)
        if body is None:
            if all(key):
                body = pattern.body
            else:
                wide = lay_out(pattern.body, mapping, self.target)
                body = restrict(wide, mapping)
            pattern.turned[key] = body
        return body

    # -- next_batch -----------------------------------------------------------

    def next_batch(self, queue: Sequence[Program]) -> Batch:
        with self._lock:
            return self._next_batch(queue)

    def _next_batch(self, queue: Sequence[Program]) -> Batch:
        ids = frozenset(program.id for program in queue)
        # Steady: nothing arrived and nothing came back (shots left) since the last batch.
        steady = self._left is None or ids == self._left
        if steady and 1 < len(queue) <= self.look_ahead:
            items = self._planned(queue)
        else:
            self._plan = None
            items = self._batch([self.prepared[program.id] for program in queue])
        self._left = ids - {item.program.id for item in items}
        shots = min(item.program.shots_left for item in items)
        return compose_batch(items, shots, self.target)

    def _planned(self, queue: Sequence[Program]) -> list[Fitted]:
        """The planned batch that holds the queue head (FIFO: every batch holds the
        oldest program, so none runs later than under serial FIFO).

        The queue is planned whole, batch by batch as ``_batch`` packs them. Where that
        strands programs (a batch holds less than half the average), it is planned
        again, twice at most, and the plan with the fewest batches is kept, so it never
        needs more batches than the first pass, and a plan with no stragglers costs
        what packing one batch at a time did:

        - *spread*: aiming at one batch fewer, each batch takes its share of every circuit
          the stranded batches hold before any other program (after the head): a circuit
          with few places within its budget no longer waits for a last batch of its own;
        - *iterated greedy* (Culberson): the best plan's last batches first, since those
          hold what the passes before could not fit beside the others.

        The plan is reused while the queue stays steady; while programs arrive (or come
        back with shots left), batches are packed one at a time, so planning never
        repeats per batch, and the queue is planned again once it is steady.
        """
        if self._plan is None:
            prepared = [self.prepared[program.id] for program in queue]
            plan = self._pack_all(prepared)
            by_id = {item.program.id: item for item in prepared}
            for spread in (True, False):
                average = len(prepared) / len(plan)
                stranded = {
                    id(by_id[fitted.program.id].pattern)
                    for batch in plan
                    if 2 * len(batch) < average
                    for fitted in batch
                }
                if not stranded:
                    break
                if spread:
                    other = self._pack_all(prepared, len(plan) - 1, stranded)
                else:
                    again = [
                        by_id[fitted.program.id] for batch in reversed(plan) for fitted in batch
                    ]
                    other = self._pack_all(again)
                plan = other if len(other) < len(plan) else plan
            self._plan = plan
        head = queue[0].id
        chosen = next(b for b in self._plan if any(f.program.id == head for f in b))
        self._plan = [batch for batch in self._plan if batch is not chosen]
        return chosen

    def _pack_all(
        self, prepared: list[Prepared], spread: int = 0, kinds: Collection[int] = ()
    ) -> list[list[Fitted]]:
        """Every program in batches, each packed by ``_batch`` from what is left, in order.

        With ``spread`` batches in view, each batch reserves its share of every circuit
        in ``kinds`` (pattern ids) still queued: the ``ceil(left / batches to go)``
        oldest programs of it.
        """
        batches: list[list[Fitted]] = []
        while prepared:
            reserved: list[Prepared] = []
            if spread:
                to_go = max(spread - len(batches), 1)
                left = Counter(id(i.pattern) for i in prepared if id(i.pattern) in kinds)
                share = {key: math.ceil(n / to_go) for key, n in left.items()}
                if id(prepared[0].pattern) in share:  # the head is one of its circuit's share
                    share[id(prepared[0].pattern)] -= 1
                for item in prepared[1:]:
                    if share.get(id(item.pattern), 0) > 0 and not item.alone:
                        share[id(item.pattern)] -= 1
                        reserved.append(item)
            chosen = {id(item) for item in reserved}
            items = self._batch(
                [prepared[0], *reserved, *(i for i in prepared[1:] if id(i) not in chosen)]
            )
            batches.append(items)
            taken = {fitted.program.id for fitted in items}
            prepared = [item for item in prepared if item.program.id not in taken]
        return batches

    def _batch(self, prepared: list[Prepared]) -> list[Fitted]:
        """One batch: the first program (the head) and what fits beside it."""
        head = prepared[0]
        if head.alone:
            return [head.solo]
        # The head may take any of its solo candidates within its budget: the one that
        # leaves room for the most programs (the best placement on a tie).
        need = head.need(self.default_budget)
        fills = [
            self._fill(prepared, option)
            for option in head.options
            if option is head.solo or option.success >= need
        ]
        return max(fills, key=len)

    def _fill(self, prepared: list[Prepared], head: Fitted) -> list[Fitted]:
        """The batch with ``head`` placed first, filled in space, then in time."""
        items = [head]
        placed = self._place_in_space(prepared, items)
        if self.time_packing and all(item.duration_s > 0 for item in items):
            self._append_in_time(prepared, items, placed)
        return items

    def _place_in_space(self, prepared: list[Prepared], items: list[Fitted]) -> set[int]:
        """Greedy FIFO fill of the free part of the device; returns the indices placed."""
        free = set(range(self.device.num_qubits)) - self.device.blocked(items[0].mapping)
        placed = {0}
        #: Patterns that found no placement, with the least need they failed at: the
        #: free set only shrinks, so a later program of the same pattern fails too.
        failed: dict[int, float] = {}
        for index, item in enumerate(prepared[1:], start=1):
            pattern = item.pattern
            if item.alone or pattern.num_qubits > len(free):
                continue
            need = item.need(self.default_budget)
            # Its placements estimated in prepare first (the solo one first): no search.
            fitted = next(
                (o for o in item.options if o.success >= need and free.issuperset(o.mapping)),
                None,
            )
            if fitted is None:
                if failed.get(id(pattern), float("inf")) <= need:
                    continue
                fitted = self._best(item, self._candidates(item, free), need, free=free)
                if fitted is None:
                    failed[id(pattern)] = min(need, failed.get(id(pattern), float("inf")))
                    continue
            items.append(fitted)
            placed.add(index)
            free -= self.device.blocked(fitted.mapping)
            if not free:
                break
        return placed

    def _candidates(self, item: Prepared, qubits: Collection[int]) -> Search:
        """The item's best ranked embeddings on ``qubits`` forecast to come near its need:
        from its pattern's listing where it has one, else by a VF2 search."""
        if item.pattern not in self._listings:
            self._listings[item.pattern] = self.device.listing(
                item.pattern, LISTED_CAP, linked=item.linked
            )
        listing = self._listings[item.pattern]
        if listing is None:
            return self.device.search(item.pattern, qubits, self.search_limit, linked=item.linked)
        need = item.need(self.default_budget) * SLACK
        max_cost = math.log(item.unranked / need) if need > 0 else math.inf
        return listing.within(qubits, self.device.num_qubits, max_cost, self.search_limit)

    def _best(
        self,
        item: Prepared,
        search: Search,
        need: float,
        slot: Slot | None = None,
        horizon: float = 0.0,
        free: set[int] | None = None,
    ) -> Fitted | None:
        """The first of the best-ranked placements whose estimate meets ``need``; with
        ``free`` (placing in space), those forecast to meet it come first, fewest free
        qubits blocked first.

        With ``slot``, the placement is appended after the slot's programs: it pays
        resets of the qubits they used, and must end by ``horizon``.
        """
        reset_cost = self.device.model.reset_cost
        ranked = list(zip(search.mappings, search.costs, strict=True))
        if free is not None:
            # Among placements forecast to meet the need, the one that takes the fewest
            # free qubits out of the batch (its own and its buffer) leaves the most room
            # for the rest; the others follow, best ranked first.
            sure = [r for r in ranked if item.forecast(r[1]) >= need]
            sure.sort(key=lambda r: (len(self.device.blocked(r[0]) & free), r[1]))
            ranked = sure + [r for r in ranked if item.forecast(r[1]) < need]
        for mapping, cost in ranked[:TRIES]:
            reused = sorted(slot.used.intersection(mapping)) if slot else []
            if item.forecast(cost + sum(reset_cost[q] for q in reused)) < need * SLACK:
                continue  # not worth building
            if slot is None:
                fitted = self._fit(item.program, item.pattern, mapping)
            else:
                fitted = self._fit(
                    item.program,
                    item.pattern,
                    mapping,
                    start_s=slot.end_s,
                    resets=reused,
                    barrier=sorted(slot.qubits),
                )
                if slot.end_s + fitted.duration_s > horizon:
                    continue
            if fitted.success >= need:
                return fitted
        return None

    def _append_in_time(
        self, prepared: list[Prepared], items: list[Fitted], placed: set[int]
    ) -> None:
        horizon = max(item.duration_s for item in items)
        slots = [
            Slot(frozenset(item.mapping), item.duration_s, set(item.mapping)) for item in items
        ]
        #: (pattern, slot) pairs that failed, with the least need they failed at.
        failed: dict[tuple[int, int], float] = {}
        # Widest first (queue order among equals): the fewest slots hold a wide program,
        # and a narrow one taking such a slot's only append would leave it out.
        order = sorted(
            (i for i in range(len(prepared)) if i not in placed and not prepared[i].alone),
            key=lambda i: (-prepared[i].pattern.num_qubits, i),
        )
        for index in order:
            item = prepared[index]
            need = item.need(self.default_budget)
            for slot in sorted(slots, key=lambda s: s.end_s):
                key = (id(item.pattern), id(slot))
                if (
                    slot.appends >= self.appends_per_slot
                    or len(slot.qubits) < item.pattern.num_qubits
                    or slot.end_s + self._reset_s + item.solo.duration_s > horizon
                    or failed.get(key, float("inf")) <= need
                ):
                    continue
                fitted = self._best(item, self._candidates(item, slot.qubits), need, slot, horizon)
                if fitted is None:
                    failed[key] = min(need, failed.get(key, float("inf")))
                    continue
                items.append(fitted)
                slot.end_s += fitted.duration_s
                slot.used |= set(fitted.mapping)
                slot.appends += 1
                break

    @functools.cached_property
    def _reset_s(self) -> float:
        """The shortest reset on the device: appends that cannot fit even so are skipped unbuilt."""
        if "reset" not in self.target:
            return 0.0
        durations = [p.duration for p in self.target["reset"].values() if p and p.duration]
        return min(durations, default=0.0)

    # -- the bound ------------------------------------------------------------

    def lower_bound_batches(self, programs: Sequence[Program]) -> int:
        """A lower bound on the batches any isolating packer that keeps every program's
        budget needs for ``programs`` (see bound.py, conflicts.py and cover.py)."""
        demands = []
        classes: dict[tuple[int, float], list[Prepared]] = {}
        #: Per pattern (programs with one circuit share one): its embeddings on the empty
        #: device (None: too many, or nothing to isolate) and its buffer share.
        seen: dict[int, tuple[list[Mapping] | None, float]] = {}
        for program in programs:
            item = self.prepared[program.id]
            if id(item.pattern) not in seen:
                mappings = (
                    self.device.embeddings(item.pattern, EMBEDDINGS_CAP)
                    if self.device.coupled
                    else None
                )
                seen[id(item.pattern)] = (mappings, self._buffer_share(item.pattern, mappings))
            share = seen[id(item.pattern)][1]
            demands.append(Demand(item.pattern.num_qubits, share, item.solo.duration_s, item.alone))
            if not item.alone:
                key = (id(item.pattern), item.need(self.default_budget))
                classes.setdefault(key, []).append(item)
        appends = self.appends_per_slot if self.time_packing else 0
        spans = [self.device.duration_range(items[0].pattern.body) for items in classes.values()]
        # A class may be kept from following another in time only if it may last about as
        # long as the longest class (in_time): only those have every placement timed.
        longest = max((low for low, _ in spans), default=0.0)
        reaches = [
            self._reach(
                items[0],
                len(items),
                appends > 0,
                seen[id(items[0].pattern)][0],
                span,
                timed=span[1] >= longest,
            )
            for items, span in zip(classes.values(), spans, strict=True)
        ]
        known = lower_bound_batches(
            demands, self.device.num_qubits, appends, conflict_bound(in_time(reaches))
        )
        if not self.device.coupled:
            return known
        alone = sum(d.alone for d in demands)
        kinds = [
            kind
            for items, reach, follows in zip(
                classes.values(), reaches, may_follow(reaches), strict=True
            )
            for kind in self._kinds(items[0], len(items), reach, follows, seen)
        ]
        return alone + cover_bound(
            self.device.num_qubits, self.device.edges, kinds, appends, known - alone
        )

    def _kinds(
        self,
        item: Prepared,
        count: int,
        reach: Reach,
        follows: bool,
        seen: dict[int, tuple[list[Mapping] | None, float]],
    ) -> list[Kind]:
        """A class's programs as ``cover.Kind``: where their budget allows them
        (``reach``), or else anywhere they embed; a pattern whose embeddings are too many
        counts part by part, each part anywhere it embeds (a looser cover: still a bound)."""
        if reach.allowed.qubits is not None:
            rows = reach.allowed.qubits
            return [
                Kind(count, frozenset(frozenset(np.flatnonzero(r).tolist()) for r in rows), follows)
            ]
        mappings = seen[id(item.pattern)][0]
        if mappings is not None:
            return [Kind(count, frozenset(frozenset(m) for m in mappings), follows)]
        kinds = []
        for qubits in item.pattern.parts:
            parts = self.device.embeddings_of(item.pattern.part(qubits)[1], EMBEDDINGS_CAP)
            if parts is not None:  # too many to list: left out, which only lowers the bound
                kinds.append(Kind(count, frozenset(frozenset(m) for m in parts), follows))
        return kinds

    def _buffer_share(self, pattern: Pattern, mappings: list[Mapping] | None) -> float:
        """The least buffer share of the pattern's embeddings ``mappings`` (bound.py);
        where they are too many to list, one buffer qubit of the highest degree."""
        if not self.device.coupled or pattern.num_qubits >= self.device.num_qubits:
            return 0.0
        if not mappings:
            return 1 / self.device.max_degree
        return float(self.device.buffer_shares(mappings).min())

    def _reach(
        self,
        item: Prepared,
        count: int,
        appends: bool,
        mappings: list[Mapping] | None,
        span: tuple[float, float] = (0.0, math.inf),
        timed: bool = False,
    ) -> Reach:
        """Where ``item``'s program may go within its budget, over every embedding
        (``mappings``; None: too many to list), and how long those placements last:
        ``span`` (``Device.duration_range``), or with ``timed`` the shortest and longest
        of them, all built.

        Every embedding is built and estimated: a ranking cost is no bound on the
        estimate (it counts the body's gates before direction fixes, and a placement
        may estimate well above what its ranking suggests), so none is skipped on it.
        With ``appends``, a program whose estimate after resets of its qubits still
        meets its need may follow another in time (``conflicts.in_time`` decides);
        unless ``timed``, the first such placement ends the search.
        """
        need = item.need(self.default_budget)
        if need <= 0.0:
            return Reach(Allowed(count), *span)
        if mappings is None:
            return self._reach_in_parts(item, count, appends, need, span)
        if len(mappings) > BUILT_CAP:
            return Reach(Allowed(count), *span)
        kept, durations, after_resets = [], [], False
        for mapping in mappings:
            fitted = self._fit(item.program, item.pattern, mapping)
            if fitted.success < need:
                continue
            if appends and not after_resets:
                after_resets = (
                    success_probability(fitted.physical, self.target, after=mapping) >= need
                )
                if after_resets and not timed:
                    return Reach(Allowed(count), *span)
            kept.append(mapping)
            durations.append(fitted.duration_s)
        return Reach(
            Allowed(count, self.device.rows(kept), self.device.rows(kept, neighbours=True)),
            min(durations, default=span[0]),
            max(durations, default=span[1]),
            after_resets,
        )

    def _reach_in_parts(
        self,
        item: Prepared,
        count: int,
        appends: bool,
        need: float,
        span: tuple[float, float] = (0.0, math.inf),
    ) -> Reach:
        """Where a program whose circuit falls apart into parts may go within ``need``
        (its whole embeddings are too many to list), found part by part.

        Under :mod:`~streamflow_quantum.packing.fidelity`'s model a placement's estimate
        is the product of its parts' factors, and a part's factor is at most its
        estimate placed alone (alone, no barrier makes it wait for the other parts). So
        a placement meets the need only if its parts' estimates alone multiply to it:
        those combinations are listed, a superset of the allowed placements, which can
        only lower the bound. Beyond ``BUILT_CAP`` parts' embeddings or combinations,
        it may go anywhere. ``span`` bounds how long it lasts.
        """
        pattern = item.pattern
        if len(pattern.parts) < 2:
            return Reach(Allowed(count), *span)
        # Per part, its embeddings with their estimates alone (and after resets), best first.
        ranked: list[list[tuple[float, float, Mapping]]] = []
        for qubits in pattern.parts:
            body, graph = pattern.part(qubits)
            mappings = self.device.embeddings_of(graph, BUILT_CAP)
            if mappings is None:
                return Reach(Allowed(count), *span)
            built = []
            for mapping in mappings:
                physical = lay_out(body, mapping, self.target)
                alone = success_probability(physical, self.target)
                after = (
                    success_probability(physical, self.target, after=mapping) if appends else 0.0
                )
                built.append((alone, after, mapping))
            built.sort(key=lambda entry: -entry[0])
            ranked.append(built)
        # best[j]: the most the parts from j on can multiply to.
        best = [1.0] * (len(ranked) + 1)
        for j in range(len(ranked) - 1, -1, -1):
            best[j] = best[j + 1] * ranked[j][0][0]
        found: set[frozenset[int]] = set()
        after_resets = False
        #: Per part index and qubits used so far, the best products that reached them.
        seen: dict[tuple[int, frozenset[int]], tuple[float, float]] = {}
        stack: list[tuple[int, frozenset[int], float, float]] = [(0, frozenset(), 1.0, 1.0)]
        while stack:
            j, used, product, after = stack.pop()
            if j == len(ranked):
                after_resets = after_resets or (appends and after >= need)
                found.add(used)
                if len(found) > BUILT_CAP:
                    return Reach(Allowed(count), *span)
                continue
            kept = seen.get((j, used))
            if kept is not None and kept[0] >= product and kept[1] >= after:
                continue  # the same qubits reached before, by parts at least as good
            seen[j, used] = (product, after)
            for alone, after_reset, mapping in ranked[j]:
                if product * alone * best[j + 1] < need:
                    break
                if used.isdisjoint(mapping):
                    stack.append((j + 1, used.union(mapping), product * alone, after * after_reset))
        placements = [tuple(sorted(qubits)) for qubits in found]
        allowed = Allowed(
            count, self.device.rows(placements), self.device.rows(placements, neighbours=True)
        )
        return Reach(allowed, *span, after_resets)
