"""Masked-language modelling: fill-mask, the MLM corruption, and contextual word vectors.

The offline model is the packaged MiniLM-L6 encoder (a 6-layer BERT, bert-base-uncased vocabulary)
plus a BERT masked-LM head trained in this repo (scripts/train_mlm_head.py). Only the weights the
training changed are shipped in ``assets/models/minilm-mlm`` (the head, and the top encoder layers
that were unfrozen); the rest is read from the installed package at load time.

Everything works for any transformers masked LM (hub BERT, DistilBERT, RoBERTa) as well.
"""
from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core.device import builds_models
from core.i18n import N_, _
from core.loaders import LoadedModel

MASK_PLACEHOLDER = "[MASK]"  # what users type; replaced by the model's own mask token (e.g. <mask>)
MAX_MASKS = 5  # masks per sentence the page accepts
MAX_TOKENS = 128  # tokens per input sentence (incl. special tokens)
MAX_TOP_K = 20  # predictions shown per mask
MAX_SENTENCES = 12  # contextual-vector sentences
MAX_DRAWS = 5000  # corruptions sampled by corruption_rates


# ---------------------------------------------------------------------------------------------
# the checkpoint's config
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLMHeadConfig:
    base: str = "minilm-l6"  # packaged encoder the head sits on (core.loaders packaged name)
    num_layers: int = 6  # encoder layers kept: the head reads the output of layer `num_layers`
    trained_layers: tuple[int, ...] = ()  # encoder layers whose weights were trained (shipped here)
    hidden_size: int = 384  # encoder width (must match the base)
    vocab_size: int = 30522  # bert-base-uncased word pieces; the decoder is tied to the word embeddings
    mask_prob: float = 0.15  # fraction of tokens chosen for the loss in each sequence
    seq_len: int = 128  # training sequence length in word pieces (incl. [CLS]/[SEP])
    batch_size: int = 64  # sequences per optimizer step
    steps: int = 0  # optimizer steps taken
    lr: float = 5e-4  # peak AdamW learning rate (linear warm-up, cosine decay)
    seed: int = 0  # seed of the data order and the masking
    weights_dtype: str = "float16"  # how the trained encoder layers are stored (head stays float32)
    variant: str = ""  # short name of the training recipe, e.g. "top2" (see the model card)
    metrics: dict = field(default_factory=dict, compare=False, hash=False)  # held-out accuracy etc.

    def to_json(self) -> str:
        data = asdict(self)
        data["trained_layers"] = list(self.trained_layers)
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "MLMHeadConfig":
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["trained_layers"] = tuple(int(i) for i in data.get("trained_layers", ()))
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# building the model
# ---------------------------------------------------------------------------------------------
def base_state_dict(base_dir: str | Path) -> dict[str, torch.Tensor]:
    """The encoder weights of a BertModel folder (model.safetensors), as float32, keys without 'bert.'."""
    from safetensors.torch import load_file

    base_dir = Path(base_dir)
    files = sorted(base_dir.glob("*.safetensors"))
    if not files:
        raise ValueError(_("No .safetensors weights in {folder}; reinstall the packaged MiniLM.").format(folder=base_dir))
    state = {}
    for f in files:
        for k, v in load_file(str(f)).items():
            state[k.removeprefix("bert.")] = v.float()
    return state


@builds_models
def build_mlm(base_dir: str | Path, cfg: MLMHeadConfig, base_state: dict | None = None,
              attn_implementation: str | None = "eager"):
    """A transformers BertForMaskedLM: the base encoder's weights (first `num_layers` layers) + a new head.

    The head's decoder is tied to the word embeddings (BERT's weight tying), so only the
    transform (dense + GELU + LayerNorm) and the output bias are new parameters.
    """
    from transformers import BertConfig, BertForMaskedLM

    bcfg = BertConfig.from_pretrained(str(base_dir))
    if not 1 <= cfg.num_layers <= bcfg.num_hidden_layers:
        raise ValueError(_("num_layers must be 1..{max}, not {n}.").format(max=bcfg.num_hidden_layers, n=cfg.num_layers))
    bcfg.num_hidden_layers = cfg.num_layers
    bcfg.tie_word_embeddings = True
    if attn_implementation:
        bcfg._attn_implementation = attn_implementation
    model = BertForMaskedLM(bcfg)
    state = base_state if base_state is not None else base_state_dict(base_dir)
    keep = {k: v for k, v in state.items()
            if not k.startswith("pooler.") and k != "embeddings.position_ids"
            and not (k.startswith("encoder.layer.") and int(k.split(".")[2]) >= cfg.num_layers)}
    missing, unexpected = model.bert.load_state_dict(keep, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise ValueError(_("Base weights don't fit the model (missing {missing}, unexpected {unexpected}).").format(
            missing=missing[:3], unexpected=unexpected[:3]))
    model.tie_weights()
    return model


def trainable_names(model, cfg: MLMHeadConfig) -> list[str]:
    """Parameter names the recipe trains: the head (not the tied decoder) + the listed encoder layers."""
    names = []
    for name, _p in model.named_parameters():
        if name.startswith("cls.predictions.") and "decoder.weight" not in name:
            names.append(name)
        elif any(name.startswith(f"bert.encoder.layer.{i}.") for i in cfg.trained_layers):
            names.append(name)
    return names


def shipped_state(model, cfg: MLMHeadConfig) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint stores: the head in float32, the trained layers in cfg.weights_dtype."""
    dtype = getattr(torch, cfg.weights_dtype)
    sd = model.state_dict()
    out = {}
    for name in trainable_names(model, cfg):
        t = sd[name].detach().cpu()
        out[name] = t.float().contiguous() if name.startswith("cls.") else t.to(dtype).contiguous()
    out.pop("cls.predictions.decoder.bias", None)  # same tensor as cls.predictions.bias
    return out


def save_checkpoint(model, cfg: MLMHeadConfig, folder: str | Path, card: str = "") -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(shipped_state(model, cfg), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(cfg.to_json() + "\n", encoding="utf-8")
    if card:
        (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


@builds_models
def load_mlm_checkpoint(folder: str | Path, base_dir: str | Path | None = None):
    """(model, cfg): the base encoder + the shipped head/layers from `folder`, in eval mode."""
    from safetensors.torch import load_file

    from core.loaders import packaged_path

    folder = Path(folder)
    if not (folder / "config.json").exists() or not (folder / "model.safetensors").exists():
        raise ValueError(_("{folder} is not an MLM-head checkpoint (needs config.json + model.safetensors). "
                           "Train one with `python scripts/train_mlm_head.py`.").format(folder=folder))
    cfg = MLMHeadConfig.from_json((folder / "config.json").read_text(encoding="utf-8"))
    base_dir = Path(base_dir) if base_dir else packaged_path(cfg.base)
    model = build_mlm(base_dir, cfg)
    shipped = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(shipped, strict=False)
    if unexpected:
        raise ValueError(_("{folder}: checkpoint tensors don't fit the model ({unexpected}).").format(
            folder=folder, unexpected=unexpected[:3]))
    model.tie_weights()
    model.eval()
    return model, cfg


@builds_models
def load_minilm_mlm(ref: str) -> LoadedModel:
    """The packaged MiniLM + the MLM head shipped in `ref` (a folder), as a read-only LoadedModel."""
    from transformers import AutoTokenizer

    from core.loaders import _finish, packaged_path

    from core.settings import LOW_MEMORY

    model, cfg = load_mlm_checkpoint(ref)
    if LOW_MEMORY:  # half the weights' memory (~45 MB); fills' probabilities move by ~1e-3, so near-ties may swap
        model.to(torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_path(cfg.base)))
    bundle = _finish(model, tokenizer, "minilm-mlm")
    bundle.info.update({"head_from_layer": cfg.num_layers, "trained_layers": list(cfg.trained_layers),
                        "variant": cfg.variant, **{f"heldout_{k}": v for k, v in cfg.metrics.items()
                                                   if k != "train_cpu_minutes"},
                        "train_cpu_minutes": cfg.metrics.get("train_cpu_minutes")})
    return bundle


def quality_notes(info: dict) -> list[dict]:
    """What the fill-mask tab should say about a shipped model's quality, from its own held-out figures:
    [{"text": msgid, "values": {...}}] (the page translates and formats). Hub models get none."""
    top1 = info.get("heldout_top1")
    if not isinstance(top1, (int, float)) or not top1 == top1 or top1 <= 0:
        return []
    values = {"top1": top1, "one_in": max(1, round(1 / top1)), "top5": info.get("heldout_top5", float("nan"))}
    if info.get("language") == "zh":
        if top1 < 0.3:
            return [{"text": N_("This Chinese BERT was pre-trained here on a CPU and is still close to where "
                                "pre-training starts: it gets {top1:.0%} of held-out masked characters right, and "
                                "most of its fills are frequent characters such as ， and 的 whatever the context. "
                                "The Model card tab says how to train a better one on a GPU. The Pre-training tab "
                                "shows the same start of training live."), "values": values}]
        return []
    if info.get("head_from_layer") is None:
        return []
    text = N_("The shipped model is small and was trained on a CPU on a few MB of text: it gets about 1 in "
              "{one_in} held-out blanks right (top-5: {top5:.0%}; see the Model card tab). With network, pick "
              "bert-base-uncased and compare the two side by side.")
    if info.get("train_cpu_minutes"):
        values["minutes"] = info["train_cpu_minutes"]
        text = N_("The shipped model is small and was trained for {minutes:.0f} CPU-minutes on a few MB of text: "
                  "it gets about 1 in {one_in} held-out blanks right (top-5: {top5:.0%}; see the Model card tab). "
                  "With network, pick bert-base-uncased and compare the two side by side.")
    return [{"text": text, "values": values}]


# ---------------------------------------------------------------------------------------------
# fill-mask
# ---------------------------------------------------------------------------------------------
def _as_int(value):
    """A whole float (5.0, as JSON or a float widget may give) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _device(model) -> torch.device:
    return next(model.parameters()).device


def prepare_masked(tokenizer, text: str, max_masks: int = MAX_MASKS, max_tokens: int = MAX_TOKENS) -> dict:
    """Validate a sentence with [MASK]s and tokenize it. Returns input_ids (list) and mask positions."""
    from core.textio import check_text

    text = check_text(text, "sentence", max_chars=2000)
    mask_token = tokenizer.mask_token
    if mask_token is None:
        raise ValueError(_("This model has no mask token, so it can't fill in blanks. Pick a masked LM."))
    # accept [MASK] in any case, and the model's own token (e.g. RoBERTa's <mask>)
    text = re.sub(r"\[mask\]", mask_token, text, flags=re.IGNORECASE)
    n_masks = text.count(mask_token)
    if n_masks == 0:
        raise ValueError(_("Your sentence has no {mask}. Put {mask} where a word is missing, e.g. "
                           "'paris is the {mask} of france.'").format(mask=MASK_PLACEHOLDER))
    if n_masks > max_masks:
        raise ValueError(_("Your sentence has {n} masks; the limit is {max}. Remove some {mask}s.").format(
            n=n_masks, max=max_masks, mask=MASK_PLACEHOLDER))
    ids = tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
    if len(ids) > max_tokens:
        raise ValueError(_("Your sentence is {n} tokens long; the limit is {max}. Shorten it.").format(
            n=len(ids), max=max_tokens))
    positions = [i for i, t in enumerate(ids) if t == tokenizer.mask_token_id]
    if len(positions) != n_masks:
        raise ValueError(_("Write {mask} as its own word (with spaces or punctuation around it).").format(
            mask=MASK_PLACEHOLDER))
    return {"text": text, "input_ids": ids, "positions": positions}


@torch.inference_mode()
def mask_distributions(model, input_ids: list[int], positions: list[int]) -> torch.Tensor:
    """Softmax over the vocabulary at each position: (M, V) float32 on the CPU."""
    ids = torch.tensor([input_ids], device=_device(model))  # (1, T)
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]  # (T, V)
    return torch.softmax(logits[positions].float(), dim=-1).cpu()  # (M, V)


def token_str(tokenizer, tid: int) -> str:
    """Token id -> the word piece as the tables show it (RoBERTa's 'Ġ' word start shown as '▁')."""
    tok = tokenizer.convert_ids_to_tokens(int(tid))
    return tok.replace("Ġ", "▁") if isinstance(tok, str) else str(tok)


def _topk(tokenizer, probs: torch.Tensor, k: int) -> list[dict]:
    p, ix = torch.topk(probs, k)
    return [{"token": token_str(tokenizer, i), "token_id": int(i), "prob": float(q)} for q, i in zip(p, ix)]


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True).strip()


def fill_mask(bundle: LoadedModel, text: str, top_k: int = 5, mode: str = "independent",
              max_masks: int = MAX_MASKS, max_tokens: int = MAX_TOKENS) -> dict:
    """Top-k predictions for every [MASK].

    mode "independent": one forward pass; each mask's distribution ignores the other masks'
    fillings (that is how MLM is trained). mode "left_to_right": fill the leftmost mask with its
    best guess, run again, and so on, so later masks see earlier choices.

    Returns {"masks": [{"position", "predictions": [{"token", "token_id", "prob"}...]}...],
             "completed": str (best guess for every mask), "variants": [str] (top choices of the
             first mask, others filled as per mode), "tokens": [str], "mode": mode}.
    """
    if mode not in {"independent", "left_to_right"}:
        raise ValueError(_("mode must be 'independent' or 'left_to_right'."))
    top_k = _as_int(top_k)
    if not isinstance(top_k, numbers.Integral) or not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(_("top-k must be a whole number between 1 and {max}, not {value!r}.").format(
            max=MAX_TOP_K, value=top_k))
    top_k = int(top_k)
    tok, model = bundle.tokenizer, bundle.model
    prep = prepare_masked(tok, text, max_masks=max_masks, max_tokens=max_tokens)
    ids, positions = list(prep["input_ids"]), prep["positions"]
    masks = []
    if mode == "independent":
        probs = mask_distributions(model, ids, positions)  # (M, V)
        for j, pos in enumerate(positions):
            masks.append({"position": pos, "step": 1, "predictions": _topk(tok, probs[j], top_k)})
        filled = list(ids)
        for m in masks:
            filled[m["position"]] = m["predictions"][0]["token_id"]
    else:
        filled = list(ids)
        for step, pos in enumerate(positions, start=1):
            probs = mask_distributions(model, filled, [pos])[0]  # (V,)
            preds = _topk(tok, probs, top_k)
            masks.append({"position": pos, "step": step, "predictions": preds})
            filled[pos] = preds[0]["token_id"]
    variants = []
    for pred in masks[0]["predictions"]:
        alt = list(filled)
        alt[masks[0]["position"]] = pred["token_id"]
        variants.append({"sentence": _decode(tok, alt), "prob": pred["prob"]})
    return {"mode": mode, "masks": masks, "completed": _decode(tok, filled), "variants": variants,
            "tokens": [token_str(tok, i) for i in ids], "input_ids": ids}


# ---------------------------------------------------------------------------------------------
# MLM corruption (BERT: choose 15% of tokens; of those 80% -> [MASK], 10% -> random, 10% unchanged)
# ---------------------------------------------------------------------------------------------
ACTIONS = ("mask", "random", "keep")


def corrupt(input_ids: torch.Tensor, maskable: torch.Tensor, mask_token_id: int, random_pool: torch.Tensor,
            generator: torch.Generator, mask_prob: float = 0.15, p_mask: float = 0.8, p_random: float = 0.1,
            exact: bool = True) -> dict[str, torch.Tensor]:
    """Sample BERT's MLM corruption for a batch.

    input_ids (B, T) long; maskable (B, T) bool (False on [CLS]/[SEP]/padding); random_pool (R,) ids
    that a "random" replacement draws from. With `exact`, each row gets round(mask_prob * n)
    (at least 1) chosen tokens as in the original BERT; otherwise each token is chosen with
    probability mask_prob. Returns corrupted ids (B, T), labels (B, T) (-100 where no loss) and
    action (B, T) int8: -1 not chosen, 0 [MASK], 1 random token, 2 unchanged.
    """
    if not 0 < mask_prob < 1 or p_mask < 0 or p_random < 0 or p_mask + p_random > 1:
        raise ValueError(_("Need 0 < mask_prob < 1 and p_mask + p_random <= 1."))
    dev = input_ids.device
    B, T = input_ids.shape
    u = torch.rand((B, T), generator=generator, device=generator.device).to(dev)  # (B, T)
    if exact:
        n = maskable.sum(1)  # (B,)
        k = torch.clamp(torch.round(n.float() * mask_prob), min=1).long()  # (B,)
        k = torch.minimum(k, n)
        score = torch.where(maskable, u, torch.full_like(u, 2.0))  # non-maskable sort last
        rank = score.argsort(dim=1).argsort(dim=1)  # (B, T) rank of each position
        chosen = (rank < k[:, None]) & maskable
    else:
        chosen = (u < mask_prob) & maskable
    v = torch.rand((B, T), generator=generator, device=generator.device).to(dev)  # (B, T) action draw
    act = torch.full((B, T), -1, dtype=torch.int8, device=dev)
    act[chosen & (v < p_mask)] = 0
    act[chosen & (v >= p_mask) & (v < p_mask + p_random)] = 1
    act[chosen & (v >= p_mask + p_random)] = 2
    r = torch.randint(0, len(random_pool), (B, T), generator=generator, device=generator.device).to(dev)
    rand_ids = random_pool.to(dev)[r]  # (B, T)
    out = input_ids.clone()
    out[act == 0] = mask_token_id
    out[act == 1] = rand_ids[act == 1]
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    return {"input_ids": out, "labels": labels, "action": act}


def random_pool_for(tokenizer) -> torch.Tensor:
    """Ids a "random token" replacement may draw: every vocabulary entry except special/[unused] ones."""
    special = set(tokenizer.all_special_ids)
    vocab = tokenizer.get_vocab()
    ids = [i for t, i in vocab.items() if i not in special and not (t.startswith("[") and t.endswith("]"))]
    return torch.tensor(sorted(ids), dtype=torch.long)


def corruption_table(tokenizer, text: str, seed: int, mask_prob: float = 0.15, p_mask: float = 0.8,
                     p_random: float = 0.1, max_tokens: int = MAX_TOKENS) -> dict:
    """One sampled corruption of the user's sentence, as rows for a before/after table."""
    from core.device import make_generator
    from core.textio import check_text

    text = check_text(text, "sentence", max_chars=2000)
    if not 0.01 <= mask_prob <= 0.9:
        raise ValueError(_("The masking rate must be between 1% and 90%."))
    enc = tokenizer(text, add_special_tokens=True, truncation=False)
    ids = enc["input_ids"]
    if len(ids) > max_tokens:
        raise ValueError(_("Your sentence is {n} tokens long; the limit is {max}. Shorten it.").format(
            n=len(ids), max=max_tokens))
    special = set(tokenizer.all_special_ids)
    x = torch.tensor([ids])  # (1, T)
    maskable = torch.tensor([[i not in special for i in ids]])  # (1, T)
    if not maskable.any():
        raise ValueError(_("The sentence has no word pieces to mask. Type some words."))
    res = corrupt(x, maskable, tokenizer.mask_token_id, random_pool_for(tokenizer), make_generator(seed),
                  mask_prob=mask_prob, p_mask=p_mask, p_random=p_random)
    rows = []
    names = {-1: "", 0: "→ [MASK]", 1: _("→ random token"), 2: _("unchanged (but predicted)")}
    for t in range(len(ids)):
        a = int(res["action"][0, t])
        rows.append({"position": t, "original": token_str(tokenizer, ids[t]),
                     "input to model": token_str(tokenizer, int(res["input_ids"][0, t])),
                     "what happened": names[a], "loss here": a >= 0})
    return {"rows": rows, "n_tokens": int(maskable.sum()), "n_chosen": int((res["action"] >= 0).sum()),
            "input_ids": res["input_ids"][0].tolist(), "labels": res["labels"][0].tolist()}


def corruption_predictions(bundle: LoadedModel, table: dict) -> dict:
    """What the model predicts at the chosen positions of one corruption (a `corruption_table` result).

    Returns {"rows": [{"position", "target", "model input", "top guess", "p(target)", "-log p(target)"}...]
    (one per chosen position, p rounded to 4 and -log p to 3 decimals), "loss": the mean of the rows'
    -log p(target) in nats, the MLM loss of this sequence (None without rows)}.
    """
    ids = table["input_ids"]
    pos = [i for i, lab in enumerate(table["labels"]) if lab != -100]
    probs = mask_distributions(bundle.model, ids, pos)  # (M, V)
    rows = []
    for j, i in enumerate(pos):
        p = float(probs[j, table["labels"][i]])
        rows.append({"position": i, "target": table["rows"][i]["original"],
                     "model input": table["rows"][i]["input to model"],
                     "top guess": token_str(bundle.tokenizer, int(probs[j].argmax())),
                     "p(target)": round(p, 4), "-log p(target)": round(float(-np.log(max(p, 1e-12))), 3)})
    loss = float(np.mean([r["-log p(target)"] for r in rows])) if rows else None
    return {"rows": rows, "loss": loss}


def corruption_rates(tokenizer, text: str, seed: int, mask_prob: float = 0.15, draws: int = 500,
                     max_tokens: int = MAX_TOKENS) -> dict:
    """Empirical rates over `draws` corruptions of one sentence: chosen / [MASK] / random / unchanged."""
    from core.device import make_generator
    from core.textio import check_text

    text = check_text(text, "sentence", max_chars=2000)
    draws = _as_int(draws)
    if not isinstance(draws, numbers.Integral) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(_("The number of draws must be a whole number between 1 and {max}, not {value!r}.").format(
            max=MAX_DRAWS, value=draws))
    ids = tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
    if len(ids) > max_tokens:
        raise ValueError(_("Your sentence is {n} tokens long; the limit is {max}. Shorten it.").format(
            n=len(ids), max=max_tokens))
    special = set(tokenizer.all_special_ids)
    x = torch.tensor([ids] * draws)  # (D, T)
    maskable = torch.tensor([[i not in special for i in ids]] * draws)  # (D, T)
    act = corrupt(x, maskable, tokenizer.mask_token_id, random_pool_for(tokenizer), make_generator(seed),
                  mask_prob=mask_prob)["action"]
    n = max(int((act >= 0).sum()), 1)
    return {"draws": draws, "seed": seed, "rates": {
        "chosen": n / max(int(maskable.sum()), 1), "[MASK]": int((act == 0).sum()) / n,
        "random": int((act == 1).sum()) / n, "unchanged": int((act == 2).sum()) / n}}


# ---------------------------------------------------------------------------------------------
# input embeddings: token + segment + position
# ---------------------------------------------------------------------------------------------
@torch.inference_mode()
def embedding_parts(bundle: LoadedModel, text_a: str, text_b: str, max_tokens: int = 64) -> dict:
    """BERT's input for a pair `[CLS] A [SEP] B [SEP]`: the three embeddings that are summed.

    Returns tokens, "segment_ids", "position_ids" and (T, C) arrays "token", "segment", "position",
    "sum" and "input" (= LayerNorm(sum), what layer 1 sees), plus their norms.
    """
    from core.textio import check_text

    text_a = check_text(text_a, "sentence A", max_chars=500)
    text_b = check_text(text_b, "sentence B", max_chars=500)
    tok = bundle.tokenizer
    enc = tok(text_a, text_b, return_tensors="pt", truncation=False)
    ids = enc["input_ids"]  # (1, T)
    if ids.shape[1] > max_tokens:
        raise ValueError(_("The pair is {n} tokens long; the limit here is {max}. Shorten it.").format(
            n=ids.shape[1], max=max_tokens))
    emb = getattr(bundle.model.base_model, "embeddings", None)
    if emb is None or not hasattr(emb, "word_embeddings") or not hasattr(emb, "position_embeddings"):
        raise ValueError(_("This model doesn't expose BERT-style token/position embeddings."))
    dev = _device(bundle.model)
    ids = ids.to(dev)
    T = ids.shape[1]
    seg = enc.get("token_type_ids")
    seg = (seg if seg is not None else torch.zeros_like(enc["input_ids"])).to(dev)  # (1, T)
    pos_ids = torch.arange(T, device=dev)[None]  # (1, T)
    offset = getattr(emb, "padding_idx", None)  # RoBERTa counts positions from padding_idx + 1
    if offset is not None and "roberta" in type(bundle.model).__name__.lower():
        pos_ids = pos_ids + offset + 1
    tok_e = emb.word_embeddings(ids)[0]  # (T, C)
    pos_e = emb.position_embeddings(pos_ids)[0]  # (T, C)
    tte = getattr(emb, "token_type_embeddings", None)
    seg_e = tte(seg)[0] if tte is not None else torch.zeros_like(tok_e)  # (T, C)
    total = tok_e + seg_e + pos_e  # (T, C)
    inp = emb.LayerNorm(total)  # (T, C)
    out = {"tokens": [token_str(tok, i) for i in ids[0].tolist()], "segment_ids": seg[0].tolist(),
           "position_ids": list(range(T))}
    for name, t in (("token", tok_e), ("segment", seg_e), ("position", pos_e), ("sum", total), ("input", inp)):
        arr = t.float().cpu().numpy()
        out[name] = arr
        out[f"{name}_norm"] = np.linalg.norm(arr, axis=1)
    return out


# ---------------------------------------------------------------------------------------------
# contextual vectors
# ---------------------------------------------------------------------------------------------
def parse_sense_lines(text: str) -> list[tuple[str, str]]:
    """Lines `sense | sentence` (or just `sentence`) -> [(sense, sentence)]; blank lines skipped."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if "|" in line:
            sense, sent = line.split("|", 1)
            out.append((sense.strip() or "?", sent.strip()))
        else:
            out.append(("?", line))
    return out


def _word_span(tokenizer, sentence: str, word: str, max_tokens: int) -> tuple[list[int], list[int]]:
    # a whole word: not inside a longer Latin word (Chinese has no spaces, so 苹果 in 吃苹果 is found as is)
    before = r"(?<![A-Za-z0-9_])" if re.match(r"[A-Za-z0-9_]", word) else ""
    after = r"(?![A-Za-z0-9_])" if re.search(r"[A-Za-z0-9_]$", word) else ""
    m = re.search(before + re.escape(word) + after, sentence, flags=re.IGNORECASE)
    if not m:
        raise ValueError(_("'{word}' does not appear as a word in: \"{sentence}\". Use it in every sentence.").format(
            word=word, sentence=sentence[:80]))
    enc = tokenizer(sentence, return_offsets_mapping=True, truncation=False)
    if len(enc["input_ids"]) > max_tokens:
        raise ValueError(_("\"{sentence}…\" is {n} tokens; the limit is {max}.").format(
            sentence=sentence[:60], n=len(enc["input_ids"]), max=max_tokens))
    idx = [i for i, (a, b) in enumerate(enc["offset_mapping"]) if b > a and a < m.end() and b > m.start()]
    if not idx:
        raise ValueError(_("Could not find the word pieces of '{word}' in \"{sentence}\".").format(
            word=word, sentence=sentence[:80]))
    return enc["input_ids"], idx


@torch.inference_mode()
def contextual_vectors(bundle: LoadedModel, word: str, lines: list[tuple[str, str]],
                       max_sentences: int = MAX_SENTENCES, max_tokens: int = MAX_TOKENS) -> dict:
    """The word's vector in each sentence at every layer, and their cosine similarities.

    Layer 0 is the static word-piece embedding (the same vector in every sentence, like word2vec);
    layer l >= 1 is the output of transformer layer l. A word split into several pieces is the
    mean of its pieces. Returns {"layers": L+1, "sims": (L+1, n, n), "within": [..], "across": [..],
    "senses": [...], "sentences": [...], "pieces": [[...]]}.
    """
    from core.textio import check_text

    word = check_text(word, "word", max_chars=40).strip()
    if not re.fullmatch(r"[\w'-]+", word):
        raise ValueError(_("Enter a single word (letters, digits, ' or -), e.g. 'bank'."))
    if len(lines) < 2:
        raise ValueError(_("Enter at least two sentences that use the word, one per line."))
    if len(lines) > max_sentences:
        raise ValueError(_("At most {max} sentences, please; you entered {n}.").format(max=max_sentences, n=len(lines)))
    tok, model = bundle.tokenizer, bundle.model
    dev = _device(model)
    unk = tok.unk_token_id
    vecs, pieces = [], []  # vecs: per sentence (L+1, C)
    for _sense, sent in lines:
        check_text(sent, "sentence", max_chars=500)
        ids, idx = _word_span(tok, sent, word, max_tokens)
        if unk is not None and all(ids[i] == unk for i in idx):
            raise ValueError(_("'{word}' is not in this model's vocabulary (it becomes [UNK]); try an English word.").format(
                word=word))
        x = torch.tensor([ids], device=dev)  # (1, T)
        out = model(input_ids=x, attention_mask=torch.ones_like(x), output_hidden_states=True)
        hs = torch.stack(out.hidden_states[1:], dim=0)[:, 0]  # (L, T, C)
        static = model.get_input_embeddings()(x)[0]  # (T, C)
        per_layer = torch.cat([static[None], hs], dim=0)[:, idx].mean(dim=1)  # (L+1, C)
        vecs.append(per_layer.float().cpu())
        pieces.append([token_str(tok, ids[i]) for i in idx])
    V = torch.stack(vecs, dim=1)  # (L+1, n, C)
    Vn = V / V.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    sims = (Vn @ Vn.transpose(1, 2)).numpy()  # (L+1, n, n)
    senses = [s for s, _sent in lines]
    n = len(lines)
    same = np.array([[senses[i] == senses[j] for j in range(n)] for i in range(n)])
    off = ~np.eye(n, dtype=bool)
    within_m, across_m = same & off, (~same) & off
    labelled = len(set(senses) - {"?"}) >= 2
    within = [float(s[within_m].mean()) if labelled and within_m.any() else math.nan for s in sims]
    across = [float(s[across_m].mean()) if labelled and across_m.any() else math.nan for s in sims]
    return {"layers": V.shape[0], "sims": sims, "within": within, "across": across, "senses": senses,
            "sentences": [s for _sense, s in lines], "pieces": pieces}


PRESETS = {
    N_("bank (river vs money)"): ("bank", [
        ("river", "We sat on the bank of the river and watched the boats."),
        ("river", "The fisherman walked along the muddy bank."),
        ("river", "Flowers grew on the grassy bank by the stream."),
        ("money", "I need to go to the bank to deposit this check."),
        ("money", "The bank approved her loan yesterday."),
        ("money", "He works as a teller at the bank downtown."),
    ]),
    N_("apple (fruit vs company)"): ("apple", [
        ("fruit", "She ate a crisp red apple for lunch."),
        ("fruit", "He baked an apple pie with cinnamon."),
        ("fruit", "The apple fell from the tree in the orchard."),
        ("company", "Apple released a new iphone this year."),
        ("company", "Shares of Apple rose after the earnings report."),
        ("company", "Apple designs its own chips for the mac."),
    ]),
    N_("play (theatre vs games)"): ("play", [
        ("theatre", "We watched a play by shakespeare at the theatre."),
        ("theatre", "The actors rehearsed the play for weeks."),
        ("game", "The children play football in the park."),
        ("game", "Do you want to play chess with me?"),
    ]),
}
