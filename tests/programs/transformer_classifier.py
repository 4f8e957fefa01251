"""A small Transformer encoder that classifies token sequences: sinusoidal positional encoding
kept in a buffer, TransformerEncoderLayer (batch_first), a padding mask, AdamW and OneCycleLR."""

import math
import os

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)  # the same initial weights on every run of the test


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(1)].transpose(0, 1)


class TransformerClassifier(nn.Module):
    def __init__(self, ntoken, d_model=16, nhead=2, d_hid=32, nlayers=2, nclass=3):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, d_model, padding_idx=0)
        self.pos_encoder = PositionalEncoding(d_model)
        encoder_layers = nn.TransformerEncoderLayer(
            d_model, nhead, d_hid, dropout=0.0, batch_first=True
        )
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
        self.d_model = d_model
        self.classifier = nn.Linear(d_model, nclass)

    def forward(self, src, padding_mask):
        x = self.embedding(src) * math.sqrt(self.d_model)
        x = self.pos_encoder(x)
        x = self.transformer_encoder(x, src_key_padding_mask=padding_mask)
        keep = (~padding_mask).unsqueeze(-1).float()
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)
        return self.classifier(pooled)


rng = np.random.default_rng(0)
lengths = rng.integers(4, 12, 96)
tokens = np.zeros((96, 12), dtype=np.int64)
for i, n in enumerate(lengths):
    tokens[i, :n] = rng.integers(1, 20, n)
labels = torch.tensor((tokens % 3 == 0).sum(1) % 3)
src = torch.tensor(tokens)
padding_mask = src == 0

model = TransformerClassifier(ntoken=20)
path = os.environ["PROGRAM_WEIGHTS"]
if os.path.exists(path):
    model.load_state_dict({k: torch.tensor(v) for k, v in np.load(path).items()})
else:
    np.savez(path, **{k: v.detach().numpy() for k, v in model.state_dict().items()})

criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
epochs, batch_size = 4, 32
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=5e-3, epochs=epochs, steps_per_epoch=len(src) // batch_size
)
for epoch in range(epochs):
    model.train()
    for i in range(0, len(src), batch_size):
        optimizer.zero_grad()
        output = model(src[i : i + batch_size], padding_mask[i : i + batch_size])
        loss = criterion(output, labels[i : i + batch_size])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        scheduler.step()
    print(f"epoch {epoch}: loss {loss.item():.4f} lr {scheduler.get_last_lr()[0]:.5f}")
model.eval()
with torch.no_grad():
    final = criterion(model(src, padding_mask), labels)
print(f"final loss {final.item():.10e}")
