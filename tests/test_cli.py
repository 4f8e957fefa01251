"""The ``chainrule`` command: the XOR demo, good and bad arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chainrule.cli import main
from chainrule.demos.xor import train_xor


def test_demo_xor_learns_and_prints_predictions(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "xor"]) == 0
    out = capsys.readouterr().out
    assert "step   5000  loss" in out
    assert "0 XOR 1 = 1   network says 0.9" in out
    assert "solved" in out and "not solved" not in out


def test_demo_xor_options_change_the_run(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "xor", "--hidden", "3", "--steps", "4000", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "2-3-1 sigmoid network" in out and "4000 steps, seed 5" in out


def test_too_few_steps_do_not_solve_xor_and_exit_nonzero(capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "xor", "--steps", "5"]) == 1
    assert "not solved" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "xor", "--steps", "0"], "expected a finite number of at least 1, got 0"),
        (["demo", "xor", "--lr", "-1"], "expected a finite number above 0.0, got -1"),
        (["demo", "xor", "--lr", "abc"], "expected a number, got 'abc'"),
        (["demo", "xor", "--hidden", "two"], "expected a whole number, got 'two'"),
        (["demo", "xor", "--seed", "-3"], "expected a finite number of at least 0, got -3"),
        (["demo", "cifar"], "invalid choice: 'cifar'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_installed_command_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "demo", "xor", "--steps", "3000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "network says" in done.stdout


def test_train_xor_is_reproducible_and_validates() -> None:
    quiet = lambda _line: None  # noqa: E731
    first = train_xor(steps=200, log=quiet)
    second = train_xor(steps=200, log=quiet)
    assert first.losses == second.losses
    assert first.losses[-1][1] < first.losses[0][1]
    with pytest.raises(ValueError, match="lr must be a positive number"):
        train_xor(lr=float("nan"), log=quiet)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("three-four-one", "loss"),
        ("linear-model", "loss"),
        ("two-two-one", "loss"),
        ("linear-regression", "loss"),
        ("xor-no-bias", "loss"),
    ],
)
def test_every_seed_program_runs_as_a_demo(name, expected, capsys) -> None:
    assert main(["demo", name]) == 0
    assert expected in capsys.readouterr().out


def test_a_classic_demo_trains_and_draws_its_regions(tmp_path, capsys) -> None:
    picture = tmp_path / "moons.png"
    assert main(["demo", "moons", "--epochs", "40", "--no-progress", "--plot", str(picture)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split(",")[0])
    assert accuracy > 0.85
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_the_digits_demo_draws_a_confusion_matrix(tmp_path, capsys) -> None:
    picture = tmp_path / "digits.png"
    assert main(["demo", "digits", "--epochs", "3", "--no-progress", "--plot", str(picture)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_import_chainrule_loads_no_optional_package() -> None:
    code = (
        "import sys, chainrule, chainrule.data, chainrule.train, chainrule.plot, chainrule.io;"
        "print(sorted(m for m in ('sklearn', 'matplotlib', 'safetensors', 'scipy', 'mnist1d',"
        " 'torch', 'tqdm') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
