import math

import numpy as np
import pytest

from nas.architecture import Architecture
from nas.errors import InvalidArchitecture


def test_key_is_stable_and_order_independent():
    a = Architecture({"conv": "gcn", "layers": 2, "dropout": 0.5})
    b = Architecture({"dropout": 0.5, "layers": 2, "conv": "gcn"})
    assert a == b and a.key == b.key and hash(a) == hash(b)
    # The key is a hash of the sorted JSON: pinned so it never changes across versions.
    assert a.key == "29bf626d7405e37b"


def test_key_changes_with_any_value():
    a = Architecture({"conv": "gcn", "layers": 2})
    assert a.key != a.replace(layers=3).key
    assert a.key != Architecture({"conv": "gat", "layers": 2}).key


def test_json_round_trip_preserves_types():
    a = Architecture({"s": "x", "i": 3, "f": 0.25, "b": True})
    back = Architecture.from_json(a.to_json())
    assert back == a
    assert isinstance(back["b"], bool) and isinstance(back["i"], int)


def test_numpy_scalars_become_python():
    a = Architecture({"i": np.int64(4), "f": np.float32(0.5)})
    assert type(a["i"]) is int and type(a["f"]) is float


def test_is_immutable():
    a = Architecture({"x": 1})
    with pytest.raises(TypeError):
        a["x"] = 2  # type: ignore[index]


@pytest.mark.parametrize("bad", [{"x": [1, 2]}, {"x": None}, {"x": math.nan}, {"x": {"y": 1}}])
def test_rejects_values_that_are_not_json_scalars(bad):
    with pytest.raises(InvalidArchitecture):
        Architecture(bad)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"'])
def test_from_json_rejects_malformed(text):
    with pytest.raises(InvalidArchitecture):
        Architecture.from_json(text)
