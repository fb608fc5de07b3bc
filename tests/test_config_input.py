"""What a user types is checked before anything runs: names, YAML files (positions, duplicate keys, alias bombs)
and engine base URLs. Through the real loaders and the real CLI (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from naturalthoughts.cli import main
from naturalthoughts.config import MAX_EXPANDED_NODES, load_section, load_yaml, validate
from naturalthoughts.engines.config import OpenAIEngineConfig
from naturalthoughts.errors import ConfigError
from naturalthoughts.eval.stage import EvalStage
from naturalthoughts.generate.config import GenerateConfig
from naturalthoughts.names import check_name
from naturalthoughts.pipeline import load_pipeline_config
from naturalthoughts.select.config import SelectConfig
from naturalthoughts.sft.stage import SftDataStage
from naturalthoughts.study.config import load_study_config
from naturalthoughts.train.stage import TrainStage

BAD_NAMES = {
    "trailing-newline": ("evil\n", "control character (U+000A)"),
    "tab": ("a\tb", "control character (U+0009)"),
    "nul": ("a\x00b", "control character (U+0000)"),
    "bidi-override": ("abc\u202edef", "control character (U+202E)"),
    "slash": ("a/b", "path separator"),
    "backslash": ("a\\b", "path separator"),
    "dot-dot": ("..", "starts with a dot"),
    "hidden": (".hidden", "starts with a dot"),
    "empty": ("", "is empty"),
    "too-long": ("x" * 101, "longer than 100"),
    "dash-first": ("-rf", "must start with a letter or digit"),
    "space": ("my name", "contains ' '"),
}


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_every_user_given_name_goes_through_one_validator(name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="model name") as error:
        check_name(name, "model name")
    assert problem in str(error.value)
    # Every kind of name: selection, SFT set, model (train and eval), study.
    checks = [
        lambda: validate(SelectConfig, {"size": 3, "name": name}),
        lambda: SftDataStage(selection="random-3", name=name).check(None),  # type: ignore[arg-type]
        lambda: SftDataStage(selection=name, name="ok").check(None),  # type: ignore[arg-type]
        lambda: TrainStage(sft="ok", name=name).check(None),  # type: ignore[arg-type]
        lambda: EvalStage(model_name=name),
    ]
    for check in checks:
        with pytest.raises(ConfigError) as error:
            check()
        assert problem in str(error.value)


def test_good_names_pass_unchanged() -> None:
    for name in ("random-40", "random-40+random-0.4", "v1.2_final", "Étude", "a"):
        assert check_name(name, "name") == name
    assert validate(SelectConfig, {"size": 3, "name": "longest-10"}).name == "longest-10"


def test_a_study_name_is_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "study.yaml"
    config.write_text('study:\n  name: "../escape"\n  selections: [{name: r, method: random}]\n  sizes: [2]\n')
    with pytest.raises(ConfigError, match=r"study.name \(line 2, column 3\).*path separator"):
        load_study_config(config)


def test_a_name_with_a_newline_on_the_command_line_makes_no_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["sft-data", "--run", str(run), "--selection", "random-3", "--name", "evil\n"])
    assert exit_info.value.code == 2
    assert not (run / "sft").exists()


def test_control_characters_a_user_typed_are_shown_escaped_in_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path is no name (``nt eval --model`` takes either), but echoing it must not drive the terminal: an escape
    sequence, a carriage return or a bidi override is printed as its escape."""
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--run", str(tmp_path / "run"), "--model", "x\x1b[31my\rz\u202e"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "x\\x1b[31my\\rz\\u202e" in err, err
    assert not any(char in err for char in "\x1b\r\u202e"), err


# ---- YAML ----------------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_keys_are_errors_naming_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "generate:\n  temperature: 0.6\n  samples: 2\n  temperature: 0.9\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    message = str(error.value)
    assert "line 4, column 3" in message and "duplicate key 'temperature'" in message and "line 2, column 3" in message


def test_merge_keys_may_override_what_they_merge(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "base: &base {temperature: 0.6, samples: 2}\ngenerate:\n  <<: *base\n  temperature: 0.9\n",
    )
    data = load_yaml(path)
    assert data["generate"] == {"temperature": 0.9, "samples": 2}


def test_an_alias_bomb_in_extra_body_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 values
    bomb = "\n".join(f"  {line}" for line in lines)
    path = write(
        tmp_path,
        f"anchors:\n{bomb}\ngenerate:\n  engine:\n    engine: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: m\n    extra_body:\n      bomb: *a8\n",
    )
    with pytest.raises(ConfigError, match=f"expand to more than {MAX_EXPANDED_NODES:,} values"):
        load_yaml(path)


def test_an_alias_loop_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="loop"):
        load_yaml(write(tmp_path, "a: &a [1, *a]\n"))


def test_modest_anchors_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "stop: &stop ['</s>', '<|end|>']\ngenerate:\n  stop: *stop\n")
    assert load_yaml(path)["generate"]["stop"] == ["</s>", "<|end|>"]


def test_a_file_nested_thousands_deep_is_a_yaml_error_not_a_crash(tmp_path: Path) -> None:
    for text in (
        "generate:\n  stop: " + "[" * 3000 + "]" * 3000,
        "generate:\n  x: " + "{a: " * 3000 + "1" + "}" * 3000,
    ):
        with pytest.raises(ConfigError, match=r"not valid YAML \(line 2, column \d+\): lists or mappings nested too"):
            load_yaml(write(tmp_path, text))


@pytest.mark.parametrize("value", ["[1, 2]", "5", "text"])
@pytest.mark.parametrize("command", ["generate", "eval"])
def test_a_section_that_is_not_a_mapping_names_its_line(
    tmp_path: Path, command: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f"ingest: {{}}\n{command}: {value}\n")
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--run", str(tmp_path / "run"), "--config", str(path)])
    assert exit_info.value.code == 2
    assert f"section '{command}' (line 2, column 1): expected a mapping" in capsys.readouterr().err


def test_a_select_section_may_be_a_list_but_not_a_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["select", "--run", str(tmp_path), "--size", "3", "--config", str(write(tmp_path, "select: 3\n"))])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "section 'select' (line 1, column 1): expected a mapping of keys to values or a list" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("generate:\n  temperature: 0.6\n  temprature: 0.7\n", "unknown key 'temprature' (line 3, column 3)"),
        ("generate:\n  samples: many\n", "samples (line 2, column 3): Input should be a valid integer"),
        (
            "generate:\n  engine:\n    engine: openai\n    model: m\n    base_url: ftp://example.org/v1\n",
            "base_url (line 5, column 5): Value error, must start with http:// or https://",
        ),
        (
            "generate:\n  engine:\n    engine: openai\n    model: m\n",
            "base_url (line 3, column 5): Field required",
        ),
        ("select:\n  - method: random\n    size: 0\n", "select.0.size (line 3, column 5)"),
    ],
    ids=["unknown-key", "bad-type", "bad-url", "missing-key", "list-item"],
)
def test_every_validation_error_names_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        if text.startswith("select"):
            load_pipeline_config(path)
        else:
            load_section(GenerateConfig, path, "generate")
    assert expected in str(error.value)


def test_a_value_from_an_option_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "generate:\n  samples: 2\n")
    with pytest.raises(ConfigError, match=r"samples \(from a command-line option\)"):
        load_section(GenerateConfig, path, "generate", {"samples": "lots"})


# ---- base URLs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.org/v1", "must start with http:// or https:// (scheme 'ftp')"),
        ("not a url", "must start with http:// or https:// (no scheme)"),
        ("http:///v1", "has no host"),
        ("http://127.0.0.1:99999/v1", "not a URL"),
        ("127.0.0.1:8000/v1", "must start with http"),
        ("https://me:sk-secret@api.example.org/v1", "holds a user name or password"),
    ],
)
def test_base_urls_are_checked_when_the_config_is_read(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="base_url") as error:
        validate(GenerateConfig, {"engine": {"engine": "openai", "base_url": url, "model": "m"}})
    assert problem in str(error.value)
    assert "sk-secret" not in str(error.value)  # the URL is shown without its password
    assert (
        OpenAIEngineConfig(base_url=" https://api.example.org/v1 ", model="m").base_url == "https://api.example.org/v1"
    )


@pytest.mark.parametrize("url", ["ftp://example.org/v1", "not a url"])
def test_a_bad_base_url_exits_2_before_anything_is_sent(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--run", str(tmp_path / "run"), "--base-url", url, "--model", "m"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "options: invalid configuration" in err and "base_url" in err and "http://" in err
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_a_yaml_engine_section_naming_no_engine_keeps_its_settings_under_base_url(tmp_path: Path) -> None:
    """`--base-url` with an `engine:` section that names no engine: the section's settings are the chosen engine's
    (they were silently dropped); a section naming another engine is replaced, as switching engines does."""
    from naturalthoughts.cli.generate import build_config

    path = write(tmp_path, "generate:\n  engine:\n    model: teacher\n    max_retries: 0\n    concurrency: 3\n")
    options = {"engine": None, "model": None, "base_url": "http://127.0.0.1:9/v1"}
    engine = build_config(path, {}, dict(options)).engine
    assert (engine.engine, engine.model, engine.max_retries, engine.concurrency) == ("openai", "teacher", 0, 3)
    assert engine.base_url == "http://127.0.0.1:9/v1"
    engine = build_config(path, {}, {**options, "engine": "openai", "model": "other"}).engine
    assert (engine.model, engine.max_retries) == ("other", 0)
    # A key the chosen engine does not have is an error naming its line, not dropped.
    path = write(tmp_path, "generate:\n  engine:\n    model: teacher\n    n_parallel: 2\n", "llama.yaml")
    with pytest.raises(ConfigError, match=r"unknown key 'engine.n_parallel' \(line 4, column 5\)"):
        build_config(path, {}, dict(options))
    # An engine the section names is replaced when an option switches engines (its keys would not fit).
    path = write(tmp_path, "generate:\n  engine:\n    engine: llamacpp\n    n_parallel: 2\n", "named.yaml")
    engine = build_config(path, {}, {**options, "model": "m"}).engine
    assert (engine.engine, engine.model) == ("openai", "m")
