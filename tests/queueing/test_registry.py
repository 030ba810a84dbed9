"""The queue policies' registry, their options, and the broker settings that name them."""

from __future__ import annotations

import pytest

from streamflow_quantum.broker.settings import broker_settings
from streamflow_quantum.core.errors import ConfigError
from streamflow_quantum.queueing.registry import QUEUES, make_queue_policy

NAMES = ["fifo", "priority", "fair-share", "lifo", "random"]


def test_the_registry_lists_every_policy_under_its_own_name() -> None:
    assert QUEUES.names() == NAMES
    assert {name: cls.name for name, cls in QUEUES.classes().items()} == {
        name: name for name in NAMES
    }


def test_an_unknown_policy_lists_the_choices() -> None:
    with pytest.raises(
        ConfigError, match="unknown queue policy 'sjf'; use one of: " + ", ".join(NAMES)
    ):
        make_queue_policy("sjf")


def test_options_have_defaults_and_reach_the_policy() -> None:
    assert make_queue_policy("priority").ageing_s == 60  # type: ignore[attr-defined]
    assert make_queue_policy("fair-share").half_life_s == 300  # type: ignore[attr-defined]
    policy = make_queue_policy("fair-share", {"halfLifeSeconds": 600})
    assert policy.half_life_s == 600  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("priority", {"ageingSeconds": 0}, "ageingSeconds: 0 is less than or equal to the minimum"),
        ("fair-share", {"halfLife": 600}, "'halfLife' was unexpected"),
        ("random", {"seed": "x"}, "seed: 'x' is not of type 'integer'"),
        ("fifo", {"seed": 1}, r"queue policy 'fifo' takes no options, not \['seed'\]"),
    ],
)
def test_a_bad_option_is_named(name: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_queue_policy(name, options)


def test_broker_settings_check_queue_options_against_the_chosen_policy() -> None:
    settings = broker_settings({"queue": "fair-share", "queueOptions": {"halfLifeSeconds": 600}})
    assert (settings["queue"], settings["queueOptions"]) == ("fair-share", {"halfLifeSeconds": 600})
    with pytest.raises(ConfigError, match="'halfLifeSeconds' was unexpected"):
        broker_settings({"queue": "priority", "queueOptions": {"halfLifeSeconds": 600}})
    with pytest.raises(ConfigError, match="queue: 'sjf' is not one of"):
        broker_settings({"queue": "sjf"})
