"""A physics-informed network: a small MLP learns u(x) = sin x from its differential equation alone.

The network u_θ(x) (1 → 32 → 32 → 1, tanh) never sees a value of the solution. Its loss is the
residual of the ordinary differential equation and of its initial conditions,

    u'' + u = 0 on [0, 2π],   u(0) = 0,   u'(0) = 1,     whose solution is u(x) = sin x,

    C(θ) = mean over collocation points xᵢ of (u_θ''(xᵢ) + u_θ(xᵢ))² + u_θ(0)² + (u_θ'(0) − 1)².

u' and u'' are derivatives of the network's output with respect to its *input*, computed by
``chainrule.autograd.grad(..., create_graph=True)``: the first call returns du/dx as a tensor
that still has a graph, the second differentiates it again, and ``C.backward()`` then
differentiates all of that with respect to the weights: third derivatives, through the same
backward rules that train every network.

Training: Adam with a cosine-decaying learning rate, then a few L-BFGS steps, which polish a
smooth, small, full-batch problem like this one much faster. The script prints the loss and the
largest error |u_θ − sin| on a fine grid, and draws the network against the exact solution.

    python examples/physics_informed_ode.py [--steps 1500] [--lbfgs 10] [--out PATH.png]

The picture needs matplotlib (``pip install "chainrule[plot]"``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.optional import require

DEFAULT_OUT = Path(__file__).resolve().parent / "images" / "physics_informed_ode.png"
END = 2 * math.pi


def network(hidden: int = 32, seed: int = 0) -> nn.Sequential:
    cr.manual_seed(seed)
    layers = [nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(hidden, 1)).double()


def derivatives(model: nn.Module, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor, cr.Tensor]:
    """u, du/dx and d²u/dx² at the points x (shape (n, 1), requires grad), each (n, 1).

    Each u(xᵢ) depends on its own xᵢ only, so the gradient of Σᵢ u(xᵢ) with respect to x is
    du/dx at every point at once; ``create_graph`` keeps it differentiable.
    """
    u = model(x)
    (du,) = cr.autograd.grad(u, x, grad_outputs=cr.ones_like(u), create_graph=True)
    (d2u,) = cr.autograd.grad(du, x, grad_outputs=cr.ones_like(du), create_graph=True)
    return u, du, d2u


def residual_loss(model: nn.Module, x: cr.Tensor, origin: cr.Tensor) -> cr.Tensor:
    """mean (u'' + u)² over the collocation points, plus u(0)² + (u'(0) − 1)²."""
    u, _, d2u = derivatives(model, x)
    u0, du0, _ = derivatives(model, origin)
    equation = ((d2u + u) ** 2).mean()
    return equation + (u0**2).sum() + ((du0 - 1) ** 2).sum()


def max_error(model: nn.Module, grid: np.ndarray) -> float:
    """max |u_θ(x) − sin x| over ``grid``."""
    with cr.no_grad():
        u = model(cr.tensor(grid[:, None])).numpy()[:, 0]
    return float(np.abs(u - np.sin(grid)).max())


def train(steps: int, lbfgs_steps: int, points: int = 64, lr: float = 1e-2) -> dict:
    """Adam for ``steps``, then L-BFGS for ``lbfgs_steps``; the model and its history.

    The history is counted in gradient evaluations (one per Adam step, one per call of the
    L-BFGS closure, up to 20 iterations and their line searches per L-BFGS step), so that the
    two optimizers' costs compare. Each logged loss is that of the evaluation just before.
    """
    model = network()
    x = cr.linspace(0, END, points, dtype=cr.float64).reshape(-1, 1).requires_grad_()
    origin = cr.zeros(1, 1, dtype=cr.float64, requires_grad=True)
    grid = np.linspace(0, END, 400)
    history = {"evaluations": [0], "loss": [residual_loss(model, x, origin).item()]}
    history["error"] = [max_error(model, grid)]
    report = max(1, steps // 10)
    adam = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(adam, T_max=max(steps, 1))
    for step in range(1, steps + 1):
        adam.zero_grad()
        loss = residual_loss(model, x, origin)
        loss.backward()
        adam.step()
        schedule.step()
        if step % report == 0 or step == steps:
            _log(history, step, loss.item(), max_error(model, grid))
    evaluations = steps
    if lbfgs_steps:
        lbfgs = optim.LBFGS(
            model.parameters(),
            max_iter=20,
            tolerance_grad=1e-12,
            tolerance_change=1e-15,
            line_search_fn="strong_wolfe",
        )

        def closure() -> cr.Tensor:
            nonlocal evaluations, loss
            evaluations += 1
            lbfgs.zero_grad()
            loss = residual_loss(model, x, origin)
            loss.backward()
            return loss

        for _ in range(lbfgs_steps):
            lbfgs.step(closure)
            _log(history, evaluations, loss.item(), max_error(model, grid))
    return {"model": model, "history": history, "points": x.detach().numpy()[:, 0]}


def _log(history: dict, evaluations: int, loss: float, error: float) -> None:
    history["evaluations"].append(evaluations)
    history["loss"].append(loss)
    history["error"].append(error)
    print(f"gradient evaluations {evaluations:5d}   loss {loss:.3e}   max |u - sin x| {error:.3e}")


def plot(result: dict, adam_steps: int, out: Path) -> Path:
    """The network against sin x (left), and the loss and the error along training (right)."""
    purpose = "the picture of examples/physics_informed_ode.py"
    figure_module = require("matplotlib.figure", purpose)
    backend_agg = require("matplotlib.backends.backend_agg", purpose)
    figure = figure_module.Figure(figsize=(12, 4.6), layout="constrained")
    backend_agg.FigureCanvasAgg(figure)
    solution_axis, training_axis = figure.subplots(1, 2)
    grid = np.linspace(0, END, 400)
    with cr.no_grad():
        u = result["model"](cr.tensor(grid[:, None])).numpy()[:, 0]
    history = result["history"]
    solution_axis.plot(grid, np.sin(grid), color="0.6", linewidth=5, label="exact: sin x")
    solution_axis.plot(grid, u, color="#b2182b", linewidth=1.6, label="network u_θ(x)")
    points = result["points"]
    solution_axis.plot(points, np.zeros_like(points) - 1.15, "|", color="0.3", markersize=6)
    solution_axis.text(0.05, -1.08, "collocation points", fontsize=8, color="0.3")
    solution_axis.set(xlabel="x", ylabel="u", ylim=(-1.25, 1.15))
    solution_axis.set_title(
        f"u'' + u = 0, u(0) = 0, u'(0) = 1: max error {history['error'][-1]:.1e}"
    )
    solution_axis.legend(loc="upper right")
    evaluations = history["evaluations"]
    training_axis.semilogy(evaluations, history["loss"], marker=".", label="loss (residual)")
    training_axis.semilogy(evaluations, history["error"], marker=".", label="max |u_θ − sin x|")
    if evaluations[-1] > adam_steps:
        training_axis.axvline(adam_steps, color="0.5", linestyle=":")
        training_axis.text(adam_steps, max(history["loss"]), " Adam | L-BFGS", fontsize=9)
    training_axis.set(xlabel="gradient evaluations", title="training: the loss never uses sin x")
    training_axis.legend()
    figure.suptitle("A physics-informed network learns sin x from the differential equation")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps (default 1500)")
    parser.add_argument("--lbfgs", type=int, default=10, help="L-BFGS steps after (default 10)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    result = train(args.steps, args.lbfgs)
    error = result["history"]["error"]
    print(f"max |u - sin x| on [0, 2π]: {error[0]:.3g} at the start, {error[-1]:.3g} at the end")
    try:
        written = plot(result, args.steps, args.out)
    except ImportError as error_message:
        print(f"no picture: {error_message}", file=sys.stderr)
    else:
        print(f"wrote {written}")
    return result


if __name__ == "__main__":
    main()
