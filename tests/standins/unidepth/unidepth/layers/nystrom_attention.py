"""Stand-in of ``unidepth/layers/nystrom_attention.py``: the same xformers trap as upstream.

Without ``xformers.components`` (removed after xformers 0.0.28) upstream defines a plain
``NystromAttention`` class whose call raises NotImplementedError, and V1's blocks keep one as
``attention_fn``; the block shapes q, k, v as (batch, tokens, heads, head_dim).
"""

import torch
import torch.nn as nn

try:
    from xformers.components.attention import NystromAttention
except ImportError:
    class NystromAttention:
        def __init__(self, *args, **kwargs):
            pass

        def __call__(self, *args, **kwargs):
            raise NotImplementedError("NystromAttention is not available, please install xformers to use it.")


class NystromBlock(nn.Module):
    """Attention over the heads axis of each token, as upstream's NystromBlock.attn calls it."""

    def __init__(self, dim: int = 8, num_heads: int = 4):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.attention_fn = NystromAttention(num_landmarks=128, num_heads=num_heads, dropout=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.num_heads
        k, v = self.kv(x).reshape(b, n, 2, h, c // h).unbind(dim=2)
        q = self.q(x).reshape(b, n, h, c // h)
        y = self.attention_fn(q, k, v, key_padding_mask=None)
        return self.out(y.reshape(b, n, c))
