"""``chainrule train``: the default run, flags, config files, outputs on disk, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.io import load
from chainrule.train import evaluate
from chainrule.train.recipe import Recipe, build, load_config, load_data, task_of


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def table_row(out: str, label: str) -> list[float]:
    line = next(line for line in out.splitlines() if line.startswith(label + " "))
    return [float(cell) for cell in line.split()[1:]]


def test_no_arguments_trains_on_digits_and_writes_model_plot_log_and_recipe(capsys, in_tmp):
    assert main(["train", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "digits (1437 training samples, 64 features, classification, 10 classes)" in out
    header = next(line for line in out.splitlines() if "accuracy" in line).split()
    assert header == ["loss", "accuracy", "f1"]
    loss, accuracy, _ = table_row(out, "test")
    assert accuracy > 0.9 and loss < 0.5
    run = in_tmp / "chainrule-run"
    assert {p.name for p in run.iterdir()} == {
        "model.safetensors",
        "model.toml",
        "loss.png",
        "history.csv",
        "checkpoint.safetensors",
    }
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # The saved recipe and weights rebuild the same model, with the same test accuracy.
    recipe = Recipe(**load_config(run / "model.toml"))
    assert recipe.data == "digits"
    train, test = load_data(recipe)
    model, loss_fn, _, _ = build(recipe, *task_of(train))
    model.load_state_dict(load(run / "model.safetensors"))
    figures = evaluate(model, test, ["accuracy"], loss_fn=loss_fn)
    assert figures["accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_flags_choose_everything_and_stop_conditions_hold(capsys):
    argv = [
        "train", "--data", "xor", "--hidden", "4", "--activation", "sigmoid", "--optimizer",
        "sgd", "--lr", "2", "--momentum", "0", "--batch-size", "4", "--epochs", "5000",
        "--stop-at-loss", "0.02", "--no-progress", "--out", "xor-run",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stopped: the loss" in out and "reached stop_at_loss=0.02" in out
    assert "Sigmoid()" in out and "BCEWithLogitsLoss" in out and "SGD lr=2.0" in out
    loss, accuracy = table_row(out, "train")
    assert loss <= 0.02 and accuracy == 1.0


def test_max_steps_and_patience(capsys):
    assert main(["train", "--data", "moons", "--max-steps", "7", "--no-progress"]) == 0
    assert "reached max_steps=7 (7 steps)" in capsys.readouterr().out
    argv = ["train", "--data", "moons", "--lr", "0.5", "--patience", "1", "--epochs", "200"]
    assert main([*argv, "--no-progress"]) == 0
    assert "EarlyStopping: val_loss did not improve" in capsys.readouterr().out


def test_a_config_file_is_read_and_flags_override_it(capsys, in_tmp):
    (in_tmp / "run.toml").write_text('data = "spirals"\nhidden = [16, 16]\nepochs = 2\n')
    assert main(["train", "--config", "run.toml", "--epochs", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "spirals" in out and "Linear(in_features=16, out_features=16" in out
    saved = load_config(in_tmp / "chainrule-run" / "model.toml")
    assert saved["epochs"] == 3 and saved["hidden"] == [16, 16]


def test_a_csv_file_trains_a_regression(capsys, in_tmp):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=200)
    rows = ["a,b,c,price"] + [",".join(f"{v:.5f}" for v in (*xi, yi)) for xi, yi in zip(x, y)]
    (in_tmp / "houses.csv").write_text("\n".join(rows) + "\n")
    argv = ["train", "--data", "houses.csv", "--target", "price", "--lr", "0.01", "--epochs", "40"]
    assert main([*argv, "--no-progress", "--save", "price.safetensors"]) == 0
    out = capsys.readouterr().out
    assert "regression" in out and "MSELoss" in out
    _, _, r2 = table_row(out, "test")
    assert r2 > 0.9
    names = {f"{i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")}
    assert set(load(in_tmp / "price.safetensors")) == names  # two hidden layers by default


def test_find_lr_plots_and_suggests_without_training(capsys, in_tmp):
    assert main(["train", "--data", "spirals", "--find-lr", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "suggested learning rate" in out and "--lr" in out
    assert (in_tmp / "chainrule-run" / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    assert not (in_tmp / "chainrule-run" / "model.safetensors").exists()


def test_the_progress_bar_is_shown_by_default(capsys):
    assert main(["train", "--data", "xor", "--epochs", "3", "--batch-size", "4"]) == 0
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "-1"], "argument --lr: expected a finite number above 0.0, got -1"),
        (["--epochs", "0"], "argument --epochs: expected a finite number of at least 1, got 0"),
        (["--hidden", "3,x"], "argument --hidden: expected layer sizes such as 64,32"),
        (["--optimizer", "adamax"], "argument --optimizer: invalid choice: 'adamax'"),
        (["--batch-size", "two"], "argument --batch-size: expected a whole number, got 'two'"),
    ],
)
def test_bad_flags_are_argparse_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_settings_and_files_exit_2_with_a_message(capsys, in_tmp):
    (in_tmp / "bad.csv").write_text("a,b,label\n1,2,0\n3,x,1\n")
    (in_tmp / "typo.toml").write_text("hiden = [3]\n")
    (in_tmp / "broken.toml").write_text("epochs = \n")
    cases = [
        (["--data", "cifar"], "setting data = 'cifar': expected one of digits"),
        (["--data", "bad.csv", "--target", "label"], "row 3, column 'b': 'x' is not a number"),
        (["--data", "bad.csv"], "setting target = None"),
        (["--data", "missing.csv", "--target", "y"], "the data file 'missing.csv' does not exist"),
        (["--config", "typo.toml"], "unknown setting 'hiden'"),
        (["--config", "broken.toml"], "is not valid TOML"),
        (["--config", "nowhere.toml"], "config file 'nowhere.toml' does not exist"),
    ]
    for argv, message in cases:
        assert main(["train", *argv]) == 2, argv
        assert message in capsys.readouterr().err, argv


def test_the_recipe_round_trips_through_toml(in_tmp):
    recipe = Recipe(data="moons", hidden=[8, 4], lr=0.05, patience=3, target=None)
    (in_tmp / "r.toml").write_text(recipe.to_toml())
    assert Recipe(**load_config(in_tmp / "r.toml")) == recipe
    cr.manual_seed(0)


def test_a_yaml_config_is_read(capsys, in_tmp):
    (in_tmp / "run.yaml").write_text("data: moons\nhidden: [8]\nepochs: 2\nlr: 0.01\n")
    assert main(["train", "--config", "run.yaml", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "moons" in out and "Linear(in_features=2, out_features=8" in out
    assert load_config(in_tmp / "chainrule-run" / "model.toml")["lr"] == 0.01
    (in_tmp / "bad.yaml").write_text("data: [unclosed\n")
    assert main(["train", "--config", "bad.yaml"]) == 2
    assert "is not valid YAML" in capsys.readouterr().err


def test_monitor_flags_a_deep_sigmoid_network_and_plots_its_gradients(capsys, in_tmp):
    argv = ["train", "--data", "spirals", "--hidden", "32,32,32,32,32,32", "--activation",
            "sigmoid", "--optimizer", "sgd", "--lr", "0.1", "--epochs", "2", "--no-progress",
            "--monitor", "gradients.png"]  # fmt: skip
    with pytest.warns(UserWarning, match="vanishing gradients"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GradientMonitor:" in out and "wrote the plot gradients.png" in out
    assert (in_tmp / "gradients.png").read_bytes()[:4] == b"\x89PNG"


def test_without_scikit_learn_the_default_run_is_spirals_and_still_learns(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    assert main(["train", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "chainrule train: spirals" in out
    _, accuracy, _ = table_row(out, "test")
    assert accuracy > 0.9
