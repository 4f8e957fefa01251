"""Tutorial 1: backpropagation by hand, then by chainrule, on the 2-2-1 sigmoid XOR network.

The network and cost are the seed articles': z¹ = W¹x + b¹, a¹ = σ(z¹), z² = W²a¹ + b²,
a² = σ(z²), C = mean over the four XOR points of (a² − y)². The script

1. runs one forward and backward pass in NumPy with the four equations BP1–BP4;
2. runs the same pass with chainrule's autograd and prints how far apart the two are;
3. takes one gradient-descent step both ways and compares the new weights;
4. prints chainrule.inspect.trace's table and explanation of the same step;
5. trains the network until it solves XOR and draws the loss curve and the learned function.

    python docs/tutorials/code/t01_xor_by_hand.py [--out DIR]

Pictures go to DIR (default: docs/images in the repository). Everything is seeded.
"""

# W1, W2, X: the names of the math, as in chainrule.demos (pyproject lets ruff accept them).
# --8<-- [start:setup]
import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.inspect import trace

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # one sample per row
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def make_network(seed: int = 0) -> nn.Sequential:
    """The 2-2-1 sigmoid network of `chainrule explain`, in float64 so that the hand
    computation and autograd can be compared to the last digit."""
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    return model.double()


# --8<-- [end:setup]


def output_folder() -> Path:
    """--out DIR, by default docs/images of the repository this file is in."""
    parser = argparse.ArgumentParser(description="Tutorial 1: backpropagation by hand.")
    default = Path(__file__).resolve().parents[3] / "docs" / "images"
    parser.add_argument("--out", type=Path, default=default, help="folder for the pictures")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out


OUT = output_folder()

# --8<-- [start:network]
model = make_network(seed=0)
loss_fn = nn.MSELoss()  # C = mean((a² − y)²) over the 4 samples
W1 = model[0].weight.detach().numpy().copy()  # (2, 2): out × in, as PyTorch stores it
b1 = model[0].bias.detach().numpy().copy()  # (2,)
W2 = model[2].weight.detach().numpy().copy()  # (1, 2)
b2 = model[2].bias.detach().numpy().copy()  # (1,)
print("initial weights (seed 0)")
print("W1 =", W1.round(4).tolist(), " b1 =", b1.round(4).tolist())
print("W2 =", W2.round(4).tolist(), " b2 =", b2.round(4).tolist())
# --8<-- [end:network]


# --8<-- [start:by_hand]
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def backprop_by_hand(
    W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, np.ndarray]:
    """One forward and backward pass of the 2-2-1 network in plain NumPy.

    Samples are rows, as in nn.Linear: z = a Wᵀ + b. The articles write one sample as a
    column, z = W a + b; the two are the same equations, transposed.
    """
    # Forward pass: keep every z and a, the backward pass needs them.
    z1 = x @ W1.T + b1  # (4, 2)
    a1 = sigmoid(z1)
    z2 = a1 @ W2.T + b2  # (4, 1)
    a2 = sigmoid(z2)
    cost = np.mean((a2 - y) ** 2)

    # BP1, output layer: δ² = ∇ₐC ⊙ σ′(z²), with σ′(z) = σ(z)(1 − σ(z)).
    grad_a2 = 2.0 * (a2 - y) / y.size  # ∇ₐC of the mean squared error
    delta2 = grad_a2 * a2 * (1.0 - a2)  # (4, 1)
    # BP2, hidden layer: δ¹ = (W²)ᵀδ² ⊙ σ′(z¹); with samples as rows, δ² W².
    delta1 = (delta2 @ W2) * a1 * (1.0 - a1)  # (4, 2)
    # BP3 and BP4: ∂C/∂W = δ aᵀ and ∂C/∂b = δ, summed over the four samples.
    grad_W2 = delta2.T @ a1  # (1, 2), W2's shape
    grad_b2 = delta2.sum(axis=0)  # (1,)
    grad_W1 = delta1.T @ x  # (2, 2)
    grad_b1 = delta1.sum(axis=0)  # (2,)
    return {
        "cost": np.array(cost),
        "delta2": delta2,
        "delta1": delta1,
        "grad_W2": grad_W2,
        "grad_b2": grad_b2,
        "grad_W1": grad_W1,
        "grad_b1": grad_b1,
    }


hand = backprop_by_hand(W1, b1, W2, b2, X, Y)
print(f"\nby hand: C = {hand['cost']:.6f}")
print("δ² =", hand["delta2"].ravel().round(5).tolist())
print("δ¹ =", hand["delta1"].round(5).tolist())
print("∂C/∂W² =", hand["grad_W2"].round(5).tolist())
# --8<-- [end:by_hand]

# --8<-- [start:autograd]
x, y = cr.tensor(X), cr.tensor(Y)
# The model's layers one by one, so that z¹ and z² can keep their gradients ∂C/∂z = δ.
z1 = model[0](x)
z1.retain_grad()
z2 = model[2](model[1](z1))
z2.retain_grad()
loss = loss_fn(model[3](z2), y)
loss.backward()

autograd = {
    "cost": loss.detach().numpy(),
    "delta2": z2.grad.numpy(),
    "delta1": z1.grad.numpy(),
    "grad_W2": model[2].weight.grad.numpy(),
    "grad_b2": model[2].bias.grad.numpy(),
    "grad_W1": model[0].weight.grad.numpy(),
    "grad_b1": model[0].bias.grad.numpy(),
}
print("\nby hand against chainrule's autograd (max |difference|)")
for name, value in hand.items():
    difference = np.abs(value - autograd[name]).max()
    print(f"  {name:8s} {difference:.1e}")
# --8<-- [end:autograd]

# --8<-- [start:update]
lr = 2.0  # the learning rate η
# By hand: W ← W − η ∂C/∂W, b ← b − η ∂C/∂b.
new_W1 = W1 - lr * hand["grad_W1"]
new_b1 = b1 - lr * hand["grad_b1"]
new_W2 = W2 - lr * hand["grad_W2"]
new_b2 = b2 - lr * hand["grad_b2"]
# By chainrule: the optimiser applies the same rule to the .grad that backward() left.
optimizer = optim.SGD(model.parameters(), lr=lr)
optimizer.step()
pairs = [
    (new_W1, model[0].weight),
    (new_b1, model[0].bias),
    (new_W2, model[2].weight),
    (new_b2, model[2].bias),
]
step_difference = max(np.abs(mine - p.detach().numpy()).max() for mine, p in pairs)
new_cost = backprop_by_hand(new_W1, new_b1, new_W2, new_b2, X, Y)["cost"]
print(f"\nafter one step with η = {lr}: C = {hand['cost']:.6f} -> {new_cost:.6f}")
print(f"new weights, by hand against optimizer.step(): max |difference| {step_difference:.1e}")
# --8<-- [end:update]

# --8<-- [start:trace]
# trace() runs one forward and backward pass on a copy of the model and records every layer.
step = trace(make_network(seed=0), x, y, loss_fn)
print()
print(step.table())
print()
print(step.explain(1))  # the output layer: BP1, BP3, BP4
print(step.explain(0))  # the hidden layer: BP2, BP3, BP4
delta_difference = max(
    np.abs(step.layer(1).delta - hand["delta2"]).max(),
    np.abs(step.layer(0).delta - hand["delta1"]).max(),
)
print(f"δ recorded by trace against δ by hand: max |difference| {delta_difference:.1e}")
# --8<-- [end:trace]


# --8<-- [start:train]
def train(seed: int, lr: float = 2.0, steps: int = 5000) -> tuple[list[float], nn.Sequential]:
    """Full-batch gradient descent on the four XOR points; the loss at every step."""
    model = make_network(seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, model


def solved(outputs: np.ndarray) -> bool:
    """Every output on the target's side of 0.5."""
    return bool(np.all((outputs.ravel() > 0.5) == (Y.ravel() > 0.5)))


runs = {seed: train(seed) for seed in (0, 2)}
for seed, (losses, trained) in runs.items():
    with cr.no_grad():
        outputs = trained(x).numpy().ravel()
    # Below 1/16 every answer is within 0.5 of its target: one miss of 0.5 costs 0.25 / 4.
    below = next((i + 1 for i, c in enumerate(losses) if c < 1 / 16), "never")
    print(f"\nseed {seed}: loss {losses[0]:.6f} -> {losses[-1]:.6f} after {len(losses)} steps")
    print("  first step with loss below 1/16:", below)
    print("  outputs for (0,0), (0,1), (1,0), (1,1):", outputs.round(4).tolist())
    print("  solved:", solved(outputs))
# --8<-- [end:train]


# --8<-- [start:plots]
def draw(out: Path) -> None:
    """The loss curves, and the function the seed-0 network learned over the unit square."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for seed, (losses, _) in runs.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=f"seed {seed}")
    ax.axhline(0.125, color="grey", linestyle=":", label="0.125: two of the four answered 0.5")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean squared error)")
    ax.set_title("2-2-1 sigmoid network on XOR, gradient descent, η = 2")
    ax.legend()
    fig.savefig(out / "t01_xor_by_hand_loss.png", dpi=110)
    plt.close(fig)

    grid = np.linspace(-0.25, 1.25, 121)
    u, v = np.meshgrid(grid, grid)
    points = cr.tensor(np.stack([u.ravel(), v.ravel()], axis=1))
    with cr.no_grad():
        surface = runs[0][1](points).numpy().reshape(u.shape)
    fig, ax = plt.subplots(figsize=(5, 4.2), layout="constrained")
    image = ax.contourf(u, v, surface, levels=np.linspace(0, 1, 11), cmap="coolwarm")
    ax.contour(u, v, surface, levels=[0.5], colors="black", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=Y.ravel(), cmap="coolwarm", edgecolors="black", s=120)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title("output a² of the trained network (seed 0)")
    fig.colorbar(image, ax=ax, label="a²")
    fig.savefig(out / "t01_xor_by_hand_surface.png", dpi=110)
    plt.close(fig)
    print(f"\nwrote {out / 't01_xor_by_hand_loss.png'} and {out / 't01_xor_by_hand_surface.png'}")


# --8<-- [end:plots]

draw(OUT)
