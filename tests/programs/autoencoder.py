"""A fully connected autoencoder on small synthetic images: encoder and decoder as Sequentials,
view(x.size(0), -1), MSELoss and Adam with weight decay."""

import os

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(0)
codes = rng.standard_normal((256, 3))
mixing = rng.standard_normal((3, 64))
images = 1 / (1 + np.exp(-(codes @ mixing)))
dataset = TensorDataset(torch.tensor(images, dtype=torch.float32).view(-1, 1, 8, 8))
dataloader = DataLoader(dataset, batch_size=32, shuffle=False)


class Autoencoder(nn.Module):
    def __init__(self):
        super(Autoencoder, self).__init__()
        self.encoder = nn.Sequential(
            nn.Linear(8 * 8, 32), nn.ReLU(True), nn.Linear(32, 12), nn.ReLU(True), nn.Linear(12, 3)
        )
        self.decoder = nn.Sequential(
            nn.Linear(3, 12),
            nn.ReLU(True),
            nn.Linear(12, 32),
            nn.ReLU(True),
            nn.Linear(32, 64),
            nn.Sigmoid(),
        )

    def forward(self, x):
        x = self.encoder(x)
        x = self.decoder(x)
        return x


model = Autoencoder()
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)

num_epochs = 6
for epoch in range(num_epochs):
    for data in dataloader:
        img = data[0]
        img = img.view(img.size(0), -1)
        output = model(img)
        loss = criterion(output, img)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print("epoch [{}/{}], loss:{:.4f}".format(epoch + 1, num_epochs, loss.data.item()))
print(f"final loss {loss.item():.10e}")
