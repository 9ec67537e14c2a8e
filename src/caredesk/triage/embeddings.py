"""The optional sentence-embedding backend: a local BERT-family sentence-transformers model directory
(`CAREDESK_EMBEDDING_MODEL=/path/to/dir`), run with numpy alone.

The directory is read, never fetched: weights from `model.safetensors` (plain tensors, no code), the
tokenizer from `tokenizer.json`, the shape from `config.json`, pooling from `1_Pooling/config.json`.
Where it is configured, a workspace's own topics are matched by embedding similarity instead of n-grams.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

ENV = "CAREDESK_EMBEDDING_MODEL"


class EncoderError(Exception):
    pass


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b  # type: ignore[no-any-return]


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # noqa: PLC0415

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))  # type: ignore[no-any-return]


class SentenceEncoder:
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a hub
        from safetensors.numpy import load_file  # noqa: PLC0415
        from tokenizers import Tokenizer  # noqa: PLC0415

        self.folder = Path(folder)
        try:
            config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
            pooling = json.loads((self.folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
            st_config = self.folder / "sentence_bert_config.json"
            max_len = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length", 256))
            self.w: dict[str, np.ndarray] = load_file(str(self.folder / "model.safetensors"))
            self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as exc:
            raise EncoderError(f"{self.folder} is not a sentence-embedding model directory: {exc}") from exc
        if config.get("model_type") != "bert" or not pooling.get("pooling_mode_mean_tokens"):
            raise EncoderError("only BERT-family models with mean pooling are supported")
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.tokenizer.enable_truncation(max_length=min(max_len, int(config["max_position_embeddings"])))
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def encode(self, texts: list[str], batch: int = 32) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        out = [self._encode(texts[i : i + batch]) for i in range(0, len(texts), batch)]
        return np.vstack(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        w = self.w
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc])
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dim // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9

        def lin(h: np.ndarray, name: str) -> np.ndarray:
            return h @ w[f"{name}.weight"].T + w[f"{name}.bias"]  # type: ignore[no-any-return]

        def split(h: np.ndarray) -> np.ndarray:
            return h.reshape(n, length, self.heads, head_dim).transpose(0, 2, 1, 3)

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = split(lin(x, f"{p}.attention.self.query"))
            k = split(lin(x, f"{p}.attention.self.key"))
            v = split(lin(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dim)
            x = _layer_norm(
                lin(ctx, f"{p}.attention.output.dense") + x,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = _gelu(lin(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                lin(h, f"{p}.output.dense") + x,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)  # type: ignore[no-any-return]


_ENCODERS: dict[str, SentenceEncoder] = {}


def configured() -> SentenceEncoder | None:
    """The encoder named by CAREDESK_EMBEDDING_MODEL, loaded once; None when not configured."""
    folder = os.environ.get(ENV)
    if not folder:
        return None
    if folder not in _ENCODERS:
        _ENCODERS[folder] = SentenceEncoder(folder)
    return _ENCODERS[folder]


def describe(enc: SentenceEncoder | None) -> dict[str, Any]:
    return {"backend": "n-grams"} if enc is None else {"backend": "embeddings", "model": str(enc.folder)}
