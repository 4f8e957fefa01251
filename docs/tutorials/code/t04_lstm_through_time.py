"""Tutorial 4: sequences with an LSTM, and backpropagation through time seen step by step.

The task needs memory: each sequence is T = 20 random symbols out of 4 (one-hot), and the
network must say, after reading the whole sequence, which symbol came first. The script

1. trains a plain RNN, an LSTM as PyTorch initialises it, and an LSTM whose forget gates
   start open (forget-gate bias 3) with ``chainrule.train.fit``, and compares them;
2. traces the untrained networks with ``chainrule.inspect.trace`` and prints ‖∂C/∂h_t‖ for
   every step t: how much of the loss's gradient gets back to the first symbol;
3. prints the equations of backpropagation through time for one step of the trained LSTM,
   with its numbers, each checked against autodiff (``Trace.explain(layer, step=t)``);
4. draws the loss curves and ‖∂C/∂h_t‖ over t before and after training.

    python docs/tutorials/code/t04_lstm_through_time.py [--out DIR]

Pictures go to DIR (default: docs/images in the repository). Everything is seeded.
"""

# --8<-- [start:setup]
import argparse
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.inspect import trace
from chainrule.plot import gradient_through_time
from chainrule.train import evaluate, fit

STEPS, SYMBOLS, HIDDEN = 20, 4, 24  # T, the alphabet, the hidden units
EPOCHS, LR, SEED = 12, 1e-2, 0


def first_symbol_task(n: int, rng: np.random.Generator) -> tuple[cr.Tensor, cr.Tensor]:
    """n sequences of STEPS one-hot symbols, x (n, STEPS, SYMBOLS), and y (n,): the first."""
    symbols = rng.integers(0, SYMBOLS, size=(n, STEPS))
    x = np.eye(SYMBOLS, dtype=np.float32)[symbols]
    return cr.tensor(x), cr.tensor(symbols[:, 0])


rng = np.random.default_rng(SEED)
x_train, y_train = first_symbol_task(2000, rng)
x_test, y_test = first_symbol_task(500, rng)
print(f"x {tuple(x_train.shape)} (sequences, steps, symbols); the first sequence's symbols:")
print(x_train[0].numpy().argmax(axis=1).tolist(), "-> target", int(y_train[0]))
# --8<-- [end:setup]


def output_folder() -> Path:
    """--out DIR, by default docs/images of the repository this file is in."""
    parser = argparse.ArgumentParser(description="Tutorial 4: an LSTM through time.")
    default = Path(__file__).resolve().parents[3] / "docs" / "images"
    parser.add_argument("--out", type=Path, default=default, help="folder for the pictures")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    return out


OUT = output_folder()


# --8<-- [start:models]
class LastStep(nn.Module):
    """A recurrent layer read once, after the last step, by a linear layer: the logits."""

    def __init__(self, recurrent: nn.Module) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.head = nn.Linear(HIDDEN, SYMBOLS)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        output, _ = self.recurrent(x)  # output (N, STEPS, HIDDEN): h_t for every t
        return self.head(output[:, -1])


def make_model(kind: str) -> LastStep:
    """ "RNN": a tanh RNN; "LSTM": an LSTM as PyTorch initialises it; "LSTM, forget bias 3":
    the same LSTM with its forget gates' bias set to 3, so that f = σ(…) starts near 0.95."""
    cr.manual_seed(SEED)
    if kind == "RNN":
        return LastStep(nn.RNN(SYMBOLS, HIDDEN, batch_first=True))
    lstm = nn.LSTM(SYMBOLS, HIDDEN, batch_first=True)
    if kind == "LSTM, forget bias 3":
        with cr.no_grad():  # the gate rows are i, f, g, o, HIDDEN each (PyTorch's order)
            lstm.bias_ih_l0[HIDDEN : 2 * HIDDEN] = 3.0
    return LastStep(lstm)


KINDS = ("RNN", "LSTM", "LSTM, forget bias 3")
# --8<-- [end:models]

# --8<-- [start:train]
models, histories = {}, {}
for kind in KINDS:
    model = make_model(kind)
    histories[kind] = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=LR),
        (x_train, y_train),
        epochs=EPOCHS,
        batch_size=64,
        val_data=(x_test, y_test),
        metrics=["accuracy"],
        progress=False,
        seed=SEED,
    )
    models[kind] = model
    losses = histories[kind].history["loss"]
    accuracy = evaluate(model, (x_test, y_test), metrics=["accuracy"])["accuracy"]
    print(f"{kind:20s} training loss {losses[0]:.3f} -> {losses[-1]:.4f}, ", end="")
    print(f"test accuracy {accuracy:.3f}")
print(f"(guessing: loss ln 4 = {np.log(SYMBOLS):.3f}, accuracy 0.25)")
# --8<-- [end:train]

# --8<-- [start:through_time]
x_batch, y_batch = x_test[:64], y_test[:64]


def traced(model: LastStep) -> cr.inspect.Trace:
    """One forward and backward pass on 64 test sequences, every step recorded."""
    return trace(model, x_batch, y_batch, nn.CrossEntropyLoss())


before = {kind: traced(make_model(kind)).layer("recurrent") for kind in KINDS}
after = {kind: traced(models[kind]).layer("recurrent") for kind in KINDS}
for label, records in (("untrained", before), ("trained", after)):
    print(f"{label}: ‖∂C/∂h_t‖ at the last step t = {STEPS - 1} and at the first, t = 0")
    for kind, record in records.items():
        norms = record.time_norms()["δh"]
        ratio = norms[0] / norms[-1]
        print(f"  {kind:20s} {norms[-1]:.3g} and {norms[0]:.3g}: ratio {ratio:.2g}")
# --8<-- [end:through_time]

# --8<-- [start:forget]
# δc_{t−1} = δc_t ⊙ f_t + (what comes from h_{t−1}): each step back multiplies by f.
for label, records in (("untrained", before), ("trained", after)):
    for kind in ("LSTM", "LSTM, forget bias 3"):
        mean_f = records[kind].gates["f"].mean()  # gates["f"]: (STEPS, N, HIDDEN), f = σ(…)
        print(f"{label:9s} {kind:20s} mean forget gate f = {mean_f:.3f}, ", end="")
        print(f"f^{STEPS - 1} = {mean_f ** (STEPS - 1):.2g}")
w_before = before["RNN"].w_hh
w_after = after["RNN"].w_hh
for label, w in (("untrained", w_before), ("trained", w_after)):
    print(
        f"{label} RNN: largest singular value of W_hh {np.linalg.svd(w, compute_uv=False)[0]:.2f}"
    )
# --8<-- [end:forget]

# --8<-- [start:step_by_step]
lstm_step = trace(models["LSTM, forget bias 3"], x_test[:1], y_test[:1], nn.CrossEntropyLoss())
record = lstm_step.layer("recurrent")
print(lstm_step.table())
print()
print("t   ‖δh_t‖     ‖δc_t‖     mean f_t   (the trained LSTM, one test sequence)")
for t in range(STEPS):
    dh, dc = np.linalg.norm(record.delta[t]), np.linalg.norm(record.delta_c[t])
    print(f"{t:<3d} {dh:.3e}  {dc:.3e}  {record.gates['f'][t].mean():.3f}")
explanation = lstm_step.explain("recurrent", step=0)
print(explanation)
checked = explanation.count("✓"), explanation.count("✗")
print(f"equations checked against autodiff: {checked[0]} match, {checked[1]} differ")
# --8<-- [end:step_by_step]


# --8<-- [start:pictures]
def draw_losses(path: Path) -> None:
    """Training loss and test accuracy per epoch, one line per network."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_axes, accuracy_axes = fig.subplots(1, 2)
    epochs = np.arange(1, EPOCHS + 1)
    for colour, (kind, history) in enumerate(histories.items()):
        logs = history.history
        loss_axes.plot(epochs, logs["loss"], color=f"C{colour}", marker="o", ms=3, label=kind)
        accuracy_axes.plot(epochs, logs["val_accuracy"], color=f"C{colour}", marker="o", ms=3)
    loss_axes.axhline(np.log(SYMBOLS), color="gray", ls=":", label="guessing, ln 4")
    loss_axes.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="training loss")
    accuracy_axes.axhline(1 / SYMBOLS, color="gray", ls=":")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="test accuracy", ylim=(0, 1.05))
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
    loss_axes.legend(fontsize="small")
    fig.suptitle(f"which symbol came first, {STEPS} steps back (seed {SEED})")
    fig.savefig(path, dpi=100)


draw_losses(OUT / "t04_lstm_through_time_loss.png")
gradient_through_time(
    before, OUT / "t04_lstm_through_time_before.png", title="untrained: ‖∂C/∂h_t‖ per step"
)
gradient_through_time(
    after, OUT / "t04_lstm_through_time_after.png", title="trained: ‖∂C/∂h_t‖ per step"
)
print("pictures written to", OUT)
# --8<-- [end:pictures]
