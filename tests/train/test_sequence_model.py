"""SequenceModel, the recurrent model of ``chainrule train --architecture``: the same outputs and
gradients as PyTorch's recurrent layer and Linear head with the same weights, finite
differences, its input shapes and errors, and a GRU recipe that learns MNIST-1D."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.data import mnist1d
from chainrule.train import evaluate, fit
from chainrule.train.recipe import Recipe, build, task_of
from chainrule.train.sequence_model import SequenceModel

TORCH_LAYERS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def to_numpy(t: cr.Tensor) -> np.ndarray:
    return np.asarray(t.detach().data)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_outputs_and_gradients_match_torch(kind: str, num_layers: int) -> None:
    model = SequenceModel(kind, 5, 3, num_layers=num_layers, dtype=cr.float64)
    recurrent = TORCH_LAYERS[kind](
        1, 5, num_layers=num_layers, batch_first=True, dtype=torch.float64
    )
    head = torch.nn.Linear(5, 3, dtype=torch.float64)
    state = {k: torch.tensor(to_numpy(v)) for k, v in model.state_dict().items()}
    recurrent.load_state_dict(
        {k[len("recurrent.") :]: v for k, v in state.items() if "head" not in k}
    )
    head.load_state_dict({k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")})

    x = np.random.default_rng(0).standard_normal((4, 7))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = model(xc)
    expected = head(recurrent(xt.unsqueeze(-1))[0][:, -1])
    assert out.shape == (4, 3)
    np.testing.assert_allclose(to_numpy(out), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(to_numpy(xc.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    theirs = dict(recurrent.named_parameters(prefix="recurrent"))
    theirs.update(head.named_parameters(prefix="head"))
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            to_numpy(p.grad), theirs[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradcheck(kind: str) -> None:
    model = SequenceModel(kind, 3, 2, dtype=cr.float64)
    x = cr.tensor(np.random.default_rng(1).standard_normal((2, 4)), requires_grad=True)
    assert cr.gradcheck(model, [x])


def test_a_trailing_axis_of_one_feature_is_the_same_input() -> None:
    model = SequenceModel("lstm", 4, 3)
    x = cr.randn(5, 6)
    flat, steps = model(x), model(x.reshape(5, 6, 1))
    assert flat.shape == (5, 3) and flat.dtype == cr.float32
    np.testing.assert_array_equal(to_numpy(flat), to_numpy(steps))
    # The last step's state depends on the order of the steps: the model reads a sequence.
    assert not np.allclose(to_numpy(model(cr.tensor(to_numpy(x)[:, ::-1].copy()))), to_numpy(flat))


def test_bad_inputs_and_kinds_are_refused_with_the_model_and_shape() -> None:
    model = SequenceModel("gru", 8, 3, num_layers=2)
    assert model.recurrent.num_layers == 2 and model.recurrent.batch_first
    for shape in [(5, 6, 2), (6,), (2, 5, 6, 1)]:
        with pytest.raises(
            ValueError, match=re.escape("SequenceModel(GRU, hidden_size=8, outputs=3)")
        ) as error:
            model(cr.randn(*shape))
        assert str(shape) in str(error.value) and "(N, L) or (N, L, 1)" in str(error.value)
    with pytest.raises(ValueError, match="kind must be one of rnn, lstm, gru, got 'mlp'"):
        SequenceModel("mlp", 8, 3)


def test_build_makes_one_recurrent_layer_per_hidden_entry() -> None:
    x = np.zeros((6, 40), np.float32)
    y = np.arange(6) % 3
    train = cr.data.TensorDataset(cr.tensor(x), cr.tensor(y))
    model, *_ = build(Recipe(architecture="rnn", hidden=[12, 12, 12]), *task_of(train))
    assert isinstance(model, SequenceModel)
    assert isinstance(model.recurrent, cr.nn.RNN) and model.recurrent.nonlinearity == "tanh"
    assert (model.recurrent.hidden_size, model.recurrent.num_layers) == (12, 3)
    assert model.head.out_features == 3
    assert list(model.state_dict())[-2:] == ["head.weight", "head.bias"]
    mlp, *_ = build(Recipe(hidden=[12, 12, 12]), *task_of(train))
    assert isinstance(mlp, cr.nn.Sequential) and mlp[0].in_features == 40


def test_a_gru_recipe_learns_mnist1d_in_a_few_dozen_steps() -> None:
    train, test = mnist1d(num_samples=1000)
    recipe = Recipe(data="mnist1d", architecture="gru", hidden=[32], lr=0.05, batch_size=64)
    model, loss_fn, optimizer, _ = build(recipe, *task_of(train))
    before = evaluate(model, test, ["accuracy"], loss_fn=loss_fn)
    assert before["loss"] == pytest.approx(np.log(10), abs=0.05)  # untrained: about uniform
    history = fit(
        model, loss_fn, optimizer, train, epochs=100, batch_size=64, max_steps=80, progress=False
    )
    assert history.steps == 80
    after = evaluate(model, test, ["accuracy"], loss_fn=loss_fn)
    # On held-out signals: well below the uniform guess's ln 10 ≈ 2.30, and well above chance.
    assert after["loss"] < 1.8 and after["accuracy"] > 0.3, (before, after)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.5, losses
