"""A GAN that learns a 2-d ring: generator and discriminator MLPs, BCELoss, two Adam optimizers
with betas=(0.5, 0.999), fake.detach() for the discriminator step."""

import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)  # the same initial weights on every run of the test

cuda = True if torch.cuda.is_available() else False
Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor
latent_dim = 4
rng = np.random.default_rng(0)


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(latent_dim, 32),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(32, 32),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(32, 2),
        )

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            nn.Linear(2, 32), nn.LeakyReLU(0.2, inplace=True), nn.Linear(32, 1), nn.Sigmoid()
        )

    def forward(self, x):
        return self.model(x)


generator = Generator()
discriminator = Discriminator()
path = os.environ["PROGRAM_WEIGHTS"]
both = {"g." + k: v for k, v in generator.state_dict().items()}
both.update({"d." + k: v for k, v in discriminator.state_dict().items()})
if os.path.exists(path):
    saved = np.load(path)
    generator.load_state_dict({k[2:]: torch.tensor(saved[k]) for k in saved if k[0] == "g"})
    discriminator.load_state_dict({k[2:]: torch.tensor(saved[k]) for k in saved if k[0] == "d"})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in both.items()})

adversarial_loss = torch.nn.BCELoss()
optimizer_G = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))

batch_size = 64
for i in range(25):
    angles = rng.uniform(0, 2 * np.pi, batch_size)
    real_points = Tensor(np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32))
    valid = Tensor(batch_size, 1).fill_(1.0)
    fake = Tensor(batch_size, 1).fill_(0.0)

    optimizer_G.zero_grad()
    z = Tensor(rng.normal(0, 1, (batch_size, latent_dim)).astype(np.float32))
    gen_points = generator(z)
    g_loss = adversarial_loss(discriminator(gen_points), valid)
    g_loss.backward()
    optimizer_G.step()

    optimizer_D.zero_grad()
    real_loss = adversarial_loss(discriminator(real_points), valid)
    fake_loss = adversarial_loss(discriminator(gen_points.detach()), fake)
    d_loss = (real_loss + fake_loss) / 2
    d_loss.backward()
    optimizer_D.step()
    if i % 5 == 0:
        print("[Batch %d] [D loss: %f] [G loss: %f]" % (i, d_loss.item(), g_loss.item()))
print(f"final loss {d_loss.item() + g_loss.item():.10e}")
