"""Fitting a curve through a custom autograd Function: forward and backward written by hand with
ctx.save_for_backward, as in the lessons on extending autograd."""

import math

import torch

torch.manual_seed(0)  # the same initial weights on every run of the test


class LegendreP3(torch.autograd.Function):
    """P3(x) = (5x³ − 3x) / 2, with its derivative (15x² − 3) / 2 written by hand."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


class ScaledSoftsign(torch.autograd.Function):
    """y = s·x / (1 + |x|): two inputs, one of them a plain Python number."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        ctx.save_for_backward(x)
        return scale * x / (1 + x.abs())

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output * ctx.scale / (1 + x.abs()) ** 2
        return grad_x, None


dtype = torch.float
device = torch.device("cpu")
x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

learning_rate = 5e-6
for t in range(1000):
    P3 = LegendreP3.apply
    y_pred = a + b * P3(c + d * x)
    penalty = ScaledSoftsign.apply(c, 2.0).pow(2)
    loss = (y_pred - y).pow(2).sum() + penalty
    if t % 250 == 249:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None
print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
print(f"final loss {loss.item():.10e}")
