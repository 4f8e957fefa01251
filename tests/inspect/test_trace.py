"""chainrule.inspect.tracer: the recorded a, z, δ and gradients against hand-derived formulas and
PyTorch; the explanation's checks; what the trace leaves unchanged; layers it cannot explain."""

from __future__ import annotations

import numpy
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.inspect import explain
from chainrule.inspect.families import dense
from chainrule.inspect.tracer import summarize, trace

X = numpy.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=numpy.float32)
Y = numpy.array([[0.0], [1.0], [1.0], [0.0]], dtype=numpy.float32)


def xor_net(seed: int = 0) -> nn.Sequential:
    """The seed articles' network: 2 inputs, 2 sigmoid hidden units, 1 sigmoid output."""
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())


def sigmoid(z: numpy.ndarray) -> numpy.ndarray:
    return 1 / (1 + numpy.exp(-z))


def test_xor_trace_equals_the_hand_derived_backprop_equations() -> None:
    model = xor_net()
    W1, b1, W2, b2 = (p.detach().numpy().astype(float) for p in model.parameters())
    # Forward and backward by hand, one sample per row, C = mean over the 4 samples of (a² − y)².
    z1 = X @ W1.T + b1
    a1 = sigmoid(z1)
    z2 = a1 @ W2.T + b2
    a2 = sigmoid(z2)
    delta2 = 2 * (a2 - Y) / 4 * a2 * (1 - a2)  # ∇ₐC ⊙ σ'(z²)
    delta1 = (delta2 @ W2) * a1 * (1 - a1)  # (W²)ᵀδ² ⊙ σ'(z¹), per row

    t = trace(model, cr.tensor(X), cr.tensor(Y), nn.MSELoss())

    first, second = t.layers
    assert (first.name, second.name) == ("0", "2")
    assert (first.activation, second.activation) == ("Sigmoid", "Sigmoid")
    assert t.loss == pytest.approx(float(numpy.mean((a2 - Y) ** 2)), rel=1e-6)
    expected = {
        (0, "a_in"): X,
        (0, "z"): z1,
        (0, "a_out"): a1,
        (0, "delta"): delta1,
        (0, "grad_weight"): delta1.T @ X,
        (0, "grad_bias"): delta1.sum(0),
        (0, "sigma_prime"): a1 * (1 - a1),
        (1, "a_in"): a1,
        (1, "z"): z2,
        (1, "a_out"): a2,
        (1, "delta"): delta2,
        (1, "grad_weight"): delta2.T @ a1,
        (1, "grad_bias"): delta2.sum(0),
    }
    for (index, name), value in expected.items():
        got = getattr(t.layers[index], name)
        assert got.dtype == numpy.float32, name
        numpy.testing.assert_allclose(got, value, rtol=1e-5, atol=1e-7, err_msg=name)
    numpy.testing.assert_allclose(t.grad_output, 2 * (a2 - Y) / 4, rtol=1e-5)


def test_xor_trace_matches_pytorch() -> None:
    model = xor_net(seed=3)
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1), torch.nn.Sigmoid()
    )
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    zs = []
    reference[0].register_forward_hook(lambda _m, _a, out: zs.append(out) or out.retain_grad())
    reference[2].register_forward_hook(lambda _m, _a, out: zs.append(out) or out.retain_grad())
    loss = torch.nn.functional.mse_loss(reference(torch.tensor(X)), torch.tensor(Y))
    loss.backward()

    t = trace(model, cr.tensor(X), cr.tensor(Y), nn.MSELoss())

    assert t.loss == pytest.approx(loss.item(), rel=1e-6)
    for record, layer, z in zip(t.layers, (reference[0], reference[2]), zs):
        numpy.testing.assert_allclose(record.z, z.detach().numpy(), rtol=1e-6)
        # float32 sums over the batch that nearly cancel (entries near 1e-4 from terms up to
        # about 1e-2) keep only about 1e-8 of absolute accuracy: the tolerance near zero.
        numpy.testing.assert_allclose(record.delta, z.grad.numpy(), rtol=1e-5, atol=1e-8)
        numpy.testing.assert_allclose(
            record.grad_weight, layer.weight.grad.numpy(), rtol=1e-5, atol=1e-8
        )
        numpy.testing.assert_allclose(
            record.grad_bias, layer.bias.grad.numpy(), rtol=1e-5, atol=1e-8
        )


def test_explain_prints_the_equations_with_numbers_and_every_check_passes() -> None:
    t = trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    hidden, output = t.explain(0), t.explain("2")
    assert "(BP2) δˡ = ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ'(zˡ)" in hidden
    assert "δ¹ = ((W²)ᵀ δ²) ⊙ σ'(z¹)" in hidden
    assert "(BP1) δᴸ = ∇ₐC ⊙ σ'(zᴸ)" in output and "δ² = ∇ₐC ⊙ σ'(z²), L = 2" in output
    assert "σ'(z) = σ(z)(1 − σ(z))" in hidden and "2(a − y)/n, n = 4 elements" in output
    for text in (hidden, output):
        assert "(BP3) ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ" in text and "(BP4) ∂C/∂bˡ = δˡ" in text
        assert text.count("✓ matches autodiff") == 3 and "✗" not in text
    # The numbers of this step are in the text: W² in full, and ∂C/∂b².
    assert explain.format_array(t.layers[1].weight) in hidden
    assert explain.format_array(t.layers[1].grad_bias) in output
    assert f"{t.layers[1].grad_bias[0]:.4g}" in output


def test_a_wrong_right_hand_side_is_reported_as_differing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    # The classic mistake: forgetting σ'(z) in the recursion.
    monkeypatch.setattr(dense, "hidden_delta", lambda delta, weight, _sp: delta @ weight)
    text = t.explain(0)
    assert "✗ differs from autodiff" in text
    lines = text.splitlines()
    verdicts = [line.strip() for line in lines if "autodiff (max" in line]
    assert verdicts[0].startswith("✗") and all(v.startswith("✓") for v in verdicts[1:])
    # And a weight gradient off by a factor: only BP3 fails.
    monkeypatch.setattr(dense, "linear_weight_gradient", lambda d, a: 2 * (d.T @ a))
    checks = [e.check for e in explain.explain_layer(t, 1).equations]
    assert [c.ok for c in checks] == [True, False, True]


def test_trace_leaves_weights_and_grads_as_they_were() -> None:
    model = xor_net()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model[0].weight.grad = cr.full((2, 2), 7.0)
    kept = model[0].weight.grad
    t = trace(model, cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    assert model[0].weight.grad is kept and float(kept.numpy().max()) == 7.0
    assert model[2].weight.grad is None and model[2].bias.grad is None
    for name, value in model.state_dict().items():
        numpy.testing.assert_array_equal(value.numpy(), before[name])
    # The gradients were computed from zero, not added to the 7s.
    loss = nn.MSELoss()(model(cr.tensor(X)), cr.tensor(Y))
    model.zero_grad()
    loss.backward()
    numpy.testing.assert_allclose(t.layers[0].grad_weight, model[0].weight.grad.numpy())


def test_the_models_hooks_and_batch_norm_statistics_do_not_see_the_trace() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
    calls = []
    model[0].register_forward_hook(lambda _module, _args, output: calls.append(output.shape))
    t = trace(model, cr.randn(8, 3), cr.randn(8, 1), nn.MSELoss())
    assert calls == [] and [r.type_name for r in t.layers] == ["Linear", "BatchNorm1d", "Linear"]
    numpy.testing.assert_array_equal(model[1].running_mean.numpy(), numpy.zeros(4))
    model(cr.randn(2, 3))  # the hook is still there on the model itself
    assert calls == [(2, 4)]


def test_table_has_one_aligned_row_per_layer_with_the_norms() -> None:
    t = trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    table = t.table()
    assert str(t) == table
    lines = table.splitlines()
    assert lines[0].startswith("loss (MSELoss) = ") and "batch of 4" in lines[0]
    header, rule, *rows = lines[2:]
    assert "‖δ‖" in header and "‖∂C/∂W‖" in header and set(rule) <= {"-", " "}
    assert len(rows) == 2
    for record, row in zip(t.layers, rows):
        cells = row.split()
        # Numbers are right-aligned under their headings.
        delta_norm = cells[7]
        assert row.index(delta_norm) + len(delta_norm) == header.index("‖δ‖") + len("‖δ‖")
        assert cells[:3] == [str(record.number), record.name, "Linear"]
        norms = [numpy.linalg.norm(getattr(record, f)) for f in ("a_in", "z", "delta")]
        norms += [numpy.linalg.norm(record.grad_weight), numpy.linalg.norm(record.grad_bias)]
        assert cells[5:10] == [f"{n:.4g}" for n in norms]
        assert cells[10] == "Sigmoid"


def test_to_dict_and_summary_statistics() -> None:
    t = trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    data = t.to_dict()
    assert list(data["layers"]) == ["0", "2"] and data["loss"] == t.loss
    arrays = data["layers"]["0"]
    assert {"a_in", "z", "a_out", "delta", "grad_weight", "grad_bias"} <= set(arrays)
    numpy.testing.assert_array_equal(arrays["delta"], t.layers[0].delta)
    stats = t.layers[0].stats()["delta"]
    d = t.layers[0].delta.astype(numpy.float64)
    expected = (d.mean(), d.std(), d.min(), d.max(), numpy.sqrt((d**2).sum()))
    assert stats == pytest.approx(expected)
    assert summarize(numpy.zeros(0)).norm == 0.0


@pytest.mark.parametrize(
    ("activation", "torch_activation", "named"),
    [
        (nn.Tanh, torch.nn.Tanh, "tanh'(z) = 1 − tanh²(z)"),
        (nn.ReLU, torch.nn.ReLU, "ReLU'(z) = 1 where z > 0, else 0"),
        (nn.SiLU, torch.nn.SiLU, "by autodiff on SiLU"),
    ],
)
def test_sigma_prime_comes_from_the_activation_module(
    activation: type, torch_activation: type, named: str
) -> None:
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 5), activation(), nn.Linear(5, 2))
    x, y = cr.randn(6, 3), cr.randn(6, 2)
    t = trace(model, x, y, nn.MSELoss())
    z = torch.tensor(t.layers[0].z, requires_grad=True)
    torch_activation()(z).sum().backward()
    numpy.testing.assert_allclose(t.layers[0].sigma_prime, z.grad.numpy(), rtol=1e-5, atol=1e-7)
    text = t.explain(0)
    assert named in text and text.count("✓") == 3 and "✗" not in text
    # No activation after the output layer: σ' = 1 and ∇ₐC is the loss's own gradient.
    last = t.explain(1)
    assert "σ'(z²) = 1 (no activation module follows" in last and last.count("✓") == 3


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(3, 3)
        self.act = nn.Tanh()
        self.outer = nn.Linear(3, 3)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = self.act(self.inner(x))
        return self.outer(h) + h


def test_a_residual_connection_is_named_and_only_gradients_are_checked() -> None:
    cr.manual_seed(2)
    t = trace(Residual(), cr.randn(4, 3), cr.randn(4, 3), nn.MSELoss())
    text = t.explain("inner")
    assert "also used outside the next layer (e.g. a residual connection)" in text
    assert "does not apply in that form" in text
    assert text.count("✓") == 2 and "✗" not in text
    assert "neither the model's output" in t.explain("outer")


def test_convolutions_are_traced_and_their_gradients_checked_against_torch() -> None:
    cr.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2),
        nn.ReLU(),
        nn.BatchNorm2d(4),
        nn.Flatten(),
        nn.Linear(36, 3),
    )
    x = cr.randn(5, 2, 5, 5)
    y = cr.tensor([0, 2, 1, 1, 0])
    t = trace(model, x, y, nn.CrossEntropyLoss())
    assert [r.name for r in t.layers] == ["0", "2", "4"] and t.skipped == []
    conv = t.layers[0]
    weight = torch.tensor(model[0].weight.detach().numpy(), requires_grad=True)
    z = torch.nn.functional.conv2d(torch.tensor(x.numpy()), weight, None, 2, 1, 1, 2)
    z.backward(torch.tensor(conv.delta))
    numpy.testing.assert_allclose(conv.grad_weight, weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    text = t.explain(0)
    assert "the next layer '2' (BatchNorm2d) is not Linear" in text and "Conv2d" in text
    assert text.count("✓") == 2 and "✗" not in text


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"),
    [(1, 0, 1, 1), (2, 1, 1, 1), (1, "same", 2, 2), (3, 2, 2, 3), (1, "valid", 1, 1)],
)
def test_the_independent_conv_weight_gradient_matches_torch(
    stride: int, padding: int | str, dilation: int, groups: int
) -> None:
    rng = numpy.random.default_rng(0)
    a = rng.standard_normal((3, 6, 9)).astype(numpy.float32)
    weight = torch.tensor(rng.standard_normal((6, 6 // groups, 3)), dtype=torch.float32)
    weight.requires_grad_()
    z = torch.nn.functional.conv1d(torch.tensor(a), weight, None, stride, padding, dilation, groups)
    delta = rng.standard_normal(z.shape).astype(numpy.float32)
    z.backward(torch.tensor(delta))
    options = {"kernel_size": (3,), "stride": (stride,), "dilation": (dilation,)}
    options |= {"groups": groups, "padding": padding if isinstance(padding, str) else (padding,)}
    got = dense.conv_weight_gradient(delta.astype(float), a.astype(float), options)
    numpy.testing.assert_allclose(got, weight.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_bad_input_and_unknown_layers_give_clear_errors() -> None:
    t = trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    with pytest.raises(KeyError, match="no traced layer named 'hidden'; the traced layers are '0'"):
        t.explain("hidden")
    with pytest.raises(IndexError, match="no layer 5; the trace has 2 layers"):
        t.layer(5)
    with pytest.raises(TypeError, match="model must be a chainrule Module, got function"):
        trace(lambda v: v, cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    with pytest.raises(ValueError, match="loss_fn must return a single-element Tensor"):
        trace(xor_net(), cr.tensor(X), cr.tensor(Y), nn.MSELoss(reduction="none"))
