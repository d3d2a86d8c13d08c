"""``gradloom plugins``, ``backends`` and ``kvstores``."""
import json

from gradloom_cli.main import cli

from cli_fakes import FakeBackend, entry_point, hookimpl, installed_entry_points


class FakePlugin:
    def __init__(self, backend, store="fakestore"):
        self.backend = backend
        self.store = store

    @hookimpl
    def gradloom_register_backends(self, register):
        register.add(self.backend)

    @hookimpl
    def gradloom_register_kvstores(self, register):
        register.add(self.store, lambda name, **kw: None, aliases=(f"{self.store}-alias",),
                     description="a fake store")


def test_plugins_json_lists_registrations_and_failures(isolated, runner):
    broken = entry_point("broken", "gradloom_no_such_plugin_module")
    isolated(entry_points=installed_entry_points("cpu") + [broken],
             extra_plugins=[("fake", FakePlugin(FakeBackend("fake", "no fake driver")))])
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["fake"]["backends"] == [
        {"name": "fake", "package": "gradloom-fake", "plugin": "fake", "available": False,
         "devices": 0, "reason": "no fake driver"}]
    assert by_name["fake"]["kvstores"] == ["fakestore"]
    assert by_name["fake"]["hooks"] == ["gradloom_register_backends",
                                        "gradloom_register_kvstores"]
    cpu = by_name["cpu"]
    assert cpu["distribution"] == "gradloom-backend-cpu" and cpu["version"]
    assert cpu["backends"][0]["name"] == "cpu" and cpu["backends"][0]["available"] is True
    core = by_name["gradloom._builtin"]
    assert core["distribution"] == "gradloom-core"
    assert set(core["kvstores"]) >= {"local"}
    assert report["failures"] == [{
        "name": "broken", "module": "gradloom_no_such_plugin_module", "distribution": "",
        "error": "ModuleNotFoundError: No module named 'gradloom_no_such_plugin_module'"}]


def test_plugins_text_shows_broken_plugin_and_reasons(isolated, runner):
    broken = entry_point("broken", "gradloom_no_such_plugin_module")
    isolated(entry_points=[broken],
             extra_plugins=[("fake", FakePlugin(FakeBackend("fake", "no fake driver")))])
    result = runner.invoke(cli, ["plugins"])
    assert result.exit_code == 0
    out = result.stdout
    assert "  backend   fake: unavailable: no fake driver\n" in out
    assert "  kvstores  fakestore\n" in out
    assert ("Failed to load:\n  broken (gradloom_no_such_plugin_module): ModuleNotFoundError: "
            "No module named 'gradloom_no_such_plugin_module'\n") in out
    # the other commands warn once on stderr, and still work
    other = runner.invoke(cli, ["kvstores"])
    assert other.exit_code == 0


def test_backends_table_and_json(isolated, runner):
    isolated(extra_plugins=[("fake", FakePlugin(FakeBackend("fake", count=3))),
                            ("other", FakePlugin(FakeBackend("slow", "needs a driver"),
                                                 store="otherstore"))])
    infos = json.loads(runner.invoke(cli, ["backends", "--json"]).stdout)
    assert infos == [
        {"name": "fake", "package": "gradloom-fake", "plugin": "fake", "available": True,
         "devices": 3, "reason": None},
        {"name": "slow", "package": "gradloom-fake", "plugin": "other", "available": False,
         "devices": 0, "reason": "needs a driver"}]
    lines = runner.invoke(cli, ["backends"]).stdout.splitlines()
    assert lines[0].split() == ["backend", "available", "devices", "package", "plugin",
                                "reason"]
    assert lines[1].split() == ["fake", "yes", "3", "gradloom-fake", "fake"]
    assert lines[2].split() == ["slow", "no", "0", "gradloom-fake", "other", "needs", "a",
                                "driver"]


def test_backend_whose_check_raises_is_listed_not_fatal(isolated, runner):
    class Exploding(FakeBackend):
        @property
        def unavailable_reason(self):
            raise OSError("driver crashed")

    isolated(extra_plugins=[("fake", FakePlugin(Exploding("boom")))])
    infos = json.loads(runner.invoke(cli, ["backends", "--json"]).stdout)
    assert infos[0]["available"] is False
    assert infos[0]["reason"] == "checking availability failed: OSError: driver crashed"


def test_kvstores_lists_names_aliases_and_plugin(isolated, runner):
    isolated(extra_plugins=[("fake", FakePlugin(FakeBackend()))])
    infos = json.loads(runner.invoke(cli, ["kvstores", "--json"]).stdout)
    by_name = {i["name"]: i for i in infos}
    assert by_name["fakestore"] == {"name": "fakestore", "aliases": ["fakestore-alias"],
                                    "plugin": "fake", "description": "a fake store"}
    assert by_name["local"]["plugin"] == "gradloom._builtin"
    text = runner.invoke(cli, ["kvstores"]).stdout
    assert any(line.split()[:3] == ["fakestore", "fakestore-alias", "fake"]
               for line in text.splitlines())
