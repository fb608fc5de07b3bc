"""The stage registry and the outcome model: every stage is registered once, everything that lists stages is built
from the registry, `nt run`'s order follows what stages declare to read and write, and each outcome ends a run the
way docs/architecture.md says.

The stages here are small real stages written for the test (real files in a real run directory); the registry,
pipeline ordering and runner under test are the production ones.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import naturalthoughts
from naturalthoughts import registry
from naturalthoughts.config import StrictModel
from naturalthoughts.manifest import Manifest
from naturalthoughts.pipeline import dependency_order, pipeline_model, run_stages
from naturalthoughts.progress import Reporter
from naturalthoughts.rundir import RunDir
from naturalthoughts.runner import Runner
from naturalthoughts.stage import OUTCOMES, Stage, StageContext, StageResult


class CopyConfig(StrictModel):
    result: str = "done"  # done | stopped | incomplete


class CopyStage(Stage):
    """Reads ``source``, writes ``target`` (a real file); ends with the outcome its config names."""

    name = "copy"
    config_model = CopyConfig

    def __init__(self, config: CopyConfig | None = None, *, source: str, target: str) -> None:
        super().__init__(config, source=source, target=target)

    @property
    def key(self) -> str:
        return f"copy:{self.args['target']}"

    def inputs(self, run: RunDir) -> list[Path]:
        return [run.root / self.args["source"]]

    def outputs(self, run: RunDir) -> list[Path]:
        return [run.root / self.args["target"]]

    def run(self, ctx: StageContext) -> StageResult:
        text = (ctx.run.root / self.args["source"]).read_text()
        (ctx.run.root / self.args["target"]).write_text(text + "+")
        result = self.config.result  # type: ignore[attr-defined]
        return StageResult(
            counts={"chars": len(text)},
            stopped="token budget reached" if result == "stopped" else None,
            incomplete="1 of 3 items failed" if result == "incomplete" else None,
        )


def _stage_modules() -> list[str]:
    """Every module of the package named stage.py, or holding a stage (imported to find Stage subclasses)."""
    names = []
    for info in pkgutil.walk_packages(naturalthoughts.__path__, "naturalthoughts."):
        if info.name.split(".")[-1] in ("stage", "estimate", "compare"):
            names.append(info.name)
    return names


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def test_every_stage_class_is_registered_once() -> None:
    for name in _stage_modules():
        importlib.import_module(name)
    registered = registry.stage_classes()
    assert len(registered) == len(registry.specs()), "a stage name is registered twice"
    ours = {c for c in _subclasses(Stage) if c.__module__.startswith("naturalthoughts.")}
    concrete = {c for c in ours if not getattr(c, "__abstractmethods__", None) and "name" in vars(c)}
    assert concrete == set(registered.values())
    for name, cls in registered.items():
        assert cls.name == name and registry.spec(name).config_model() is cls.config_model


def test_commands_sections_and_docs_are_built_from_the_registry() -> None:
    from typer.main import get_command

    from naturalthoughts.cli import build_app
    from naturalthoughts.doc_sections import DOC

    commands = set(get_command(build_app()).commands)  # type: ignore[attr-defined]
    for spec in registry.specs():
        if spec.cli is not None:
            assert spec.cli.replace("_", "-") in commands
    fields = set(pipeline_model().model_fields)
    assert {s.section for s in registry.pipeline_specs()} <= fields
    doc = DOC.read_text(encoding="utf-8")
    for spec in registry.specs():
        assert f"| `{spec.name}` |" in doc
    for outcome in OUTCOMES.values():
        assert f"| `{outcome.status}` | {outcome.exit_code} |" in doc


def test_order_follows_declared_reads_and_finishes_a_chain_before_the_next(run_dir: RunDir) -> None:
    """Given in a wrong order, stages run after what they read; b's chain is finished before c starts."""
    a = CopyStage(source="in", target="a")
    b1, b2 = CopyStage(source="a", target="b1"), CopyStage(source="b1", target="b2")
    c1, c2 = CopyStage(source="a", target="c1"), CopyStage(source="c1", target="c2")
    ordered = dependency_order([c2, b2, c1, b1, a], run_dir)
    assert [s.key for s in ordered] == ["copy:a", "copy:c1", "copy:c2", "copy:b1", "copy:b2"]
    assert [s.key for s in dependency_order([a, b1, c1, b2, c2], run_dir)] == [
        "copy:a", "copy:b1", "copy:b2", "copy:c1", "copy:c2",
    ]  # fmt: skip


def _chain(result_of_first: str) -> list[Stage]:
    return [
        CopyStage(CopyConfig(result=result_of_first), source="in", target="a"),
        CopyStage(source="a", target="b"),
    ]


def test_incomplete_goes_on_and_reruns_a_budget_stop_ends_the_run(run_dir: RunDir) -> None:
    (run_dir.root / "in").write_text("x")
    quiet = Reporter(mode="off")
    outcomes = run_stages(run_dir, _chain("incomplete"), reporter=quiet)
    assert [(o.key, o.status) for o in outcomes] == [("copy:a", "incomplete"), ("copy:b", "done")]
    assert outcomes[0].problem == "1 of 3 items failed"
    record = Manifest(run_dir.manifest).latest("copy:a")
    assert record["status"] == "incomplete" and record["incomplete"] == "1 of 3 items failed"
    again = run_stages(run_dir, _chain("done"), reporter=quiet)  # the failed items are retried: not up to date
    assert [o.status for o in again] == ["done", "done"]  # b reran: its input has a new producer

    stopped = run_stages(run_dir, _chain("stopped"), force=True, reporter=quiet)
    assert [(o.key, o.status) for o in stopped] == [("copy:a", "stopped")]  # b would read a partial result


def test_run_stage_works_outside_a_with(run_dir: RunDir) -> None:
    (run_dir.root / "in").write_text("x")
    runner = Runner(run_dir, reporter=Reporter(mode="off"))
    assert runner.run_stage(CopyStage(source="in", target="a")).status == "done"
    assert runner.run_stage(CopyStage(source="in", target="a")).status == "up-to-date"
    assert not (run_dir.root / ".nt.lock").read_text().strip()  # the lock was released after each stage


@pytest.mark.parametrize("status", ["stopped", "incomplete"])
def test_cli_gives_each_outcome_its_own_exit_code_and_advice(run_dir: RunDir, status: str) -> None:
    from naturalthoughts.cli.common import raise_for_outcomes
    from naturalthoughts.errors import NTError

    (run_dir.root / "in").write_text("x")
    outcomes = run_stages(run_dir, _chain(status), reporter=Reporter(mode="off"))
    with pytest.raises(NTError) as caught:
        raise_for_outcomes(outcomes, "nt run x.yaml")
    message = str(caught.value)
    assert caught.value.exit_code == OUTCOMES[status].exit_code
    if status == "stopped":
        assert "budget" in message and "retry" not in message
    else:
        assert "copy:a: 1 of 3 items failed" in message and "retry" in message and "budget" not in message


def test_nt_help_imports_no_heavy_library() -> None:
    """`nt --help` lists every command without importing numpy, pyarrow, pydantic, httpx, torch or asyncio (their
    imports cost most of a second; benchmarks/bench_help.py measures the time)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom naturalthoughts.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('numpy', 'pyarrow', 'pydantic', 'httpx', 'torch', 'asyncio', 'pandas')\n"
        "print('IMPORTED', sorted(name for name in heavy if name in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED []" in proc.stdout and "select" in proc.stdout


def _imports(package: Path) -> set[str]:
    """The naturalthoughts modules ``package``'s files import (at module level or inside functions)."""
    import ast

    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("naturalthoughts"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("naturalthoughts"))
    return found


def test_no_stage_package_imports_the_cli_and_none_import_each_other_both_ways() -> None:
    root = Path(naturalthoughts.__file__).parent
    packages = sorted({spec.stage.split(".")[1] for spec in registry.specs()})  # ingest, generate, ..., study
    imports = {name: _imports(root / name) for name in packages}
    for name in packages:
        assert not any(m == "naturalthoughts.cli" or m.startswith("naturalthoughts.cli.") for m in imports[name]), name
    uses = {a: {b for b in packages if b != a and any(m.startswith(f"naturalthoughts.{b}") for m in imports[a])}
            for a in packages}  # fmt: skip
    both_ways = sorted({tuple(sorted((a, b))) for a in packages for b in uses[a] if a in uses[b]})
    assert not both_ways, f"stage packages importing each other: {both_ways}"
    import ast

    tree = ast.parse((root / "eval" / "models.py").read_text(encoding="utf-8"))
    eval_models = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "naturalthoughts.eval.stage" not in eval_models  # eval/stage.py uses eval/models.py, not the reverse


def test_building_the_stage_list_converts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default pipeline evaluates the untrained (bundled) student; building its stages resolves no model: the
    conversion of the bundled GGUF waits for the eval stage's check()."""
    from naturalthoughts.pipeline import load_pipeline_config, pipeline_stages

    monkeypatch.setenv("NT_CACHE_DIR", str(tmp_path / "cache"))
    stages = pipeline_stages(load_pipeline_config(None, run_dir=str(tmp_path / "run")))
    assert "eval:base" in [stage.key for stage in stages]
    assert not (tmp_path / "cache").exists()  # no converted student
