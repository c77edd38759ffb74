"""Continued masked-LM training of the MiniLM + MLM head on the English text bundled with the repo.

Used by scripts/train_mlm_head.py (and benchmarks/fill_mask.py for the held-out accuracy).
Loss and logits are computed only at the chosen (masked) positions: the decoder is a
(C x 30522) matrix, so skipping the other ~85% of positions makes a step several times cheaper.
"""
from __future__ import annotations

import bz2
import math
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.transformers.fillmask import MLMHeadConfig, corrupt, trainable_names

SOURCES = ("tatoeba", "shakespeare", "lee", "wiki", "misc")  # names of the text sources


def _gensim_data(name: str) -> Path | None:
    from core.corpora import gensim_test_file

    try:
        p = gensim_test_file(name)
    except ValueError:  # gensim missing: that source is skipped
        return None
    return p if p.exists() else None


def _wiki_articles(path: Path) -> list[str]:
    """Plain text of the articles in gensim's shortened English Wikipedia dump (markup stripped)."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    out = []
    with bz2.open(path, "rb") as fh:
        for title, text, _pid in extract_pages(fh, filter_namespaces=("0",)):
            if not text or text.lstrip().lower().startswith("#redirect"):
                continue
            plain = filter_wiki(text)
            lines = []
            for line in plain.splitlines():
                line = line.strip()
                # keep prose lines; drop headings, list stubs, table/category debris
                if len(line) < 40 or line.startswith(("=", "*", "|", "!", "{", "Category:", "thumb")):
                    continue
                line = re.sub(r"\s+", " ", line.replace("'''", "").replace("''", ""))
                lines.append(line)
            if lines:
                out.append(" ".join(lines))
    return out


def english_texts() -> dict[str, tuple[list[str], list[str]]]:
    """{source: (train documents, held-out documents)} with fixed splits, no held-out text in train."""
    from core import corpora

    out: dict[str, tuple[list[str], list[str]]] = {}
    pairs = corpora.tatoeba("zh") + corpora.tatoeba("fr")
    tr, va = corpora.split_pairs(pairs)
    va_s = list(dict.fromkeys(p[0] for p in va))
    held = set(va_s)
    tr_s = [s for s in dict.fromkeys(p[0] for p in tr) if s not in held]
    out["tatoeba"] = (tr_s, va_s)
    a, b = corpora.split_text(corpora.shakespeare(), 0.1)  # last 10%, the split the shipped MLM head used
    out["shakespeare"] = ([a], [b])
    lee = _gensim_data("lee_background.cor")
    if lee:
        docs = [d.strip() for d in lee.read_text(encoding="utf-8", errors="ignore").splitlines() if d.strip()]
        cut = int(len(docs) * 0.9)
        out["lee"] = (docs[:cut], docs[cut:])
    wiki = _gensim_data("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    if wiki:
        docs = _wiki_articles(wiki)
        cut = int(len(docs) * 0.9)
        out["wiki"] = (docs[:cut], docs[cut:])
    misc = []
    for name in ("lee.cor", "para2para_text1.txt", "para2para_text2.txt"):
        p = _gensim_data(name)
        if p:
            misc += [d.strip() for d in p.read_text(encoding="utf-8", errors="ignore").splitlines() if d.strip()]
    pl = _gensim_data("pang_lee_polarity.cor")
    if pl:
        misc += [re.sub(r"^__label__\w+\s*", "", d).strip() for d in pl.read_text(encoding="utf-8", errors="ignore").splitlines()]
    if misc:
        out["misc"] = ([m for m in misc if m], [])
    return out


def pack(tokenizer, docs: list[str], seq_len: int) -> np.ndarray:
    """Tokenize documents, concatenate, and cut into rows `[CLS] (seq_len - 2 pieces) [SEP]`: (N, seq_len)."""
    body = seq_len - 2
    stream: list[int] = []
    for i in range(0, len(docs), 256):
        for ids in tokenizer(docs[i:i + 256], add_special_tokens=False, truncation=False)["input_ids"]:
            stream.extend(ids)
    n = len(stream) // body
    if n == 0:
        return np.zeros((0, seq_len), dtype=np.int32)
    arr = np.asarray(stream[: n * body], dtype=np.int32).reshape(n, body)  # (N, body)
    cls = np.full((n, 1), tokenizer.cls_token_id, dtype=np.int32)
    sep = np.full((n, 1), tokenizer.sep_token_id, dtype=np.int32)
    return np.concatenate([cls, arr, sep], axis=1)  # (N, seq_len)


def build_dataset(tokenizer, seq_len: int = 64) -> dict[str, np.ndarray]:
    """Packed train/held-out rows for every source: {"train": (N, T), "train_src": (N,), "val": (M, T),
    "val_src": (M,)}; *_src holds each row's index in SOURCES."""
    train, train_src, val, val_src = [], [], [], []
    for k, (tr, va) in english_texts().items():
        if tr:
            t = pack(tokenizer, tr, seq_len)
            train.append(t)
            train_src.append(np.full(len(t), SOURCES.index(k), dtype=np.int32))
        if va:
            v = pack(tokenizer, va, seq_len)
            val.append(v)
            val_src.append(np.full(len(v), SOURCES.index(k), dtype=np.int32))
    return {"train": np.concatenate(train), "train_src": np.concatenate(train_src), "val": np.concatenate(val),
            "val_src": np.concatenate(val_src)}


def reweight(data: dict, weights: dict[str, float], seed: int = 0) -> dict:
    """The same data with each source's training rows repeated (weight ≥ 1: whole copies, then a random
    share) or subsampled (weight < 1), e.g. {"tatoeba": 2, "shakespeare": 0.5}; held-out rows unchanged."""
    unknown = set(weights) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; choose from {', '.join(SOURCES)}")
    rng = np.random.default_rng(seed)
    keep = []
    for i, name in enumerate(SOURCES):
        rows = np.flatnonzero(data["train_src"] == i)
        w = float(weights.get(name, 1.0))
        if w < 0:
            raise ValueError(f"weight of {name} must be ≥ 0, not {w}")
        whole, part = int(w), w - int(w)
        keep += [rows] * whole + [rng.choice(rows, size=int(round(part * len(rows))), replace=False)]
    idx = np.sort(np.concatenate(keep))  # SOURCES is never empty, so neither is keep
    return {**data, "train": data["train"][idx], "train_src": data["train_src"][idx]}


def unigram_log_prior(rows: np.ndarray, vocab_size: int, special: list[int]) -> torch.Tensor:
    """log p(word piece) over the training rows (add-0.1 smoothed), specials at the floor: (V,).

    Used to initialise the MLM head's output bias: before it learns anything from context the head
    then already predicts the frequent pieces ("the", ",", ".") instead of a uniform guess
    (cross-entropy ~7 instead of log 30522 = 10.3 nats), which saves hundreds of steps.
    """
    counts = np.bincount(rows.reshape(-1).astype(np.int64), minlength=vocab_size)[:vocab_size].astype(np.float64)
    counts[special] = 0
    logp = np.log((counts + 0.1) / (counts + 0.1).sum())
    return torch.tensor(logp - logp.mean(), dtype=torch.float32)


def special_ids(tokenizer) -> dict:
    from core.transformers.fillmask import random_pool_for

    return {"mask": tokenizer.mask_token_id, "pad": tokenizer.pad_token_id,
            "special": sorted(set(tokenizer.all_special_ids)), "pool": random_pool_for(tokenizer).numpy()}


def _maskable(x: torch.Tensor, special: list[int]) -> torch.Tensor:
    m = torch.ones_like(x, dtype=torch.bool)
    for s in special:
        m &= x != s
    return m  # (B, T)


def masked_logits(model, input_ids: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits only at positions with a label: ((N, V), (N,) targets)."""
    hidden = model.bert(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state  # (B, T, C)
    sel = labels != -100  # (B, T)
    return model.cls(hidden[sel]), labels[sel]  # (N, V), (N,)


@torch.no_grad()
def evaluate(model, val: np.ndarray, ids: dict, device: str, seed: int = 1234, max_rows: int = 1500,
             batch: int = 128, val_src: np.ndarray | None = None) -> dict:
    """Held-out cloze accuracy: 15% of the word pieces of each held-out row -> [MASK] (fixed seed).

    Returns top1, top5, loss (mean CE in nats) and per-source top1.
    """
    from core.device import make_generator

    was_training = model.training
    model.eval()
    step = max(1, len(val) // max_rows)
    rows = np.arange(0, len(val), step)[:max_rows]
    gen = make_generator(seed)
    pool = torch.as_tensor(ids["pool"])
    hit1 = hit5 = n = 0
    loss_sum = 0.0
    per = {}
    for i in range(0, len(rows), batch):
        r = rows[i:i + batch]
        x = torch.as_tensor(val[r], dtype=torch.long)  # (B, T)
        c = corrupt(x, _maskable(x, ids["special"]), ids["mask"], pool, gen, p_mask=1.0, p_random=0.0)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            logits, tgt = masked_logits(model, c["input_ids"].to(device), c["labels"].to(device))
        logits = logits.float()
        loss_sum += float(F.cross_entropy(logits, tgt, reduction="sum"))
        top = logits.topk(5, dim=-1).indices  # (N, 5)
        h1 = (top[:, 0] == tgt).cpu()
        h5 = (top == tgt[:, None]).any(-1).cpu()
        hit1 += int(h1.sum())
        hit5 += int(h5.sum())
        n += len(tgt)
        if val_src is not None:
            src_of = torch.as_tensor(val_src[r])[:, None].expand_as(x)[c["labels"] != -100]  # (N,)
            for s in src_of.unique().tolist():
                m = src_of == s
                a, b = per.get(SOURCES[s], (0, 0))
                per[SOURCES[s]] = (a + int(h1[m].sum()), b + int(m.sum()))
    model.train(was_training)
    return {"top1": hit1 / max(n, 1), "top5": hit5 / max(n, 1), "loss": loss_sum / max(n, 1), "n": n,
            "per_source_top1": {k: round(a / max(b, 1), 4) for k, (a, b) in per.items()}}


def set_train_mode(model, cfg: MLMHeadConfig) -> None:
    """Dropout only where we train: the frozen lower layers behave as at inference."""
    model.train()
    for name, mod in model.named_modules():
        if name.startswith("bert.") and not any(name.startswith(f"bert.encoder.layer.{i}.") or
                                                name == f"bert.encoder.layer.{i}" for i in cfg.trained_layers):
            if name not in ("bert", "bert.encoder", "bert.encoder.layer"):
                mod.eval()


def train(model, cfg: MLMHeadConfig, data: dict, ids: dict, device: str = "cpu", steps: int = 1000,
          max_seconds: float | None = None, eval_every: int = 500, warmup: float = 0.05,
          on_step: Callable | None = None, eval_rows: int = 1500, head_lr: float = 1e-3) -> dict:
    """AdamW on the head (lr `head_lr`) + cfg.trained_layers (lr cfg.lr), warm-up + cosine schedule;
    dynamic 80/10/10 masking each step.

    Stops after `steps` or `max_seconds`. Returns {"history": [...], "steps": n, "seconds": s,
    "cpu_seconds": process CPU time, "best": metrics of the best held-out eval, "best_state": tensors}.
    """
    from core.device import make_generator

    names = set(trainable_names(model, cfg))
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)
        if name in names:
            params.append(p)
    model.to(device)
    set_train_mode(model, cfg)
    groups = []
    for is_head in (True, False):
        for wd in (0.01, 0.0):
            ps = [p for n_, p in model.named_parameters() if n_ in names and n_.startswith("cls.") == is_head
                  and (p.ndim >= 2) == (wd > 0)]
            if ps:
                groups.append({"params": ps, "weight_decay": wd, "base_lr": head_lr if is_head else cfg.lr})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)

    def lr_factor(progress: float) -> float:
        """Linear warm-up, then cosine decay to 10% (progress in [0, 1] by steps or by time)."""
        if progress < warmup:
            return max(progress / warmup, 0.01)
        frac = (progress - warmup) / (1 - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))

    gen = make_generator(cfg.seed)
    train_rows = torch.as_tensor(data["train"], dtype=torch.long)
    pool = torch.as_tensor(ids["pool"])
    order = torch.randperm(len(train_rows), generator=gen)
    ptr = 0
    history = []
    best = None
    best_state = None
    t0, c0 = time.monotonic(), time.process_time()
    step = 0
    running = None
    for step in range(1, steps + 1):
        if ptr + cfg.batch_size > len(order):
            order, ptr = torch.randperm(len(train_rows), generator=gen), 0
        x = train_rows[order[ptr:ptr + cfg.batch_size]]  # (B, T)
        ptr += cfg.batch_size
        c = corrupt(x, _maskable(x, ids["special"]), ids["mask"], pool, gen, mask_prob=cfg.mask_prob)
        progress = (step - 1) / steps
        if max_seconds:
            progress = max(progress, (time.monotonic() - t0) / max_seconds)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * lr_factor(progress)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            logits, tgt = masked_logits(model, c["input_ids"].to(device), c["labels"].to(device))
        loss = F.cross_entropy(logits.float(), tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lv = float(loss.detach())
        running = lv if running is None else 0.98 * running + 0.02 * lv
        elapsed = time.monotonic() - t0
        last = step == steps or (max_seconds is not None and elapsed >= max_seconds)
        if step % eval_every == 0 or last:
            ev = evaluate(model, data["val"], ids, device, max_rows=eval_rows, val_src=data.get("val_src"))
            set_train_mode(model, cfg)
            rec = {"step": step, "seconds": round(elapsed, 1), "cpu_seconds": round(time.process_time() - c0, 1),
                   "train_loss": round(running, 4), **{k: ev[k] for k in ("top1", "top5", "loss")}}
            history.append(rec)
            print(rec, flush=True)
            if best is None or ev["top1"] > best["top1"]:
                best = {**ev, "step": step}
                best_state = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()
                              if k in names or k == "cls.predictions.bias"}
        if on_step is not None:
            on_step(step, steps, {"loss": running})
        if last:
            break
    model.eval()
    return {"history": history, "steps": step, "seconds": time.monotonic() - t0,
            "cpu_seconds": time.process_time() - c0, "best": best, "best_state": best_state}
