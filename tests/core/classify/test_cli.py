"""``python -m core train``, ``evaluate`` and ``predict`` as a user runs them: through the command line's own
``main`` in this process (the process boundary is tested by ``tests/core/test_hostile_files.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from core.__main__ import main


@dataclass(frozen=True)
class _Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def _run(capsys):
    """``python -m core ARGS...``: its exit status and what it printed."""

    def run(*args: str) -> _Result:
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as leaving:  # argparse's --help and usage errors
            status = leaving.code
        printed = capsys.readouterr()
        return _Result(status, printed.out, printed.err)

    return run


def test_evaluate_prints_one_json_object_with_the_reported_figures(_run, quick_model, shared_data):
    result = _run("evaluate", "--model", str(quick_model), "--data", str(shared_data / "chest_xray"), "--split",
                  "val", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 16 and figures["counts"] == {"NORMAL": 8, "PNEUMONIA": 8}
    assert {"accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "confusion", "ece"} <= set(figures)
    low, high = figures["ci95"]["accuracy"]
    assert low <= figures["accuracy"] <= high
    assert sum(map(sum, figures["confusion"])) == 16


def test_errors_are_one_sentence_not_a_traceback(_run, tmp_path):
    result = _run("evaluate", "--model", str(tmp_path / "none.pt"), "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: No model file") and "Traceback" not in result.stderr


def test_train_from_the_command_line(_run, shared_data, tmp_path):
    result = _run("train", "--data", str(shared_data / "chest_xray"), "--out", str(tmp_path), "--epochs", "1",
                  "--input-size", "64", "--batch-size", "16", "--per-class-limit", "16", "--threads", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and (tmp_path / "model.pt").exists()


def test_predict_gives_one_json_line_per_file_and_survives_a_bad_one(_run, quick_model, fullres_paths, tmp_path):
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(fullres_paths[0].read_bytes()[:500])  # a truncated JPEG
    result = _run("predict", str(fullres_paths[0]), str(broken), str(fullres_paths[-1]), "--model",
                  str(quick_model), "--json")  # fmt: skip
    assert result.returncode == 1  # one file failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(fullres_paths[0]), str(broken), str(fullres_paths[-1])]
    assert "error" in lines[1] and "truncated" in lines[1]["error"].lower()
    for line in (lines[0], lines[2]):
        assert line["label"] in ("NORMAL", "PNEUMONIA")
        assert sum(line["probabilities"].values()) == pytest.approx(1.0)
        assert (line["probabilities"]["PNEUMONIA"] >= line["threshold"]) == (line["label"] == "PNEUMONIA")
        assert isinstance(line["borderline"], bool)
        assert line["reading"] == (
            f"borderline: review (leans {line['label']})" if line["borderline"] else line["label"]
        )


def test_commands_that_train_nothing_start_without_torch():
    """``python -m core --help``, ``train --help`` and ``add-user`` build the parser from torch-free settings."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    code = (
        "import sys, contextlib, io\n"
        "from core.__main__ import main\n"
        "for argv in (['--help'], ['train', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        "sys.stdin = io.StringIO('a long enough password\\n')\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['add-user', 'alice', '--password-stdin'])\n"
        "print(out.getvalue().startswith('added doctor'), 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]


def test_a_recipes_command_line_trains_that_recipe():
    """The command a model card prints parses back (through the real parser) into the same settings."""
    import shlex

    from core.__main__ import _parser
    from core.classify.settings import TrainConfig

    config = TrainConfig(data="DATA", out="RUN", arch="efficientnet_lite0", pretrained=True, input_size=224, epochs=6,
                         batch_size=32, learning_rate=1e-3, augment="strong", select="last", split_seed=0,
                         snapshot_epochs=(2, 4), mixup=0.4, seed=3)  # fmt: skip
    args = vars(_parser().parse_args(shlex.split(config.command_line())[3:]))
    parsed = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()
                            if k in TrainConfig.__dataclass_fields__})  # fmt: skip
    assert parsed.recipe() == config.recipe()
    assert "--seed SEED" in config.command_line(seed="SEED")
