"""Predicting the next value of noisy sine waves with an LSTM (batch_first), Adam and gradient
clipping."""

import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(0)
t = np.linspace(0, 8 * np.pi, 400)
waves = np.stack([np.sin(t + phase) for phase in rng.uniform(0, 2 * np.pi, 32)])
waves += 0.05 * rng.standard_normal(waves.shape)
seq_len = 20
windows = np.stack([waves[:, i : i + seq_len + 1] for i in range(0, 360, 12)], axis=1)
windows = windows.reshape(-1, seq_len + 1).astype(np.float32)
x = torch.from_numpy(windows[:, :-1]).unsqueeze(-1)
y = torch.from_numpy(windows[:, -1:])
print("inputs", tuple(x.shape), "targets", tuple(y.shape))


class SineLSTM(nn.Module):
    def __init__(self, input_size=1, hidden_size=24, num_layers=2):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return self.fc(out[:, -1, :])


model = SineLSTM()
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})

criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
batch_size = 64
for epoch in range(4):
    epoch_loss = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        epoch_loss += loss.item() * len(xb)
    print(f"epoch {epoch}: {epoch_loss / len(x):.5f}")
model.eval()
with torch.no_grad():
    final = criterion(model(x), y)
print(f"final loss {final.item():.10e}")
