"""``chainrule train --architecture rnn|lstm|gru``: the recipe setting (TOML round trip,
checks), the flag, and a saved recurrent model that loads back, in Python and in
``chainrule explain --model``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.train
from chainrule.cli import main
from chainrule.io import load
from chainrule.train.recipe import Recipe, build, check, load_config, load_data, task_of
from chainrule.train.sequence_model import SequenceModel


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("architecture", ["mlp", "rnn", "lstm", "gru"])
def test_the_architecture_round_trips_through_toml(in_tmp, architecture):
    recipe = Recipe(data="mnist1d", architecture=architecture, hidden=[8, 8], epochs=2)
    (in_tmp / "r.toml").write_text(recipe.to_toml())
    assert f'architecture = "{architecture}"' in (in_tmp / "r.toml").read_text()
    loaded = Recipe(**load_config(in_tmp / "r.toml"))
    assert loaded == recipe
    check(loaded)


def test_a_recipe_without_the_setting_is_an_mlp(in_tmp):
    (in_tmp / "old.toml").write_text('data = "moons"\nhidden = [8]\n')
    recipe = Recipe(**load_config(in_tmp / "old.toml"))
    assert recipe.architecture == "mlp"
    train, _ = load_data(recipe)
    model, *_ = build(recipe, *task_of(train))
    assert isinstance(model, cr.nn.Sequential)


def test_check_refuses_an_unknown_architecture_and_unequal_recurrent_sizes():
    with pytest.raises(
        ValueError,
        match="setting architecture = 'transformer': expected one of mlp, rnn, lstm, gru",
    ):
        check(Recipe(architecture="transformer"))
    with pytest.raises(ValueError, match=r"setting hidden = \[16, 8\]: expected .*equal sizes"):
        check(Recipe(architecture="lstm", hidden=[16, 8]))
    with pytest.raises(ValueError, match=r"setting hidden = \[\]: expected the size of the gru"):
        check(Recipe(architecture="gru", hidden=[]))
    check(Recipe(architecture="gru", hidden=[16, 16]))  # stacked layers of one size
    check(Recipe(architecture="mlp", hidden=[16, 8]))  # an MLP's layers may differ


def test_bad_architecture_flags_and_settings_are_refused(capsys, in_tmp):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--architecture", "cnn"])
    assert exit_info.value.code == 2
    assert "argument --architecture: invalid choice: 'cnn'" in capsys.readouterr().err
    (in_tmp / "bad.toml").write_text('architecture = "LSTM"\n')
    assert main(["train", "--config", "bad.toml"]) == 2
    assert "setting architecture = 'LSTM': expected one of mlp" in capsys.readouterr().err
    argv = ["train", "--data", "xor", "--architecture", "rnn", "--hidden", "4,2"]
    assert main(argv) == 2
    assert "setting hidden = [4, 2]" in capsys.readouterr().err


def test_an_lstm_run_on_mnist1d_saves_a_model_that_loads_back(capsys, monkeypatch, in_tmp):
    trained = []
    real_fit = chainrule.train.fit

    def recording_fit(model, *args, **kwargs):
        trained.append(model)
        return real_fit(model, *args, **kwargs)

    # run() imports fit from chainrule.train when it runs: the wrapper sees the trained model.
    monkeypatch.setattr(chainrule.train, "fit", recording_fit)
    # MNIST-1D is generated afresh by each load (seconds); the arrays are the same every time
    # (seed 42), so the three loads here (train, the reload, explain) share one.
    generated = cr.data.mnist1d()
    monkeypatch.setattr(cr.data, "mnist1d", lambda: generated)
    argv = ["train", "--data", "mnist1d", "--architecture", "lstm", "--hidden", "16",
            "--epochs", "1", "--max-steps", "5", "--no-progress", "--out", "run"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "LSTM(1, 16, batch_first=True)" in out and "reached max_steps=5 (5 steps)" in out
    assert load_config(in_tmp / "run" / "model.toml")["architecture"] == "lstm"

    recipe = Recipe(**load_config(in_tmp / "run" / "model.toml"))
    train, test = load_data(recipe)
    model, *_ = build(recipe, *task_of(train))
    assert isinstance(model, SequenceModel) and isinstance(model.recurrent, cr.nn.LSTM)
    model.load_state_dict(load(in_tmp / "run" / "model.safetensors"))
    x = test.tensors[0][:50]
    with cr.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), trained[0](x).numpy())
    # Five Adam steps moved the weights: the fresh model's outputs differ from the trained one's.
    fresh, *_ = build(recipe, *task_of(train))
    with cr.no_grad():
        assert not np.allclose(fresh(x).numpy(), trained[0](x).numpy())

    assert main(["explain", "--model", "run/model.safetensors", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    assert "(recurrent): LSTM(1, 16, batch_first=True)" in out and "'head' Linear" in out
    assert "checked equations match autodiff" in out
    # The recurrent layer is traced step by step: backpropagation through time, every step checked.
    assert "'recurrent' LSTM(1, 16, batch_first=True)" in out and "T = 40 steps" in out
    assert "(BPTT1) δhₜ" in out and "(BPTT2) δcₜ" in out and "✗" not in out
