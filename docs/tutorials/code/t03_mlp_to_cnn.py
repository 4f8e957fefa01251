"""Tutorial 3: from an MLP to a CNN on the 8×8 digits, and what a convolution's backward computes.

The script

1. trains an MLP (64-64-10) on scikit-learn's 8×8 digits with ``chainrule.train.fit``;
2. trains a small CNN (two Conv2d-ReLU-MaxPool2d blocks and a Linear) the same way, and
   compares test accuracy, accuracy on images shifted by one pixel, and parameter counts;
3. writes out the backward pass of a convolution in NumPy (δ of the layer below: a full
   correlation of δ with the flipped kernel; ∂C/∂W: a correlation of the input with δ) and
   checks it against autodiff on the trained CNN;
4. prints ``chainrule.inspect.trace``'s table and explanation of a convolutional layer;
5. draws the loss curves and the learned filters.

    python docs/tutorials/code/t03_mlp_to_cnn.py [--out DIR]

Pictures go to DIR (default: docs/images in the repository). Everything is seeded.
"""

# --8<-- [start:setup]
import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import TensorDataset, digits
from chainrule.inspect import trace
from chainrule.train import evaluate, fit

EPOCHS, LR, SEED = 20, 1e-2, 0

train, test = digits()  # x (N, 64) in [0, 1], y (N,) in 0..9; a stratified 80/20 split
x_train, y_train = train.tensors
x_test, y_test = test.tensors
print(f"digits: {len(train)} training and {len(test)} test images, x {tuple(x_train.shape)}")
# --8<-- [end:setup]


def output_folder() -> Path:
    """--out DIR, by default docs/images of the repository this file is in."""
    parser = argparse.ArgumentParser(description="Tutorial 3: from an MLP to a CNN.")
    default = Path(__file__).resolve().parents[3] / "docs" / "images"
    parser.add_argument("--out", type=Path, default=default, help="folder for the pictures")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out


OUT = output_folder()


# --8<-- [start:mlp]
def train_model(model: nn.Module, data: TensorDataset, val: TensorDataset) -> cr.train.History:
    """Adam, cross-entropy, EPOCHS epochs of batches of 32; the test set only watched."""
    optimizer = optim.Adam(model.parameters(), lr=LR)
    return fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        data,
        epochs=EPOCHS,
        val_data=val,
        metrics=["accuracy"],
        progress=False,
        seed=SEED,
    )


cr.manual_seed(SEED)
mlp = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
mlp_summary = cr.summary(mlp, input_size=(1, 64), verbose=0)
mlp_history = train_model(mlp, train, test)
mlp_accuracy = evaluate(mlp, test, metrics=["accuracy"])["accuracy"]
mlp_test_loss = mlp_history.history["val_loss"][-1]
print(f"MLP: {mlp_summary.total_params:,} parameters, test accuracy {mlp_accuracy:.4f}, ", end="")
print(f"test loss {mlp_test_loss:.3f}")
# --8<-- [end:mlp]

# --8<-- [start:cnn]
# A CNN reads images: (N, 64) rows become (N, 1, 8, 8), one channel of 8×8 pixels.
images_train = TensorDataset(x_train.reshape(-1, 1, 8, 8), y_train)
images_test = TensorDataset(x_test.reshape(-1, 1, 8, 8), y_test)

cr.manual_seed(SEED)
cnn = nn.Sequential(
    nn.Conv2d(1, 8, kernel_size=3, padding=1),  # 8 filters of 3×3: (N, 8, 8, 8)
    nn.ReLU(),
    nn.MaxPool2d(2),  # (N, 8, 4, 4)
    nn.Conv2d(8, 16, kernel_size=3, padding=1),  # (N, 16, 4, 4)
    nn.ReLU(),
    nn.MaxPool2d(2),  # (N, 16, 2, 2)
    nn.Flatten(),  # (N, 64)
    nn.Linear(64, 10),
)
cnn_summary = cr.summary(cnn, input_size=(1, 1, 8, 8), verbose=0)
print(cnn_summary)
cnn_history = train_model(cnn, images_train, images_test)
cnn_accuracy = evaluate(cnn, images_test, metrics=["accuracy"])["accuracy"]
cnn_test_loss = cnn_history.history["val_loss"][-1]
print(f"CNN: {cnn_summary.total_params:,} parameters, test accuracy {cnn_accuracy:.4f}, ", end="")
print(f"test loss {cnn_test_loss:.3f}")
# --8<-- [end:cnn]


# --8<-- [start:shift]
def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N, 8, 8) images moved dy rows down and dx columns right, zeros filling the gap."""
    moved = np.zeros_like(images)
    rows_to, rows_from = slice(max(dy, 0), 8 + min(dy, 0)), slice(max(-dy, 0), 8 + min(-dy, 0))
    cols_to, cols_from = slice(max(dx, 0), 8 + min(dx, 0)), slice(max(-dx, 0), 8 + min(-dx, 0))
    moved[:, rows_to, cols_to] = images[:, rows_from, cols_from]
    return moved


def shifted_accuracy(model: nn.Module, as_images: bool) -> float:
    """Mean test accuracy over the four one-pixel shifts: up, down, left, right."""
    images = x_test.numpy().reshape(-1, 8, 8)
    scores = []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        moved = shifted(images, dy, dx)
        x = moved.reshape(-1, 1, 8, 8) if as_images else moved.reshape(-1, 64)
        scores.append(evaluate(model, (cr.tensor(x), y_test), metrics=["accuracy"])["accuracy"])
    return float(np.mean(scores))


mlp_shifted, cnn_shifted = shifted_accuracy(mlp, False), shifted_accuracy(cnn, True)
print(f"shifted by one pixel: MLP accuracy {mlp_shifted:.4f}, CNN accuracy {cnn_shifted:.4f}")
# --8<-- [end:shift]


# --8<-- [start:conv_backward]
def conv_input_gradient(delta: np.ndarray, W: np.ndarray, padding: int) -> np.ndarray:
    """∂C/∂a for z = W ⋆ a + b (stride 1): δ padded by k − 1 on every side, correlated with
    the kernel turned by 180°, summed over output channels; the padding then cut off.

    delta (N, C_out, H, W), W (C_out, C_in, k, k) → (N, C_in, H + k − 1 − 2·padding, ...).
    """
    k = W.shape[-1]
    full = np.pad(delta, [(0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)])
    flipped = W[:, :, ::-1, ::-1]
    n, _, h, w = delta.shape
    height, width = h + k - 1, w + k - 1  # the padded input's size
    grad = np.zeros((n, W.shape[1], height, width))
    for u in range(k):
        for v in range(k):
            window = full[:, :, u : u + height, v : v + width]
            grad += np.einsum("nohw,oc->nchw", window, flipped[:, :, u, v])
    return grad[:, :, padding : height - padding, padding : width - padding]


def conv_weight_gradient(a: np.ndarray, delta: np.ndarray, padding: int) -> np.ndarray:
    """∂C/∂W[o, c, u, v] = Σₙ Σᵢⱼ δ[n, o, i, j] · a[n, c, i + u, j + v] (a zero-padded):
    the input correlated with δ, δ playing the kernel. a (N, C_in, H, W) → (C_out, C_in, k, k)."""
    padded = np.pad(a, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    h, w = delta.shape[2:]
    k = padded.shape[2] - h + 1
    grad = np.zeros((delta.shape[1], a.shape[1], k, k))
    for u in range(k):
        for v in range(k):
            grad[:, :, u, v] = np.einsum("nohw,nchw->oc", delta, padded[:, :, u : u + h, v : v + w])
    return grad


def max_pool_backward(grad_pooled: np.ndarray, a: np.ndarray, size: int = 2) -> np.ndarray:
    """Each pooled gradient goes back to the position that held its window's maximum (the
    first one, in reading order, where several positions tie, as PyTorch does).

    grad_pooled (N, C, H/size, W/size), a (N, C, H, W), the pool's input → (N, C, H, W)."""
    n, c, h, w = a.shape
    windows = a.reshape(n, c, h // size, size, w // size, size).transpose(0, 1, 2, 4, 3, 5)
    first_max = windows.reshape(n, c, h // size, w // size, size * size).argmax(axis=-1)
    chosen = np.eye(size * size)[first_max] * grad_pooled[..., None]  # one-hot, scaled
    chosen = chosen.reshape(n, c, h // size, w // size, size, size).transpose(0, 1, 2, 4, 3, 5)
    return chosen.reshape(n, c, h, w)


# --8<-- [end:conv_backward]

# --8<-- [start:check]
# One batch through the trained CNN layer by layer, keeping every intermediate gradient.
x, y = images_test.tensors[0][:32], y_test[:32]
conv1, relu1, pool1, conv2 = cnn[0], cnn[1], cnn[2], cnn[3]
cnn.zero_grad()
z1 = conv1(x)
a1 = relu1(z1)
p1 = pool1(a1)
z2 = conv2(p1)
for tensor in (z1, p1, z2):
    tensor.retain_grad()
loss = nn.CrossEntropyLoss()(cnn[4:](z2), y)
loss.backward()

delta2, W2 = z2.grad.numpy(), conv2.weight.detach().numpy()
grad_p1 = conv_input_gradient(delta2, W2, padding=1)  # ∂C/∂p¹ = δ² ⋆full rot180(W²)
delta1 = max_pool_backward(grad_p1, a1.detach().numpy()) * (z1.detach().numpy() > 0)
grad_W2 = conv_weight_gradient(p1.detach().numpy(), delta2, padding=1)  # p¹ ⋆ δ²
grad_b2 = delta2.sum(axis=(0, 2, 3))


print(f"loss on 32 test images: {loss.item():.4f}")
checks = {
    "∂C/∂p¹ = δ² fully correlated with rot180(W²)": (grad_p1, p1.grad),
    "δ¹ = (∂C/∂p¹ back through max-pool) ⊙ ReLU′(z¹)": (delta1, z1.grad),
    "∂C/∂W² = p¹ correlated with δ²": (grad_W2, conv2.weight.grad),
    "∂C/∂b² = Σ δ² over samples and positions": (grad_b2, conv2.bias.grad),
}
for name, (mine, autodiff) in checks.items():
    difference = np.abs(mine - autodiff.numpy()).max()
    print(f"{name:50s} {mine.shape!s:15s} largest difference from autodiff {difference:.1e}")
# --8<-- [end:check]

# --8<-- [start:trace]
step = trace(cnn, x, y, nn.CrossEntropyLoss())
print(step.table())
print(step.explain("3"))  # the second Conv2d, named "3" in the Sequential
# --8<-- [end:trace]


# --8<-- [start:pictures]
def draw_loss_curves(path: Path) -> None:
    """Training and test loss per epoch, and test accuracy, for both networks."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_axes, accuracy_axes = fig.subplots(1, 2)
    epochs = np.arange(1, EPOCHS + 1)
    for name, history, colour in (("MLP", mlp_history, "C0"), ("CNN", cnn_history, "C1")):
        logs = history.history
        loss_axes.plot(epochs, logs["loss"], color=colour, label=f"{name}, training")
        loss_axes.plot(epochs, logs["val_loss"], color=colour, ls="--", label=f"{name}, test")
        accuracy_axes.plot(epochs, logs["val_accuracy"], color=colour, marker="o", ms=3, label=name)
    loss_axes.set(yscale="log", xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="test accuracy", ylim=(0.75, 1.0))
    for axes in (loss_axes, accuracy_axes):
        axes.set_xticks(range(0, EPOCHS + 1, 5))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    fig.savefig(path, dpi=100)


def draw_filters(path: Path) -> None:
    """Eight MLP hidden units' weights (8×8), the CNN's eight first-layer 3×3 filters, and
    what those filters make of one test digit (the ReLU outputs, 8×8 each)."""
    from matplotlib.figure import Figure

    digit = x_test[:1].reshape(1, 1, 8, 8)
    with cr.no_grad():
        maps = cnn[1](cnn[0](digit)).numpy()[0]
    rows = (
        ("MLP: the 64 weights\nof one hidden unit", mlp[0].weight.detach().numpy()[:8]),
        ("CNN: the first\nConv2d's 3×3 filters", cnn[0].weight.detach().numpy()[:, 0]),
        ("ReLU(filter ⋆ digit):\nthe 8 feature maps", maps),
    )
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    grid = fig.subplots(3, 9)
    for r, (label, pictures) in enumerate(rows):
        for axes, picture in zip(grid[r, 1:], pictures):
            picture = picture.reshape(-1, picture.shape[-1]) if r else picture.reshape(8, 8)
            limit = np.abs(picture).max() or 1.0
            if r < 2:  # weights: red positive, blue negative, white zero
                axes.imshow(picture, cmap="RdBu_r", vmin=-limit, vmax=limit)
            else:
                axes.imshow(picture, cmap="viridis", vmin=0.0, vmax=limit)
        grid[r, 1].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    grid[2, 0].imshow(digit.numpy()[0, 0], cmap="gray_r")
    grid[2, 0].set_title(f"input: a {int(y_test[0])}", fontsize=9)
    for axes in grid.flat:
        axes.set_xticks([])
        axes.set_yticks([])
    for axes in grid[:2, 0]:
        axes.axis("off")
    fig.suptitle(f"learned weights after {EPOCHS} epochs (seed {SEED})")
    fig.savefig(path, dpi=100)


draw_loss_curves(OUT / "t03_mlp_to_cnn_loss.png")
draw_filters(OUT / "t03_mlp_to_cnn_filters.png")
print("pictures written to", OUT)
# --8<-- [end:pictures]
