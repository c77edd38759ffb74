"""The three packaged models load offline and give sensible outputs."""
import pytest
import torch

from core import loaders

pytestmark = pytest.mark.slow


def test_glove_has_400k_words_and_the_classic_analogy():
    kv = loaders.load_glove()
    assert kv.vector_size == 50 and len(kv) >= 399_000
    assert kv.index_to_key[:3] == ["the", ",", "."]
    top = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    assert top == "queen"


def test_glove_words_file_equals_the_parquet_index(tmp_path, monkeypatch):
    """The plain-text word list load_glove reads is the package's Parquet index, word for word, made once."""
    import pyarrow.parquet as pq

    monkeypatch.setenv("NLP_PLAYGROUND_CACHE", str(tmp_path))
    made = loaders.glove_words_file()
    assert made.parent == tmp_path and loaders.glove_words_file() == made
    index = pq.read_table(loaders.packaged_path("glove-6b-50d") / "glove_6B_index.parquet").column("index")
    assert made.read_text(encoding="utf-8").split("\n")[:-1] == [str(w) for w in index.to_pylist()]
    assert [p.name for p in tmp_path.iterdir()] == [made.name]  # no temporary file left behind


def test_minilm_returns_attention_weights_rows_sum_to_one():
    bundle = loaders.load_minilm()
    enc = bundle.tokenizer("the bank of the river", return_tensors="pt")
    with torch.inference_mode():
        out = bundle.model(**enc, output_attentions=True)
    assert len(out.attentions) == 6
    att = out.attentions[0]  # (B, H, T, T)
    assert att.shape[1] == 12
    torch.testing.assert_close(att.sum(-1), torch.ones_like(att.sum(-1)))


def test_smollm_loads_from_the_disk_cache_and_predicts():
    bundle = loaders.load_smollm()
    assert (loaders.smollm_cache_path() / "model.safetensors").exists()
    enc = bundle.tokenizer("The capital of France is", return_tensors="pt")
    with torch.inference_mode():
        out = bundle.model(**enc, output_attentions=True)
    att = out.attentions[0][0, 0]  # (T, T), causal
    assert torch.all(att.triu(1) == 0)
    next_id = out.logits[0, -1].argmax().item()
    assert "Paris" in bundle.tokenizer.decode([next_id])


@pytest.mark.slow
def test_low_memory_mode_serves_smollm_in_bfloat16():
    """NLP_PLAYGROUND_LOW_MEMORY=1 (read once per process): SmolLM2 and the MLM in bf16, fewer models, smaller GloVe."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import json, torch; from core import loaders, settings; from core.transformers import generate; lm = loaders.load_smollm(); "
            "print(json.dumps({'dtype': str(next(lm.model.parameters()).dtype), 'max_models': settings.MAX_MODELS, "
            "'glove': settings.GLOVE_MAX_WORDS, 'same': generate.model_for(lm, 'fast') is lm.model}))\n"
            "from core import sources; from core.transformers import fillmask\n"
            "b = fillmask.load_minilm_mlm(sources.get_source('masked_lm', 'minilm-mlm').ref)\n"
            "fill = fillmask.fill_mask(b, 'i drink a cup of [MASK] every morning.')['masks'][0]['predictions'][0]\n"
            "print(json.dumps({'bert': str(next(b.model.parameters()).dtype), 'fill': fill['token'], "
            "'p': fill['prob']}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], text=True,
                         capture_output=True, timeout=300, env={**os.environ, "NLP_PLAYGROUND_LOW_MEMORY": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    got, bert = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    assert got == {"dtype": "torch.bfloat16", "max_models": 5, "glove": 50_000, "same": True}
    # the BERT page's MLM in bfloat16 too: the same fill as the shipped model in float32 (computed here, so a
    # retrained model needs no edit), its probability within ~1e-2
    from core import sources
    from core.transformers import fillmask

    ref = fillmask.load_minilm_mlm(sources.get_source("masked_lm", "minilm-mlm").ref)
    assert next(ref.model.parameters()).dtype == torch.float32
    want = fillmask.fill_mask(ref, "i drink a cup of [MASK] every morning.")["masks"][0]["predictions"][0]
    assert bert["bert"] == "torch.bfloat16" and bert["fill"] == want["token"], (bert, want)
    assert abs(bert["p"] - want["prob"]) < 1e-2, (bert, want)
