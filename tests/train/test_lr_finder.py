"""lr_find: the exponential sweep, the early stop on blow-up, the restore, the suggestion."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import fit, lr_find


def spiral_like(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return x, y


def net() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))


def test_rates_grow_exponentially_and_everything_is_restored() -> None:
    x, y = spiral_like()
    model = net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    fit(model, nn.CrossEntropyLoss(), optimizer, (x, y), epochs=1, progress=False)  # some state
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    momentum = {id(p): s["momentum_buffer"].copy() for p, s in optimizer.state.items()}
    model.eval()

    result = lr_find(model, nn.CrossEntropyLoss(), optimizer, (x, y), 1e-5, 1e2, steps=60)

    ratios = np.diff(np.log(result.lrs))
    np.testing.assert_allclose(ratios, math.log(1e7) / 59, rtol=1e-9)
    assert result.lrs[0] == pytest.approx(1e-5)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[name])
    for p, s in optimizer.state.items():
        np.testing.assert_array_equal(s["momentum_buffer"], momentum[id(p)])
    assert optimizer.param_groups[0]["lr"] == 0.05
    assert not model.training  # the mode it had before
    assert all(p.grad is None for p in model.parameters())


def test_the_sweep_stops_when_the_loss_blows_up_and_suggests_a_rate_before_that() -> None:
    x, y = spiral_like()
    model = net()
    result = lr_find(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        end_lr=1e3,
        steps=200,
    )
    assert result.stopped_early and len(result.lrs) < 200
    assert result.suggestion is not None
    lowest = result.lrs[int(np.nanargmin(result.smoothed))]
    assert 1e-7 < result.suggestion < lowest
    # The suggestion must actually train: a few epochs at it lower the loss.
    model = net()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=result.suggestion),
        (x, y),
        epochs=5,
        progress=False,
    )
    assert history["loss"][-1] < history["loss"][0]


def test_smoothing_is_a_bias_corrected_moving_average() -> None:
    x, y = spiral_like()
    model = net()
    result = lr_find(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        1e-6,
        1e-3,
        20,
        smoothing=0.9,
    )
    average = 0.0
    for i, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        assert result.smoothed[i] == pytest.approx(average / (1 - 0.9 ** (i + 1)))


def test_the_plot_is_a_png(tmp_path) -> None:
    x, y = spiral_like()
    model = net()
    result = lr_find(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y))
    path = result.plot(tmp_path / "lr.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image[..., :3].std() > 0.05


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start_lr": 0.0}, "start_lr must be a positive number"),
        ({"end_lr": 1e-9}, r"end_lr \(1e-09\) must be above start_lr"),
        ({"steps": 1}, "steps must be an integer >= 2"),
        ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\)"),
        ({"diverge": 1.0}, "diverge must be above 1"),
        ({"batch_size": 0}, "lr_find: batch_size must be a positive integer"),
    ],
)
def test_bad_arguments(options, message) -> None:
    x, y = spiral_like()
    model = net()
    with pytest.raises(ValueError, match=message):
        lr_find(
            model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), **options
        )
