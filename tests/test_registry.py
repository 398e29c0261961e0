import pytest

from nas.errors import ConfigError, UnknownNameError
from nas.evaluators import EVALUATORS
from nas.registry import Registry
from nas.samplers import SAMPLERS
from nas.tasks import TASKS
from search_spaces import SPACES


def test_unknown_name_lists_known_and_suggests_close_one():
    reg: Registry[int] = Registry("colour")
    reg.register("red")(1)
    reg.register("green")(2)
    with pytest.raises(UnknownNameError) as err:
        reg.get("gren")
    message = str(err.value)
    assert "unknown colour 'gren'" in message
    assert "did you mean 'green'" in message
    assert "green, red" in message
    assert isinstance(err.value, ConfigError)


def test_registering_two_objects_under_one_name_fails():
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError):
        reg.register("a")(2)


def test_aliases_resolve():
    reg: Registry[str] = Registry("thing")
    reg.register("nsga2", aliases=("nsga-ii",))("x")
    assert reg.get("nsga-ii") == "x" and "nsga-ii" in reg


@pytest.mark.parametrize("registry", [SPACES, TASKS, EVALUATORS, SAMPLERS],
                         ids=["spaces", "tasks", "evaluators", "samplers"])
def test_every_registry_discovers_its_plugins(registry):
    # Lazy discovery imports every public module of the package: none may be empty.
    names = registry.names()
    assert names, f"{registry.kind} registry found no plugins"
    for name in names:
        assert registry.get(name) is not None
