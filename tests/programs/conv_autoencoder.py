"""A convolutional autoencoder: Conv2d and BatchNorm2d down, ConvTranspose2d up, Dropout2d in
evaluation only, trained with Adam and a cosine schedule with warm restarts."""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)  # the same initial weights on every run of the test

rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:12, 0:12]
centres = rng.uniform(3, 9, (64, 2))
images = np.exp(-((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2) / 6.0)
images = torch.tensor(images[:, None], dtype=torch.float32)


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 8, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.enc2 = nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1)
        self.drop = nn.Dropout2d(0.2)
        self.dec1 = nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1, output_padding=1)
        self.dec2 = nn.Conv2d(8, 1, kernel_size=3, padding="same", padding_mode="replicate")

    def forward(self, x):
        x = F.relu(self.bn1(self.enc1(x)))
        x = F.relu(self.enc2(x))
        if not self.training:
            x = self.drop(x)
        x = F.relu(self.dec1(x))
        return torch.sigmoid(self.dec2(x))


model = ConvAutoencoder()
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=4, T_mult=2)
criterion = nn.MSELoss()
iters = 4
for epoch in range(6):
    model.train()
    for i in range(iters):
        batch = images[i * 16 : (i + 1) * 16]
        optimizer.zero_grad()
        loss = criterion(model(batch), batch)
        loss.backward()
        optimizer.step()
        scheduler.step(epoch + i / iters)
    print(f"epoch {epoch}: loss {loss.item():.5f}")
model.eval()
with torch.no_grad():
    final = criterion(model(images), images)
print(f"final loss {final.item():.10e}")
