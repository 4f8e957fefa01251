"""Tutorial 2: the five seed articles' programs, what each got wrong, and a working version.

For each article the script first shows its mistake concretely, with a few lines of NumPy
(the error it raises, the shape it makes, the number of steps it really runs), then runs the
working version that ships with chainrule (``chainrule.demos``, also ``chainrule demo NAME``)
and prints its numbers. Two pictures: the regression of article 003, and the XOR answers of
articles 002 and 004 before and after the fix.

    python docs/tutorials/code/t02_seed_programs.py [--out DIR]

Pictures go to DIR (default: docs/images in the repository). Everything is seeded.
"""

# --8<-- [start:setup]
import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.demos import (
    seed_000_three_four_one,
    seed_001_linear_model,
    seed_002_two_two_one,
    seed_003_linear_regression,
    seed_004_xor_no_bias,
)


def error_of(action: Callable[[], object]) -> str:
    """Run ``action`` and return the exception it raises, as Python prints it."""
    try:
        action()
    except Exception as error:  # the articles' shape mistakes raise ValueError
        return f"{type(error).__name__}: {error}"
    return "no error"


# --8<-- [end:setup]


def output_folder() -> Path:
    """--out DIR, by default docs/images of the repository this file is in."""
    parser = argparse.ArgumentParser(description="Tutorial 2: the seed articles' programs.")
    default = Path(__file__).resolve().parents[3] / "docs" / "images"
    parser.add_argument("--out", type=Path, default=default, help="folder for the pictures")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out


OUT = output_folder()


# --8<-- [start:seed000]
print("=== article 000: a 3-4-1 sigmoid network")
# The article calls NN.train(epoch) for epoch = 0 … 1499, and train(n) runs n steps.
print("steps the article's loop really runs:", sum(range(1500)))
# Its hand-written gradient is right: the update it ADDS is −∂L/∂W for L = Σ(y − ŷ)².
W1_000, W2_000 = seed_000_three_four_one.init_weights(seed=0)
x_000 = cr.tensor(seed_000_three_four_one.X, dtype=cr.float32)
y_000 = cr.tensor(seed_000_three_four_one.Y, dtype=cr.float32)
layer1, output = seed_000_three_four_one.forward(x_000, W1_000, W2_000)
seed_000_three_four_one.sum_squared_error(output, y_000).backward()
layer1, output, target = layer1.detach().numpy(), output.detach().numpy(), y_000.numpy()
d_weights2 = layer1.T @ (2 * (target - output) * output * (1 - output))  # the article's line
gap = np.abs(d_weights2 + W2_000.grad.numpy()).max()
print(f"article's d_weights2 against −∂L/∂W2 from autodiff: max |difference| {gap:.1e}")
print("the working version, 1500 steps:")
run_000 = seed_000_three_four_one.main(steps=1500)
# --8<-- [end:seed000]

# --8<-- [start:seed001]
print("\n=== article 001: y = Wx + b on one sample")
dy = np.array([0.4])  # y − y_real has shape (1,); x has shape (2,)
x_001 = np.array([1.0, 2.0])
print("the article's dW = np.dot(dy, x):", error_of(lambda: np.dot(dy, x_001)))
# The gradient of ½(Wx + b − y_real)² for the (1, 2) matrix W is the outer product dy xᵀ.
W_001 = cr.tensor([[0.1, 0.2]], requires_grad=True)
b_001 = cr.tensor([0.3], requires_grad=True)
prediction = seed_001_linear_model.forward(cr.tensor(x_001), W_001, b_001)
seed_001_linear_model.half_squared_error(prediction, cr.tensor([3.0])).backward()
dy_001 = prediction.detach().numpy() - 3.0
print("autodiff's ∂L/∂W:", W_001.grad.numpy().astype(np.float64).round(4).tolist())
print("dy xᵀ           :", np.outer(dy_001, x_001).round(4).tolist())
print("the working version, lr = 0.01, 1000 epochs:")
run_001 = seed_001_linear_model.main()
# --8<-- [end:seed001]

# --8<-- [start:seed002]
print("\n=== article 002: the 2-2-1 XOR network")
W2_002, b2_002 = np.ones((2, 1)), np.ones(1)  # the shapes of the article's W2 and b2
print("the article's np.hstack((W2, b2)):", error_of(lambda: np.hstack((W2_002, b2_002))))
print("the working version, the article's lr = 0.1 and then lr = 2.0:")
runs_002 = seed_002_two_two_one.main(seed=0)
# --8<-- [end:seed002]

# --8<-- [start:seed003]
print("\n=== article 003: linear regression y = 3x + noise")
X_t, y_t, w0_t = seed_003_linear_regression.make_data(seed=0)
X_003, y_003, w_003 = X_t.numpy(), y_t.numpy(), w0_t.numpy()
for _ in range(1000):  # the article's loop, as written
    error = X_003 * w_003 - y_003
    w_003 = w_003 - 0.01 * error * X_003  # (100, 1) per-sample gradients, never averaged
print("the article's w after 1000 steps has shape", w_003.shape)
print(f"and its 'prediction' at x = 1 is 100 numbers, {w_003.min():.3f} to {w_003.max():.3f}")
print("the working version, three runs:")
runs_003 = seed_003_linear_regression.main(seed=0)
# --8<-- [end:seed003]

# --8<-- [start:seed004]
print("\n=== article 004: XOR with no biases")
w0, w1 = seed_004_xor_no_bias.article_initial_weights()
hidden_at_origin = 1 / (1 + np.exp(-(np.zeros((1, 2)) @ w0)))
print("hidden layer's output for input (0, 0), whatever W1 is:", hidden_at_origin.tolist())
print("the working version, without biases and then with them:")
runs_004 = seed_004_xor_no_bias.main()
no_bias = runs_004["no_bias"]
answer_at_origin = 1 / (1 + np.exp(-0.5 * no_bias["W2"].sum()))
print(f"σ(0.5 (w₁ + w₂)) = {answer_at_origin:.4f}, the trained no-bias answer for (0, 0)")
# --8<-- [end:seed004]


# --8<-- [start:plots]
def draw(out: Path) -> None:
    """Article 003's data and lines; the XOR answers of articles 002 and 004, before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.3), layout="constrained")
    data_label = "data: y = 3x + rand(100, 1)"
    ax.scatter(X_003.ravel(), y_003.ravel(), s=14, color="grey", label=data_label)
    line = np.array([0.0, 1.0])
    for name, label in [
        ("article", "article's settings, α = 0.01, 1000 steps"),
        ("no_bias_converged", "no bias, α = 1: converged"),
        ("with_bias", "with a bias, α = 1"),
    ]:
        run = runs_003[name]
        text = f"{label}: w = {run['w']:.2f}, b = {run['b']:.2f}"
        ax.plot(line, run["w"] * line + run["b"], linewidth=2, label=text)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Article 003: a line through the origin cannot fit y = 3x + 0.5")
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(out / "t02_seed_programs_regression.png", dpi=110)
    plt.close(fig)

    answers = {
        "002: article's η = 0.1, 1000 steps": runs_002["article"]["predictions"],
        "002: η = 2, 5000 steps": runs_002["fixed"]["predictions"],
        "004: article's network, no biases": runs_004["no_bias"]["predictions"],
        "004: with biases": runs_004["with_bias"]["predictions"],
    }
    fig, ax = plt.subplots(figsize=(7, 4.3), layout="constrained")
    width = 0.2
    positions = np.arange(4)
    for i, (label, values) in enumerate(answers.items()):
        ax.bar(positions + (i - 1.5) * width, values.ravel(), width, label=label)
    ax.axhline(0.5, color="grey", linestyle=":")
    targets = ["(0, 0): target 0", "(0, 1): target 1", "(1, 0): target 1", "(1, 1): target 0"]
    ax.set_xticks(positions, targets)
    ax.set_ylabel("network's answer")
    ax.set_ylim(0, 1.05)
    ax.set_title("XOR after training, articles 002 and 004: their settings, then fixed")
    ax.legend(fontsize=8, loc="upper center", ncols=2, bbox_to_anchor=(0.5, -0.1))
    fig.savefig(out / "t02_seed_programs_xor.png", dpi=110)
    plt.close(fig)
    print(f"\nwrote {out / 't02_seed_programs_regression.png'} and t02_seed_programs_xor.png")


# --8<-- [end:plots]

draw(OUT)
