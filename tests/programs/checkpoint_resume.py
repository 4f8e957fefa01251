"""Training, saving a checkpoint with torch.save, and resuming into a fresh model and optimizer
with torch.load and load_state_dict: the resumed run continues where the first one stopped."""

import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

torch.manual_seed(0)  # the same initial weights on every run of the test

rng = np.random.default_rng(0)
X = torch.tensor(rng.standard_normal((128, 6)), dtype=torch.float32)
Y = torch.tensor(rng.standard_normal((128, 2)), dtype=torch.float32)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 16)
        self.bn = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        return self.out(torch.relu(self.bn(self.hidden(x))))


def train_epochs(model, optimizer, scheduler, epochs):
    for epoch in range(epochs):
        for start in range(0, 128, 32):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(X[start : start + 32]), Y[start : start + 32])
            loss.backward()
            optimizer.step()
        scheduler.step()
    return loss


model = Regressor()
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
scheduler = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
loss = train_epochs(model, optimizer, scheduler, 3)

checkpoint_path = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
torch.save(
    {
        "epoch": 3,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": scheduler.state_dict(),
        "loss": loss.item(),
    },
    checkpoint_path,
)
print("saved epoch 3, loss", loss.item())

resumed = Regressor()
resumed_optimizer = optim.SGD(resumed.parameters(), lr=0.05, momentum=0.9, nesterov=True)
resumed_scheduler = optim.lr_scheduler.ExponentialLR(resumed_optimizer, gamma=0.9)
checkpoint = torch.load(checkpoint_path, weights_only=True)
resumed.load_state_dict(checkpoint["model_state_dict"])
resumed_optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
resumed_scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
epoch = checkpoint["epoch"]
resumed.train()
loss = train_epochs(resumed, resumed_optimizer, resumed_scheduler, 3)
straight = train_epochs(model, optimizer, scheduler, 3)
assert loss.item() == straight.item(), (loss.item(), straight.item())
print(f"resumed from epoch {epoch}: loss {loss.item():.6f}")
print(f"final loss {loss.item():.10e}")
