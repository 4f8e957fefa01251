"""gradcheck_model: passes on correct models, names the parameter (and the mode, eval or
train) whose backward is wrong, and draws nothing from the caller's random stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.autograd.function import Function
from chainrule.inspect.model_check import GradcheckReport, gradcheck_model
from chainrule.nn import functional
from chainrule.ops import dropout, norm


class WrongGradient(Function):
    """Identity forward whose backward is deliberately wrong: 1.5·grad instead of grad."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return (grad * 1.5,)


class BrokenLinear(nn.Linear):
    """A Linear whose weight passes through WrongGradient: only ∂L/∂weight is wrong."""

    def forward(self, input):  # noqa: A002
        return functional.linear(input, WrongGradient.apply(self.weight), self.bias)


class LastStep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


def test_mlp_with_dropout_passes_every_parameter():
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 2))
    x, y = cr.randn(6, 3), cr.randint(0, 2, (6,))
    report = gradcheck_model(model, x, y, nn.CrossEntropyLoss())
    assert isinstance(report, GradcheckReport)
    assert report.ok and not report.failures
    assert report.modes == ("eval", "train")
    names = ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert [(row.mode, row.name) for row in report.rows] == [
        *(("eval", name) for name in names),
        *(("train", name) for name in names),
    ]
    for mode in report.modes:
        assert [row.shape for row in report.rows_for(mode)] == [(5, 3), (5,), (2, 5), (2,)]
        assert [row.checked for row in report.rows_for(mode)] == [15, 5, 10, 2]
    assert max(row.max_abs_error for row in report.rows) < 1e-7


def test_cnn_passes():
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 2),
    )
    x, y = cr.randn(2, 2, 4, 4), cr.randint(0, 2, (2,))
    report = gradcheck_model(model, x, y, nn.CrossEntropyLoss())
    assert report.ok
    assert report.rows[0].name == "0.weight" and report.rows[0].shape == (3, 2, 3, 3)


def test_lstm_passes():
    model = LastStep()
    report = gradcheck_model(model, cr.randn(2, 5, 3), cr.randn(2, 1), nn.MSELoss())
    assert report.ok
    assert {row.name for row in report.rows} == {
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "head.weight",
        "head.bias",
    }


def _broken_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), BrokenLinear(4, 2))


def test_broken_backward_fails_and_names_the_parameter():
    model = _broken_model()
    x, y = cr.randn(5, 3), cr.randn(5, 2)
    with pytest.raises(
        cr.GradcheckError, match=r"gradients of 2\.weight are wrong in eval and train mode\n"
    ):
        gradcheck_model(model, x, y, nn.MSELoss())
    report = gradcheck_model(model, x, y, nn.MSELoss(), raise_on_failure=False)
    assert not report.ok and not bool(report)
    assert [(row.mode, row.name) for row in report.failures] == [
        ("eval", "2.weight"),
        ("train", "2.weight"),
    ]
    assert "FAIL" in str(report) and "2.weight" in str(report)
    summary = "2 of 8 checks FAIL in eval and train mode (checked: eval and train mode; eps=1e-06"
    assert str(report).splitlines()[-1].startswith(summary)


def test_reported_error_matches_the_true_gradient_from_pytorch():
    # The broken vjp returns 1.5·g, so the largest absolute error must be max |0.5·g| where g
    # is the true ∂L/∂W, which PyTorch computes on the same float64 weights and data.
    model = _broken_model()
    x, y = cr.randn(5, 3), cr.randn(5, 2)
    report = gradcheck_model(model, x, y, nn.MSELoss(), raise_on_failure=False)
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    twin.double()
    loss = torch.nn.functional.mse_loss(
        twin(torch.tensor(x.numpy(), dtype=torch.float64)),
        torch.tensor(y.numpy(), dtype=torch.float64),
    )
    loss.backward()
    expected = 0.5 * twin[2].weight.grad.abs().max().item()
    broken = next(row for row in report.rows if row.name == "2.weight")
    assert broken.max_abs_error == pytest.approx(expected, rel=1e-5)
    assert broken.max_rel_error == pytest.approx(0.5 / 1.5, rel=1e-4)
    assert broken.failed == broken.checked == 8


def test_model_passed_in_is_untouched():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.2), nn.Linear(4, 1))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    gradcheck_model(model, cr.randn(4, 3), cr.randn(4, 1), nn.MSELoss())
    for name, param in model.named_parameters():
        assert param.dtype == np.float32, name
        assert param.grad is None, name
        np.testing.assert_array_equal(param.detach().numpy(), before[name])
    assert model.training and model[1].training


def test_max_elements_samples_big_parameters_reproducibly():
    model = nn.Sequential(nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 1))
    x, y = cr.randn(4, 8), cr.randn(4, 1)
    first = gradcheck_model(model, x, y, nn.MSELoss(), max_elements=5, seed=3)
    again = gradcheck_model(model, x, y, nn.MSELoss(), max_elements=5, seed=3)
    assert [row.checked for row in first.rows] == [5, 5, 5, 1] * 2
    assert first.ok
    assert [row.worst_index for row in first.rows] == [row.worst_index for row in again.rows]
    assert [row.max_abs_error for row in first.rows] == [row.max_abs_error for row in again.rows]


def test_table_columns_are_aligned():
    model = nn.Sequential(nn.Linear(3, 12), nn.Tanh(), nn.Linear(12, 1))
    report = gradcheck_model(model, cr.randn(4, 3), cr.randn(4, 1), nn.MSELoss())
    lines = str(report).splitlines()
    header, rows = lines[0], lines[2 : 2 + len(report.rows)]
    assert set(lines[1]) == {"-"}
    end = header.index("checked") + len("checked")  # right-aligned column: digits end here
    for line, row in zip(rows, report.rows):
        assert line.startswith(row.name)
        assert line[end - len(str(row.checked)) : end] == str(row.checked)
        assert line[end] == " "


def test_bad_inputs_are_clear_errors():
    model = nn.Linear(3, 2)
    x, y = cr.randn(4, 3), cr.randn(4, 2)
    with pytest.raises(TypeError, match="model must be a Module"):
        gradcheck_model(lambda t: t, x, y, nn.MSELoss())
    with pytest.raises(ValueError, match="single-element Tensor"):
        gradcheck_model(model, x, y, nn.MSELoss(reduction="none"))
    with pytest.raises(ValueError, match="max_elements"):
        gradcheck_model(model, x, y, nn.MSELoss(), max_elements=0)
    with pytest.raises(ValueError, match="eps must be positive"):
        gradcheck_model(model, x, y, nn.MSELoss(), eps=0.0)
    for modes in [(), ("test",), ("eval", "eval"), "training", 3]:
        with pytest.raises(ValueError, match=r"modes must be one or both of 'eval' and 'train'"):
            gradcheck_model(model, x, y, nn.MSELoss(), modes=modes)


def test_the_models_hooks_do_not_see_the_check():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    calls = []
    model[0].register_forward_hook(lambda module, args, output: calls.append(output.shape))
    gradcheck_model(model, cr.randn(4, 3), cr.randn(4, 1), nn.MSELoss())
    assert calls == []
    model(cr.randn(2, 3))  # the hook is still registered on the model itself
    assert calls == [(2, 4)]


# ---- training mode: batch statistics and dropout masks ---------------------------------------


def bn_dropout_model() -> nn.Sequential:
    cr.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 2)
    )


def bn_dropout_batch() -> tuple[cr.Tensor, cr.Tensor]:
    cr.manual_seed(1)
    return cr.randn(6, 3), cr.randint(0, 2, (6,))


def test_batch_norm_and_dropout_pass_in_both_modes_and_the_report_names_them():
    model = bn_dropout_model()
    x, y = bn_dropout_batch()
    report = gradcheck_model(model, x, y, nn.CrossEntropyLoss())
    assert report.ok
    assert report.modes == ("eval", "train")
    names = ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert [row.name for row in report.rows_for("eval")] == names
    assert [row.name for row in report.rows_for("train")] == names
    text = str(report)
    assert text.splitlines()[0].split()[:2] == ["parameter", "mode"]
    assert [line.split()[1] for line in text.splitlines()[2:14]] == ["eval"] * 6 + ["train"] * 6
    assert "all parameters pass in eval and train mode" in text
    # The model passed in keeps its mode and its running statistics.
    assert model.training
    np.testing.assert_array_equal(model[1].running_mean.numpy(), np.zeros(5, np.float32))
    np.testing.assert_array_equal(model[1].running_var.numpy(), np.ones(5, np.float32))


def test_one_mode_can_be_chosen():
    model = bn_dropout_model()
    x, y = bn_dropout_batch()
    for modes in ["train", ("train",), ["eval"]]:
        report = gradcheck_model(model, x, y, nn.CrossEntropyLoss(), modes=modes)
        wanted = (modes,) if isinstance(modes, str) else tuple(modes)
        assert report.modes == wanted
        assert {row.mode for row in report.rows} == set(wanted) and len(report.rows) == 6
        assert f"all parameters pass in {wanted[0]} mode" in str(report)


def test_a_broken_training_mode_batch_norm_backward_is_caught_in_train_mode_only(
    monkeypatch: pytest.MonkeyPatch,
):
    # Batch norm's input gradient, wrong by half again but only with batch statistics (the
    # training-mode path): the evaluation-mode check cannot see it, the training-mode one must.
    correct = norm.BatchNorm.backward

    def broken(self, grad):
        grads = correct(self, grad)
        if not self.batch_stats:
            return grads
        return (grads[0] * 1.5, *grads[1:])

    monkeypatch.setattr(norm.BatchNorm, "backward", broken)
    model = bn_dropout_model()
    x, y = bn_dropout_batch()
    assert gradcheck_model(model, x, y, nn.CrossEntropyLoss(), modes=("eval",)).ok
    report = gradcheck_model(model, x, y, nn.CrossEntropyLoss(), raise_on_failure=False)
    assert not report.ok
    assert all(row.passed for row in report.rows_for("eval"))
    # ∂C/∂x of batch norm reaches only the first Linear's weight (its bias gets exactly 0:
    # batch norm subtracts the batch mean), so that is the one parameter that fails.
    assert [(row.mode, row.name) for row in report.failures] == [("train", "0.weight")]
    assert "1 of 12 checks FAIL in train mode (checked: eval and train mode;" in str(report)
    with pytest.raises(cr.GradcheckError, match=r"gradients of 0\.weight are wrong in train mode"):
        gradcheck_model(model, x, y, nn.CrossEntropyLoss())


def test_a_broken_dropout_backward_is_caught_in_train_mode_only(monkeypatch: pytest.MonkeyPatch):
    # A backward that forgets the mask: only a training-mode forward applies dropout, and only
    # a check whose every forward draws the same mask can tell the two gradients apart.
    monkeypatch.setattr(dropout.Dropout, "backward", lambda self, grad: (grad, None))
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 2))
    x, y = cr.randn(6, 3), cr.randint(0, 2, (6,))
    report = gradcheck_model(model, x, y, nn.CrossEntropyLoss(), raise_on_failure=False)
    assert all(row.passed for row in report.rows_for("eval"))
    assert {row.name for row in report.failures} == {"0.weight", "0.bias"}
    assert {row.mode for row in report.failures} == {"train"}


def test_the_check_draws_nothing_from_the_callers_random_stream():
    model = bn_dropout_model()
    x, y = bn_dropout_batch()
    generator = cr.random.default_generator()
    cr.manual_seed(42)
    expected = cr.rand(3).numpy()
    cr.manual_seed(42)
    gradcheck_model(model, x, y, nn.CrossEntropyLoss(), max_elements=4)
    assert cr.random.default_generator() is not generator  # manual_seed made a new one
    np.testing.assert_array_equal(cr.rand(3).numpy(), expected)
