"""Fitting a damped oscillation with L-BFGS and a strong-Wolfe line search: the closure
re-evaluates the loss, as the optimizer asks."""

import numpy as np
import torch

torch.manual_seed(0)  # the same initial weights on every run of the test

rng = np.random.default_rng(0)
t = torch.linspace(0, 4, 80, dtype=torch.float64)
noise = torch.from_numpy(0.01 * rng.standard_normal(80))
y = 1.5 * torch.exp(-0.7 * t) * torch.cos(3.0 * t) + noise

params = torch.tensor([1.0, -0.5, 2.8], dtype=torch.float64, requires_grad=True)
optimizer = torch.optim.LBFGS([params], lr=1, max_iter=30, line_search_fn="strong_wolfe")


def closure():
    optimizer.zero_grad()
    amplitude, decay, frequency = params[0], params[1], params[2]
    prediction = amplitude * torch.exp(decay * t) * torch.cos(frequency * t)
    loss = ((prediction - y) ** 2).mean()
    loss.backward()
    return loss


for step in range(3):
    loss = optimizer.step(closure)
    print(f"step {step}: loss {loss.item():.8f} params {params.detach().numpy().round(4)}")
print(f"final loss {closure().item():.10e}")
