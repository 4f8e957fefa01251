"""Binary classification of two clusters as beginner courses write it: torch.cat of two clusters,
a Sigmoid output, BCELoss, and accuracy from ge(0.5)."""

import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)  # the same initial weights on every run of the test

rng = np.random.default_rng(0)
n_data = torch.ones(100, 2)
x0 = torch.tensor(rng.normal(2, 1, (100, 2)), dtype=torch.float32) + 0 * n_data
y0 = torch.zeros(100)
x1 = torch.tensor(rng.normal(-2, 1, (100, 2)), dtype=torch.float32)
y1 = torch.ones(100)
x = torch.cat((x0, x1), 0).type(torch.FloatTensor)
y = torch.cat(
    (y0, y1),
).type(torch.FloatTensor)


class Net(torch.nn.Module):
    def __init__(self, n_feature, n_hidden, n_output):
        super(Net, self).__init__()
        self.hidden = torch.nn.Linear(n_feature, n_hidden)
        self.out = torch.nn.Linear(n_hidden, n_output)

    def forward(self, x):
        x = F.relu(self.hidden(x))
        x = torch.sigmoid(self.out(x))
        return x


net = Net(n_feature=2, n_hidden=10, n_output=1)
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    net.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in net.state_dict().items()})
print(net)

optimizer = torch.optim.SGD(net.parameters(), lr=0.02)
loss_func = torch.nn.BCELoss()

for t in range(100):
    out = net(x).squeeze(1)
    loss = loss_func(out, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if t % 25 == 0:
        prediction = out.ge(0.5).float()
        accuracy = (prediction == y).sum().item() / y.size(0)
        print("step %d loss %.4f accuracy %.2f" % (t, loss.item(), accuracy))
print(f"final loss {loss.item():.10e}")
