"""chainrule.plot: valid PNGs with the expected colours, atomic writes, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib.colors
import matplotlib.figure
import matplotlib.image
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image(path) -> np.ndarray:
    """The PNG's RGB pixels in [0, 1], after checking that it is a PNG."""
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE
    return matplotlib.image.imread(path)[..., :3]


def _share_of(image: np.ndarray, colour, tolerance: float = 0.02) -> float:
    """Fraction of pixels within ``tolerance`` of ``colour`` in every channel."""
    rgb = np.asarray(matplotlib.colors.to_rgb(colour))
    return float(np.all(np.abs(image - rgb) <= tolerance, axis=-1).mean())


def _keras_history(epochs: int = 12) -> dict[str, list[float]]:
    steps = np.arange(epochs)
    return {
        "loss": list(3.0 * 0.5**steps),  # spans more than two decades: log scale
        "val_loss": list(3.2 * 0.55**steps),
        "accuracy": list(1 - 0.5 * 0.8**steps),
        "val_accuracy": list(1 - 0.55 * 0.8**steps),
        "lr": list(0.1 * 0.9**steps),
        "time": [0.2] * epochs,
    }


class _History:
    """Keras's shape of a history: the figures live in ``.history``."""

    def __init__(self, history):
        self.history = history


# ---- loss curves ----------------------------------------------------------------------------


def test_loss_curve_writes_a_png_with_both_curves(tmp_path):
    path = plot.loss_curve(_History(_keras_history()), tmp_path / "loss.png", title="run")
    assert path == tmp_path / "loss.png"
    image = _image(path)
    assert image.shape[1] == 8 * plot.DPI
    assert _share_of(image, "white") < 0.95  # something is drawn
    assert _share_of(image, "C0") > 0.002  # training curves
    assert _share_of(image, "C1") > 0.002  # validation curves
    assert _share_of(image, "C2") > 0.0005  # the learning-rate panel


def test_loss_curve_grows_one_panel_per_metric(tmp_path):
    only_loss = {"loss": [1.0, 0.5, 0.4]}
    with_metric = {**only_loss, "accuracy": [0.5, 0.7, 0.8]}
    with_two = {**with_metric, "val_f1": [0.4, 0.6, 0.7]}  # a val_ series without its twin
    heights = [
        _image(plot.loss_curve(history, tmp_path / f"{i}.png")).shape[0]
        for i, history in enumerate([only_loss, with_metric, with_two])
    ]
    assert heights[0] < heights[1] < heights[2]


def test_loss_curve_uses_a_log_scale_only_across_decades():
    from chainrule.plot import _spans_decades

    assert _spans_decades([np.array([3.0, 0.01])])
    assert not _spans_decades([np.array([3.0, 0.5])])
    assert not _spans_decades([np.array([3.0, -0.01])])  # a log axis cannot show it


def test_loss_curve_accepts_gaps_and_single_epochs(tmp_path):
    history = {"loss": [0.9], "val_loss": [None]}
    assert _share_of(_image(plot.loss_curve(history, tmp_path / "one.png")), "C0") > 0


def test_loss_curve_refuses_empty_or_bad_histories(tmp_path):
    with pytest.raises(ValueError, match="loss_curve: the history is empty"):
        plot.loss_curve({}, tmp_path / "a.png")
    with pytest.raises(ValueError, match="the history is empty"):
        plot.loss_curve(_History({"loss": []}), tmp_path / "a.png")
    with pytest.raises(ValueError, match="no loss or metric to plot"):
        plot.loss_curve({"lr": [0.1], "time": [1.0]}, tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"history\['loss'\] must be a list of numbers"):
        plot.loss_curve({"loss": ["low", "lower"]}, tmp_path / "a.png")
    with pytest.raises(TypeError, match="must be a History"):
        plot.loss_curve([1.0, 0.5], tmp_path / "a.png")
    assert os.listdir(tmp_path) == []


# ---- decision boundary ----------------------------------------------------------------------


def _two_blobs(n: int = 20):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, (n, 2)).astype(np.float32)
    x[:, 0] = np.linspace(-2.0, 2.0, n)  # spread evenly so the grid spans [-2.4, 2.4]
    return x, (x[:, 0] > 0).astype(np.int64)


def _split_at(threshold: float, outputs: int, sigmoid: bool = False) -> nn.Module:
    """A model whose class changes where x[:, 0] crosses ``threshold``."""
    layer = nn.Linear(2, outputs)
    with cr.no_grad():
        layer.weight.data[...] = [[1.0, 0.0]] if outputs == 1 else [[-1.0, 0.0], [1.0, 0.0]]
        layer.bias.data[...] = -threshold if outputs == 1 else [threshold, -threshold]
    return nn.Sequential(layer, nn.Sigmoid()) if sigmoid else layer


def _region_shares(path, n_classes: int = 2) -> np.ndarray:
    image = _image(path)
    return np.array([_share_of(image, c, 0.01) for c in plot.region_colours(n_classes)])


@pytest.mark.parametrize(
    ("model", "right_share"),
    [
        (_split_at(0.0, 2), 0.5),  # argmax of two outputs
        (_split_at(0.0, 1), 0.5),  # one logit: threshold 0
        (_split_at(1.0, 1, sigmoid=True), 1.4 / 4.8),  # probabilities: threshold 0.5 at x = 1
    ],
    ids=["argmax", "logit", "probability"],
)
def test_decision_boundary_colours_each_class_region(tmp_path, model, right_share):
    x, y = _two_blobs()
    path = plot.decision_boundary(model, cr.tensor(x), y, tmp_path / "b.png", resolution=120)
    image = _image(path)
    assert image.shape[:2] == (5 * plot.DPI, 6 * plot.DPI)
    shares = _region_shares(path)
    assert shares.sum() > 0.4  # the regions fill most of the figure
    assert shares[1] / shares.sum() == pytest.approx(right_share, abs=0.04)
    # The class-0 region lies left of the class-1 region.
    columns = [
        np.nonzero(np.all(np.abs(image - colour) <= 0.01, axis=-1))[1].mean()
        for colour in plot.region_colours(2)
    ]
    assert columns[0] < columns[1]


def test_decision_boundary_runs_one_batched_gradient_free_call_in_eval_mode(tmp_path):
    calls = []
    inner = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5))

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, grid):
            calls.append((grid.shape, grid.dtype, cr.is_grad_enabled(), self.training))
            return self.inner(grid)

    model = Recorder().train()
    x = np.random.default_rng(1).normal(size=(30, 2)).astype(np.float32)
    y = np.arange(30) % 3
    first = _image(plot.decision_boundary(model, x, y, tmp_path / "1.png", resolution=50))
    second = _image(plot.decision_boundary(model, x, y, tmp_path / "2.png", resolution=50))
    assert calls == [((2500, 2), cr.float32, False, False)] * 2
    assert model.training and inner[1].training  # training mode restored
    np.testing.assert_array_equal(first, second)  # dropout was off: the same regions


def test_decision_boundary_accepts_float_column_labels(tmp_path):
    x, y = _two_blobs()
    column = y.astype(np.float32)[:, None]  # a BCE target
    path = plot.decision_boundary(_split_at(0.0, 1), x, column, tmp_path / "c.png")
    assert np.all(_region_shares(path) > 0.1)


def test_decision_boundary_refuses_bad_inputs(tmp_path):
    x, y = _two_blobs()
    model = _split_at(0.0, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\).*got \(20, 3\)"):
        plot.decision_boundary(model, np.zeros((20, 3)), y, tmp_path / "b.png")
    with pytest.raises(ValueError, match=r"y must have shape \(20,\) or \(20, 1\)"):
        plot.decision_boundary(model, x, y[:5], tmp_path / "b.png")
    with pytest.raises(ValueError, match="class indices"):
        plot.decision_boundary(model, x, y - 1, tmp_path / "b.png")
    with pytest.raises(ValueError, match="resolution must be an int >= 2"):
        plot.decision_boundary(model, x, y, tmp_path / "b.png", resolution=1)
    with pytest.raises(ValueError, match=r"the model must return \(M,\) or \(M, C\)"):
        plot.decision_boundary(lambda g: g.reshape(-1, 2, 1), x, y, tmp_path / "b.png")
    assert os.listdir(tmp_path) == []


# ---- confusion matrix -----------------------------------------------------------------------


def test_confusion_matrix_heat_map(tmp_path):
    y_true = np.repeat(np.arange(4), 25)
    y_pred = np.where(np.arange(100) % 5 == 0, (y_true + 1) % 4, y_true)
    path = plot.confusion_matrix(cr.tensor(y_true), y_pred, tmp_path / "cm.png", title="t")
    image = _image(path)
    blues = matplotlib.colormaps["Blues"]
    # The diagonal cells hold the maximum count (20), drawn in the darkest blue.
    assert _share_of(image, blues(1.0)[:3], 0.01) > 0.05
    assert _share_of(image, blues(5 / 20)[:3], 0.01) > 0.02  # the off-diagonal 5s
    normalised = plot.confusion_matrix(
        y_true, y_pred, tmp_path / "n.png", labels=[3, 2, 1, 0], normalize="true"
    )
    assert _share_of(_image(normalised), blues(1.0)[:3], 0.01) > 0.05


def test_confusion_matrix_passes_metric_errors_on(tmp_path):
    with pytest.raises(ValueError, match="confusion_matrix: y_true has 3 samples but y_pred has 2"):
        plot.confusion_matrix([0, 1, 1], [0, 1], tmp_path / "cm.png")
    assert os.listdir(tmp_path) == []


# ---- atomic writes and isolation ------------------------------------------------------------


def test_a_failure_mid_write_keeps_the_previous_png(tmp_path, monkeypatch):
    path = tmp_path / "loss.png"
    plot.loss_curve({"loss": [1.0, 0.5]}, path)
    before = path.read_bytes()

    def broken_savefig(self, handle, **kwargs):
        handle.write(PNG_SIGNATURE + b"half an image")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        plot.loss_curve({"loss": [2.0, 0.1]}, path)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        plot.confusion_matrix([0, 1], [0, 1], path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["loss.png"]


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no directory"):
        plot.loss_curve({"loss": [1.0]}, tmp_path / "missing" / "loss.png")


def test_plotting_never_touches_pyplot_or_the_global_backend(tmp_path):
    # The raw rcParams entry: matplotlib.get_backend() would itself import pyplot to resolve it.
    code = (
        "import sys, matplotlib\n"
        "raw = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')\n"
        "backend = raw()\n"
        "import chainrule.plot as p\n"
        f"p.loss_curve({{'loss': [1.0, 0.5]}}, {str(tmp_path / 'l.png')!r})\n"
        f"p.decision_boundary(lambda g: g, [[0.0, 1.0], [1.0, 0.0]], [0, 1], "
        f"{str(tmp_path / 'd.png')!r}, resolution=10)\n"
        f"p.confusion_matrix([0, 1], [1, 1], {str(tmp_path / 'c.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules, raw() is backend)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
    assert sorted(os.listdir(tmp_path)) == ["c.png", "d.png", "l.png"]


def test_importing_chainrule_plot_does_not_import_matplotlib():
    code = "import sys, chainrule.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
