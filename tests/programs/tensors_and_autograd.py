"""The first lessons: a cubic polynomial fitted to sin(x) with bare tensors, autograd and a
manual update inside torch.no_grad()."""

import math

import torch

torch.manual_seed(0)  # the same initial weights on every run of the test

dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype, device=device)
y = torch.sin(x)

a = torch.tensor(0.1, dtype=dtype, device=device, requires_grad=True)
b = torch.tensor(0.5, dtype=dtype, device=device, requires_grad=True)
c = torch.zeros((), dtype=dtype, device=device, requires_grad=True)
d = torch.zeros((), dtype=dtype, device=device, requires_grad=True)

learning_rate = 1e-6
for t in range(500):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[b.item(), c.item(), d.item()]]))
    model[0].bias.fill_(a.item())
loss_fn = torch.nn.MSELoss(reduction="sum")
for t in range(200):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
linear_layer = model[0]
print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x")
print(f"final loss {loss.item():.10e}")
