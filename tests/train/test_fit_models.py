"""fit takes any model that runs on the data: recurrent, convolutional, layers registered in any
order, several inputs. The check before training runs the model on one batch (it does not guess
the input layer), names the data set, the shapes and the failing layer, and draws no random
numbers, so that fit trains exactly as the same loop written by hand."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.random import default_generator
from chainrule.train import Callback, evaluate, fit, predict
from chainrule.train.checks import probe


def weights(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def moved(model: nn.Module, before: list[np.ndarray]) -> bool:
    return all((p.detach().numpy() != b).any() for p, b in zip(model.parameters(), before))


class LastStep(nn.Module):
    """An LSTM over the sequence, then a Linear head on its last step's output."""

    def __init__(self, features: int = 8, hidden: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


class HeadFirst(nn.Module):
    """Layers registered in the opposite order to their use: the head comes first."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, 3)
        self.body = nn.Linear(4, 16)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.head(self.body(x).relu())


class TwoInputs(nn.Module):
    """Two inputs of different widths, each with its own encoder, joined before the head."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Linear(3, 8)
        self.right = nn.Linear(2, 8)
        self.head = nn.Linear(16, 3)

    def forward(self, a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return self.head(cr.cat([self.left(a).tanh(), self.right(b).tanh()], 1))


class Noisy(nn.Module):
    """Draws from the global generator in every forward, in eval mode too, and has dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.net(x + 0.1 * cr.randn(*x.shape))


def classes_from(score: np.ndarray) -> np.ndarray:
    """Three balanced classes by the terciles of a score."""
    return np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.int64)


def train(model: nn.Module, data, **options):
    options.setdefault("progress", False)
    options.setdefault("batch_size", 8)
    lr = options.pop("lr", 0.05)
    return fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=lr), data, **options)


def test_an_lstm_with_a_linear_head_trains() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5, 8)).astype(np.float32)
    y = classes_from(x[:, -1, :2].sum(axis=1))
    cr.manual_seed(0)
    model = LastStep()
    before = weights(model)
    history = train(model, (x, y), epochs=6, lr=0.02)
    assert history.steps == 6 * 6
    assert moved(model, before)
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_a_small_cnn_trains() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = classes_from(x[:, 0, :4].mean(axis=(1, 2)) - x[:, 0, 4:].mean(axis=(1, 2)))
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    )
    before = weights(model)
    history = train(model, (x, y), epochs=8, lr=0.02)
    assert history.steps == 8 * 4
    assert moved(model, before)
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_a_model_whose_head_is_registered_before_its_body_trains() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = classes_from(x[:, 0] - x[:, 1])
    cr.manual_seed(0)
    model = HeadFirst()
    assert [name for name, _ in model.named_children()] == ["head", "body"]
    history = train(model, (x, y), epochs=10, metrics=["accuracy"])
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["accuracy"][-1] > 0.8


def two_input_data(n: int = 40, seed: int = 3):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 3)).astype(np.float32)
    b = rng.normal(size=(n, 2)).astype(np.float32)
    return a, b, classes_from(a[:, 0] + b[:, 1])


@pytest.mark.parametrize("form", ["tuple", "dataset", "loader"])
def test_a_model_with_two_inputs_trains_evaluates_and_predicts(form: str) -> None:
    a, b, y = two_input_data()
    va, vb, vy = two_input_data(16, seed=4)
    dataset = TensorDataset(cr.tensor(a), cr.tensor(b), cr.tensor(y))
    data = {
        "tuple": (a, b, y),
        "dataset": dataset,
        "loader": DataLoader(dataset, batch_size=8, shuffle=True, seed=0),
    }[form]
    cr.manual_seed(0)
    model = TwoInputs()
    history = train(model, data, epochs=10, val_data=(va, vb, vy), metrics=["accuracy"])
    assert history.steps == 10 * 5
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["accuracy"][-1] > 0.8 and "val_loss" in history.history
    # evaluate and predict pass both inputs too, and agree with calling the model directly.
    model.eval()
    expected = model(cr.tensor(va), cr.tensor(vb)).detach().numpy()
    np.testing.assert_allclose(predict(model, (va, vb, vy)), expected, rtol=1e-6)
    loss = nn.CrossEntropyLoss()(cr.tensor(expected), cr.tensor(vy)).item()
    assert evaluate(model, (va, vb, vy), loss_fn=nn.CrossEntropyLoss())["loss"] == pytest.approx(
        loss, rel=1e-5
    )


class Steps(Callback):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_train_begin(self, logs=None):
        self.calls.append("on_train_begin")

    def on_batch_begin(self, step, logs=None):
        self.calls.append("on_batch_begin")


def test_a_wrong_feature_count_fails_before_the_first_step_naming_data_shapes_and_layer() -> None:
    cr.manual_seed(0)
    model = HeadFirst()
    before = weights(model)
    x = np.zeros((20, 5), np.float32)
    y = np.zeros(20, np.int64)
    steps = Steps()
    with pytest.raises(ValueError) as caught:
        train(model, (x, y), batch_size=20, callbacks=[steps])
    message = str(caught.value)
    assert message.startswith("fit: the model cannot run on train_data's inputs of shape (20, 5)")
    assert "its layer 'body' (Linear) raised OpError" in message
    assert "Linear(in_features=4, out_features=16): expected input of shape (*, 4)" in message
    assert steps.calls == []
    assert all((p == w).all() for p, w in zip(weights(model), before))
    assert model.training  # the probe's eval mode was undone


def test_wrong_shapes_in_validation_data_and_in_a_second_input_are_named() -> None:
    a, b, y = two_input_data()
    cr.manual_seed(0)
    model = TwoInputs()
    with pytest.raises(ValueError) as caught:
        train(model, (a, b, y), val_data=(a, np.zeros((40, 4), np.float32), y))
    message = str(caught.value)
    assert "cannot run on val_data's inputs of shapes (8, 3), (8, 4)" in message
    assert "its layer 'right' (Linear) raised" in message
    assert "expected input of shape (*, 2), got (8, 4)" in message


def test_a_wrong_channel_count_into_a_conv_names_the_layer() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    x = np.zeros((10, 1, 8, 8), np.float32)
    y = np.zeros(10, np.int64)
    with pytest.raises(ValueError) as caught:
        train(model, (x, y), batch_size=10)
    message = str(caught.value)
    assert "cannot run on train_data's inputs of shape (10, 1, 8, 8)" in message
    assert "its layer '0' (Conv2d) raised" in message
    assert "expected input of shape (N, 3, H, W)" in message


def test_the_probe_leaves_the_random_generator_and_the_mode_as_it_found_them() -> None:
    cr.manual_seed(7)
    model = Noisy()
    x = cr.randn(6, 4)
    state = default_generator().bit_generator.state
    probe(model, [x], "train_data", "fit")
    probe(model, [x], "train_data", "fit")
    assert default_generator().bit_generator.state == state
    assert model.training
    # The probe did draw (the noise): without restoring, the state would have moved.
    model(x)
    assert default_generator().bit_generator.state != state


@pytest.mark.parametrize("seed", [None, 11])
def test_fit_is_bit_for_bit_the_hand_written_loop_with_dropout_noise_and_shuffling(
    seed: int | None,
) -> None:
    # The checks before training run forwards (which draw noise) on the training and the
    # validation data and read a shuffled first batch; none of this may shift the random
    # streams (the global one, or the loader's own with a seed) that training then uses.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    x_val, y_val = x[:10], y[:10]

    cr.manual_seed(0)
    by_hand = Noisy()
    opt = optim.SGD(by_hand.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(
        TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=8, shuffle=True, seed=seed
    )
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(by_hand(xb), yb).backward()
            opt.step()
        by_hand.eval()  # fit's validation after each epoch: one eval-mode batch, noise drawn
        with cr.no_grad():
            by_hand(cr.tensor(x_val))
        by_hand.train()
    after_hand = default_generator().bit_generator.state

    cr.manual_seed(0)
    model = Noisy()
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        (x, y),
        epochs=3,
        batch_size=8,
        seed=seed,
        val_data=(x_val, y_val),
        progress=False,
    )
    for mine, theirs in zip(weights(model), weights(by_hand)):
        np.testing.assert_array_equal(mine, theirs)
    assert default_generator().bit_generator.state == after_hand
