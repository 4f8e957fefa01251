"""Bad data fail before the first step, naming the problem; a diverging loss stops fit cleanly."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import TensorDataset
from chainrule.io import load
from chainrule.train import ModelCheckpoint, TrainingDivergedError, fit


def classifier(features: int = 4, classes: int = 3) -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 8), nn.ReLU(), nn.Linear(8, classes))


def data(n: int = 20, features: int = 4, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, n)


def train(model, x, y, **options):
    options.setdefault("progress", False)
    loss_fn = options.pop("loss_fn", nn.CrossEntropyLoss())
    optimizer = options.pop("optimizer", None) or optim.SGD(model.parameters(), lr=0.1)
    return fit(model, loss_fn, optimizer, (x, y), **options)


def untouched(model: nn.Module, before: list[np.ndarray]) -> bool:
    return all((p.detach().numpy() == b).all() for p, b in zip(model.parameters(), before))


def snapshot(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_nan_in_the_inputs_is_named_with_its_row() -> None:
    model = classifier()
    x, y = data()
    x[7, 2] = np.nan
    before = snapshot(model)
    with pytest.raises(
        ValueError, match=r"train_data has a non-finite value \(nan\) in its inputs\[0\] at row 7"
    ):
        train(model, x, y)
    assert untouched(model, before)


def test_infinity_in_regression_targets_is_named() -> None:
    model = nn.Linear(4, 1)
    x, _ = data()
    y = np.ones((20, 1), dtype=np.float32)
    y[3] = np.inf
    with pytest.raises(ValueError, match=r"non-finite value \(inf\) in its targets at row 3"):
        train(model, x, y, loss_fn=nn.MSELoss())


def test_a_label_outside_the_class_range_is_named() -> None:
    model = classifier(classes=3)
    x, y = data()
    y[11] = 3
    with pytest.raises(
        ValueError, match="has the label 3 at row 11, outside the model's 3 classes"
    ):
        train(model, x, y)
    y[11] = -1
    with pytest.raises(ValueError, match="has the label -1 at row 11"):
        train(model, x, y)


def test_validation_data_are_checked_too() -> None:
    model = classifier()
    x, y = data()
    x_val, y_val = data(seed=1)
    y_val[4] = 9
    with pytest.raises(ValueError, match="val_data has the label 9 at row 4"):
        train(model, x, y, val_data=(x_val, y_val))


def test_a_feature_count_mismatch_names_the_layer_and_both_sizes() -> None:
    model = classifier(features=4)
    before = snapshot(model)
    x, y = data(features=5)
    with pytest.raises(ValueError) as caught:
        train(model, x, y)
    message = str(caught.value)
    # The data set and its shape, the layer by its path in the model, and the layer's own
    # words: it takes 4 features and was given 5.
    assert message.startswith("fit: the model cannot run on train_data's inputs of shape (20, 5)")
    assert "its layer '0' (Linear) raised OpError" in message
    assert "expected input of shape (*, 4), got (20, 5)" in message
    assert untouched(model, before)


def test_a_model_that_cannot_run_on_the_data_is_reported_with_shapes() -> None:
    class Broken(nn.Module):
        def forward(self, x):
            return x.reshape(3, -1, 7)

    x, y = data()
    with pytest.raises(
        ValueError,
        match=r"cannot run on train_data's inputs of shape \(20, 4\): the model raised "
        r"OpError: reshape: cannot view",
    ):
        train(
            Broken(),
            x,
            y,
            batch_size=20,
            optimizer=optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1),
        )


def test_mse_targets_must_match_the_output_shape() -> None:
    model = nn.Linear(4, 1)
    x, _ = data()
    y = np.zeros(20, dtype=np.float32)
    with pytest.raises(
        ValueError, match=r"MSELoss needs targets shaped like .* \(reshape y to \(N, 1\)\)"
    ):
        train(model, x, y, loss_fn=nn.MSELoss())


def test_bce_targets_must_be_probabilities() -> None:
    model = nn.Linear(4, 1)
    x, _ = data()
    y = np.zeros((20, 1), dtype=np.float32)
    y[5] = 2.0
    with pytest.raises(
        ValueError, match=r"BCEWithLogitsLoss needs targets in \[0, 1\]; .* 2.0 at row 5"
    ):
        train(model, x, y, loss_fn=nn.BCEWithLogitsLoss())


def test_empty_data_and_bad_batch_sizes() -> None:
    model = classifier()
    x, y = data()
    with pytest.raises(ValueError, match="train_data is empty"):
        train(model, x[:0], y[:0])
    for size in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="fit: batch_size must be a positive integer"):
            train(model, x, y, batch_size=size)
    with pytest.raises(ValueError, match="different lengths"):
        train(model, x, y[:5])
    with pytest.raises(ValueError, match="fit: epochs must be a positive integer"):
        train(model, x, y, epochs=0)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        train(model, x, y, metrics=["acuracy"])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_diverging_loss_stops_fit_and_keeps_the_last_good_checkpoint(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype(np.float32) * 10
    y = rng.normal(size=(32, 1)).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    path = tmp_path / "last.safetensors"
    checkpoint = ModelCheckpoint(path, monitor="loss")
    with pytest.raises(TrainingDivergedError) as caught:
        fit(
            model,
            nn.MSELoss(),
            optim.SGD(model.parameters(), lr=0.5),
            (x, y),
            epochs=100,
            batch_size=32,
            callbacks=[checkpoint],
            progress=False,
        )
    error = caught.value
    message = str(error)
    history = error.history
    assert f"at step {history.steps}" in message and f"(epoch {len(history) + 1})" in message
    last = history["loss"][-1]
    assert f"the last finite loss was {last:.6g} at step {history.steps - 1}" in message
    assert f"The last good checkpoint is {path}" in message
    saved = load(path)
    assert all(np.isfinite(t.numpy()).all() for t in saved.values())
    assert len(checkpoint.saved) == len(history)


def test_dataset_rows_are_checked_through_a_subset() -> None:
    from chainrule.data import Subset

    x, y = data()
    x[13, 0] = np.inf
    subset = Subset(TensorDataset(cr.tensor(x), cr.tensor(y)), [2, 13, 5])
    with pytest.raises(ValueError, match=r"inputs\[0\] at row 1"):
        fit(
            classifier(),
            nn.CrossEntropyLoss(),
            optim.SGD(classifier().parameters(), lr=0.1),
            subset,
            progress=False,
        )
