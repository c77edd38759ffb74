"""Seq2seq translation: encoder–decoder with attention, teacher forcing, greedy / beam search."""
from __future__ import annotations

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import (figure_downloads, guard, lazy_tabs, progress_callback, queued,
                           run_through_entry_point, seed, sync_url, url_state)

run_through_entry_point()

import io
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.sequence import seq2seq as S
from core import sources, st_cache
from core.corpora import split_pairs, tatoeba
from core.i18n import N_, _
from core.plots import attention_heatmap
from core.textio import decode_upload

st.title(_("Seq2seq translation"))
st.caption(_("An encoder reads the English sentence, a decoder writes the translation one token at a time. "
             "Load a shipped English→Chinese / English→French model or train your own, then look inside: "
             "cross-attention, teacher forcing vs free running, greedy vs beam search."))

TRAINED = "seq2seq_trained"  # session: {"bundle", "history", "label", "lang"} of the model trained here
SCRATCH = "scratch"
EXAMPLES = ["i am hungry .", "i love you .", "where is the station ?", "he is reading a book .",
            "we will go to school tomorrow .", "tom didn't know what to say ."]

available = [s for s in sources.sources_for("seq2seq", kinds=("local", "scratch"))
             if s.kind == "scratch" or (Path(s.ref) / "model.safetensors").exists()]
names = [s.name for s in available]
labels = {s.name: _(s.label) for s in available}
if TRAINED in st.session_state:
    labels[SCRATCH] = _("Your model: {label}").format(label=st.session_state[TRAINED]["label"])
else:
    labels[SCRATCH] = _("Your model (train it in the Train tab)")

url_state({"seq2seq_model": names[0], "seq2seq_text": "i am hungry .", "seq2seq_method": "beam",
           "seq2seq_beam": 5, "seq2seq_alpha": 0.7, "seq2seq_temp": 1.0, "seq2seq_maxlen": 50},
          choices={"seq2seq_model": names, "seq2seq_method": list(S.METHODS)},
          bounds={"seq2seq_beam": (1, 10), "seq2seq_alpha": (0.0, 2.0), "seq2seq_temp": (0.1, 2.0),
                  "seq2seq_maxlen": (5, 80)})
DATASETS = {"zh": _("Tatoeba English→Chinese (18k train pairs)"), "fr": _("Tatoeba English→French (4.5k train pairs)"),
            "upload": _("Upload your own pairs (.tsv)")}  # keys: option values (URL); values: what the box shows
METHOD_NAMES = {"greedy": _("greedy"), "beam": _("beam"), "sample": _("sample")}  # S.METHODS as shown
CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "transformer": "Transformer"}  # S.CELLS as shown
MAX_TRAIN_PAIRS = 20_000
MAX_SECONDS = 300
# training and experiment settings: in the URL too, so they survive while their tab is closed (lazy tabs)
HIDDEN_SIZES, EMB_SIZES, LRS = [32, 64, 128, 192, 256], [16, 32, 64, 96, 128], [3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]
url_state({"seq2seq_data": next(iter(DATASETS)), "seq2seq_up_tok": "words", "seq2seq_n_pairs": 4000,
           "seq2seq_attention": S.ATTENTIONS[1], "seq2seq_cell": S.CELLS[0], "seq2seq_hidden": 64, "seq2seq_emb": 32,
           "seq2seq_epochs": 3, "seq2seq_tf": 1.0, "seq2seq_lr": 3e-3, "seq2seq_budget": 90, "seq2seq_cmp_n": 300,
           "seq2seq_toy_s": 30},
          choices={"seq2seq_data": list(DATASETS), "seq2seq_up_tok": ["words", "chars"],
                   "seq2seq_attention": list(S.ATTENTIONS), "seq2seq_cell": list(S.CELLS),
                   "seq2seq_hidden": HIDDEN_SIZES, "seq2seq_emb": EMB_SIZES, "seq2seq_lr": LRS},
          bounds={"seq2seq_n_pairs": (200, MAX_TRAIN_PAIRS), "seq2seq_epochs": (1, 20), "seq2seq_tf": (0.0, 1.0),
                  "seq2seq_budget": (10, MAX_SECONDS), "seq2seq_cmp_n": (50, 2000), "seq2seq_toy_s": (5, 60)})

st.selectbox(_("Model"), names, key="seq2seq_model", format_func=lambda n: labels.get(n, n),
             help=_("Shipped checkpoints live in assets/models/ (model cards there); 'Your model' is the one "
                    "you train in this session."))


def current_bundle():
    """The selected model bundle, or None (with a hint) when the session model isn't trained yet."""
    name = st.session_state["seq2seq_model"]
    if name == SCRATCH:
        trained = st.session_state.get(TRAINED)
        return trained["bundle"] if trained else None
    with guard():
        return st_cache.load_source(sources.get_source("seq2seq", name))


def translate(text: str, method: str, width: int = 5, alpha: float = 0.7, max_len: int = 50,
              temperature: float = 1.0) -> dict:
    """Translate with the selected model; a shipped (shared, read-only) model's results are shared by
    every session, so the default sentence costs nothing after the first visitor."""
    name = st.session_state["seq2seq_model"]
    kwargs = dict(beam_width=width, alpha=alpha, seed=seed(), max_len=max_len, temperature=temperature)
    if name == SCRATCH:
        return S.translate(bundle, text, method, **kwargs)
    return st_cache.shared(S.translate, bundle, f"seq2seq/{name}", text, method, **kwargs)


bundle = current_bundle()
if bundle is not None:
    cfg = bundle.config
    meta = bundle.meta or {}
    if cfg.cell == "transformer":
        facts = _("Transformer · {layers} encoder + {layers} decoder blocks · d_model {d_model} · {heads} heads · "
                  "{params:,} parameters · vocab {src_vocab:,} en / {tgt_vocab:,} {tgt_lang}").format(
            layers=cfg.num_layers, d_model=cfg.emb_dim, heads=cfg.n_heads, params=S.count_parameters(bundle.model),
            src_vocab=len(bundle.src_vocab), tgt_vocab=len(bundle.tgt_vocab), tgt_lang=cfg.tgt_lang)
    else:
        facts = _("{cell} · attention **{attention}** · {params:,} parameters · vocab {src_vocab:,} en / "
                  "{tgt_vocab:,} {tgt_lang}").format(cell=cfg.cell.upper(), attention=cfg.attention,
                                                     params=S.count_parameters(bundle.model),
                                                     src_vocab=len(bundle.src_vocab),
                                                     tgt_vocab=len(bundle.tgt_vocab), tgt_lang=cfg.tgt_lang)
    if "val_bleu_greedy" in meta:
        facts += _(" · validation BLEU greedy **{greedy:.1f}**, beam {width} **{beam:.1f}** ({pairs} pairs)").format(
            greedy=meta["val_bleu_greedy"], width=meta.get("beam_width", 5), beam=meta["val_bleu_beam"],
            pairs=meta.get("val_pairs", "?"))
    st.caption(facts)
    if st.session_state["seq2seq_model"] != SCRATCH:
        st.caption(_(sources.get_source("seq2seq", st.session_state["seq2seq_model"]).description))

tab_translate, tab_train, tab_compare, tab_math = lazy_tabs(
    [N_("🌐 Translate"), N_("🏋️ Train"), N_("📊 Attention vs none"), N_("📐 How it works")], key="seq2seq_tab")

# =============================================================================================
# Translate
# =============================================================================================
with tab_translate:
    if tab_translate.open is not False:  # lazy tabs: only the open tab's code runs
        st.text_input(_("English sentence"), key="seq2seq_text",
                      max_chars=S.max_source_chars(bundle.config) if bundle is not None else S.MAX_INPUT_CHARS,
                      help=_("Lower-case words and punctuation work best, e.g. {examples}").format(
                          examples=" · ".join(EXAMPLES[:4])))
        if bundle is not None:
            n_tokens = len(S.tokenize(st.session_state["seq2seq_text"] or "", bundle.config.src_tokenizer))
            st.caption(_("{n} of at most {limit} tokens (words and punctuation marks): this model was trained on "
                         "sentences of up to {max_len}.").format(n=n_tokens, limit=S.max_source_tokens(bundle.config),
                                                                max_len=bundle.config.max_src_len))
        c1, c2, c3, c4, c5 = st.columns([1.4, 1, 1, 1, 1])
        c1.radio(_("Decoding"), list(S.METHODS), key="seq2seq_method", horizontal=True, format_func=METHOD_NAMES.get,
                 help=_("greedy: most likely token each step · beam: keep the k best prefixes · sample: draw tokens."))
        method = st.session_state["seq2seq_method"]
        c2.slider(_("Beam width k"), 1, 10, key="seq2seq_beam", disabled=method != "beam",
                  help=_("k = 1 is exactly greedy search."))
        c3.slider(_("Length penalty α"), 0.0, 2.0, step=0.1, key="seq2seq_alpha",
                  help=_("Hypotheses are ranked by log P(y) / L^α; α = 0 favours short outputs."))
        c4.slider(_("Temperature"), 0.1, 2.0, step=0.1, key="seq2seq_temp", disabled=method != "sample",
                  help=_("Sampling only: < 1 sharper, > 1 flatter. The sidebar seed fixes the draw."))
        c5.slider(_("Max output tokens"), 5, 80, key="seq2seq_maxlen")
        sync_url()

        if bundle is None:
            st.info(_("You haven't trained a model in this session yet: open the **Train** tab, or pick a shipped "
                      "model."))
        else:
            text = st.session_state["seq2seq_text"]
            alpha = float(st.session_state["seq2seq_alpha"])
            width = int(st.session_state["seq2seq_beam"])
            max_len = int(st.session_state["seq2seq_maxlen"])
            with guard():
                with queued("generate", 30):
                    t0 = time.perf_counter()
                    result = translate(text, method, width, alpha, max_len, float(st.session_state["seq2seq_temp"]))
                    elapsed = time.perf_counter() - t0
                    greedy = result if method == "greedy" else translate(text, "greedy", alpha=alpha, max_len=max_len)
            best = result["hypotheses"][0]
            st.session_state["seq2seq_result"] = {"text": result["text"], "tokens": result["tokens"],
                                                  "method": method, "greedy_tokens": greedy["tokens"],
                                                  "has_attention": result["attention"] is not None}
            st.markdown("#### " + (result["text"] or _("(empty output)")))
            st.caption(_("{method} · {n} tokens · log P(y|x) = {logp:.3f} · L = {length} · log P / L^α = {score:.3f} · "
                         "{ms:.0f} ms").format(method=METHOD_NAMES.get(method, method), n=len(result["tokens"]),
                                               logp=best["logp"], length=best["length"], score=best["norm_score"],
                                               ms=elapsed * 1000)
                       + ("" if result["finished"] else _(" · stopped at the length limit (no <eos>)")))
            if result["unknown"]:
                st.warning(_("Not in the model's vocabulary (read as `<unk>`): {words}").format(
                    words=", ".join(f"`{w}`" for w in result["unknown"][:20])))
            if method == "beam":
                if width == 1:
                    same = result["tokens"] == greedy["tokens"]
                    (st.success if same else st.error)(
                        _("Beam width 1 = greedy: identical output ✓") if same
                        else _("Beam width 1 = greedy: outputs differ ✗"))
                else:
                    st.caption(_("Greedy would give: **{text}** (log P = {logp:.3f}, score {score:.3f})").format(
                        text=greedy["text"] or _("(empty)"), logp=greedy["hypotheses"][0]["logp"],
                        score=greedy["hypotheses"][0]["norm_score"]))

            if result["attention"] is not None:
                fig = attention_heatmap(result["attention"], result["attention_rows"], result["source_tokens"],
                                        title=_("Cross-attention: which source word each output token looked at"),
                                        query_title=_("generated token"), key_title=_("source token"))
                st.plotly_chart(fig, width="stretch", key="seq2seq_heatmap")
                if bundle.config.cell == "transformer":
                    st.caption(_("A Transformer has {n} cross-attention layers of {heads} heads each; this map is the "
                                 "last decoder layer's, averaged over its heads. The Transformer page shows every "
                                 "layer and head.").format(n=bundle.config.num_layers, heads=bundle.config.n_heads))
                att_df = pd.DataFrame(result["attention"], index=result["attention_rows"],
                                      columns=result["source_tokens"])
                figure_downloads(fig, "seq2seq_attention", "seq2seq_dl_att", att_df)
            else:
                st.info(_("This model has **no attention**: the decoder only sees one fixed context vector c "
                          "(the encoder's final state), so there is no heatmap. Pick an attention model to see one."))

            if method == "beam":
                st.subheader(_("Finished beam hypotheses"))
                hyps = result["hypotheses"]
                rank = _("rank")
                df = pd.DataFrame([{rank: i + 1, _("translation"): h["text"] or _("(empty)"), "log P(y|x)": h["logp"],
                                    _("length L"): h["length"], f"log P / L^{alpha:g}": h["norm_score"],
                                    _("ended with <eos>"): h["finished"]} for i, h in enumerate(hyps)])
                st.table(df.set_index(rank).style.format(precision=3))
                st.download_button(_("Download hypotheses (CSV)"), df.to_csv(index=False), "seq2seq_hypotheses.csv",
                                   "text/csv", key="seq2seq_dl_hyps")
                st.caption(_("Move α: the search itself keeps prefixes by raw log P; α only changes how the finished "
                             "hypotheses are ranked. Where two lines cross below, their order flips."))
                st.plotly_chart(S.alpha_figure(hyps, alpha), width="stretch", key="seq2seq_alpha_fig")
                st.subheader(_("Beam search tree"))
                st.caption(_("Each column is a decoding step; blue = kept in the beam, green = finished with <eos>, "
                             "grey = pruned, orange = cut at the length limit; red = the best hypothesis. Hover for "
                             "scores."))
                tree_fig = S.beam_tree_figure(result["tree"])
                st.plotly_chart(tree_fig, width="stretch", key="seq2seq_tree")
                figure_downloads(tree_fig, "seq2seq_beam_tree", "seq2seq_dl_tree")

# =============================================================================================
# Train
# =============================================================================================


def load_pairs(choice: str, upload, tgt_tokenizer: str):
    """(train pairs, val pairs, target tokenizer, language code) for the chosen data."""
    if choice in ("zh", "fr"):
        train, val = split_pairs(tatoeba(choice))
        return train, val, "chars" if choice == "zh" else "words", choice
    if upload is None:
        raise ValueError(_("Upload a tab-separated file first: one 'English<TAB>translation' pair per line."))
    pairs = S.parse_pairs(decode_upload(upload.getvalue(), what="pairs file"))
    train, val = split_pairs(pairs)
    return train, val, tgt_tokenizer, "xx"


with tab_train:
    if tab_train.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("Train a small translator in your browser session. The bigger and longer, the better it gets; "
                      "on this shared CPU a few minutes gives a model that knows short everyday sentences."))
        with st.form("seq2seq_train_form"):
            f1, f2, f3 = st.columns(3)
            data_choice = f1.selectbox(_("Data"), list(DATASETS), format_func=DATASETS.get, key="seq2seq_data")
            upload = f1.file_uploader(_("Pairs file (for 'Upload')"), type=["tsv", "txt"], key="seq2seq_upload",
                                      help=_("UTF-8 text, one pair per line: English<TAB>translation[<TAB>attribution]. "
                                             "Every 10th pair is kept for validation."))
            up_tok = f1.radio(_("Uploaded target split into"), ["words", "chars"], horizontal=True, key="seq2seq_up_tok",
                              format_func={"words": _("words"), "chars": _("chars")}.get,
                              help=_("'chars' for Chinese/Japanese, 'words' for languages with spaces."))
            n_pairs = f2.slider(_("Training pairs (max)"), 200, MAX_TRAIN_PAIRS, step=200, key="seq2seq_n_pairs")
            attention = f2.selectbox(_("Attention"), list(S.ATTENTIONS), key="seq2seq_attention",
                                     format_func={"none": _("none (one context vector)"),
                                                  "additive": _("additive (Bahdanau)"),
                                                  "dot": _("dot product (Luong)")}.get)
            cell = f2.radio(_("Cell"), list(S.CELLS), horizontal=True, key="seq2seq_cell", format_func=CELL_NAMES.get,
                            help=_("Transformer: 2 encoder + 2 decoder blocks, 4 heads, d_model = the embedding "
                                   "size, feed-forward = the hidden size; it ignores the attention choice (it "
                                   "attends by scaled dot products) and trains with a one-epoch warm-up and label "
                                   "smoothing 0.1."))
            hidden = f2.select_slider(_("Hidden size"), HIDDEN_SIZES, key="seq2seq_hidden")
            emb = f2.select_slider(_("Embedding size"), EMB_SIZES, key="seq2seq_emb")
            epochs = f3.slider(_("Epochs"), 1, 20, key="seq2seq_epochs")
            tf_ratio = f3.slider(_("Teacher-forcing ratio"), 0.0, 1.0, step=0.05, key="seq2seq_tf",
                                 help=_("Probability that the decoder is fed the true previous token instead of its own "
                                        "prediction while training. 1 = always (fast to learn, exposure bias), "
                                        "0 = never (free running)."))
            lr = f3.select_slider(_("Learning rate"), LRS, key="seq2seq_lr")
            budget = f3.slider(_("Time budget (s)"), 10, MAX_SECONDS, step=10, key="seq2seq_budget",
                               help=_("Training stops (and validates) when the time runs out."))
            go_train = st.form_submit_button(_("Train"), type="primary")

        chart_loss, chart_epochs, table_epochs = st.empty(), st.empty(), st.empty()
        # the per-epoch table's column headers (history["epochs"] keys), shown translated
        EPOCH_COLUMNS = {"epoch": _("epoch"), "train_loss": _("train_loss"), "val_loss_tf": _("val_loss_tf"),
                         "val_loss_free": _("val_loss_free"), "val_bleu": _("val_bleu"), "seconds": _("seconds"),
                         "steps": _("steps")}
        draws = [0]  # live redraws replace the same slots; each needs a fresh element key

        def draw(history: dict) -> None:
            draws[0] += 1
            f_loss, f_ep = S.history_figures(history)
            chart_loss.plotly_chart(f_loss, width="stretch", key=f"seq2seq_loss_{draws[0]}")
            if history.get("epochs"):
                chart_epochs.plotly_chart(f_ep, width="stretch", key=f"seq2seq_ep_{draws[0]}")
                table_epochs.dataframe(pd.DataFrame(history["epochs"]).drop(columns=["partial"]).round(3)
                                       .rename(columns=EPOCH_COLUMNS),
                                       hide_index=True, width="stretch")

        if go_train:
            with guard():
                train_pairs, val_pairs, tgt_tok, lang = load_pairs(data_choice, upload, up_tok)
                train_pairs, val_epoch = S.training_selection(train_pairs, val_pairs, n_pairs, n_val=200)
                is_tf = cell == "transformer"
                cfg_new = S.Seq2SeqConfig(src_lang="en", tgt_lang=lang, tgt_tokenizer=tgt_tok, emb_dim=emb,
                                          hidden_dim=hidden, cell=cell, attention="dot" if is_tf else attention,
                                          num_layers=2 if is_tf else 1, n_heads=4, dropout=0.1,
                                          max_src_len=25, max_tgt_len=40)
                sv, tv = S.build_vocabs(train_pairs, cfg_new, min_freq=2 if len(train_pairs) > 2000 else 1)
                new = S.new_bundle(cfg_new, sv, tv, seed=seed())
                tcfg = S.TrainConfig(epochs=epochs, batch_size=64, lr=lr, lr_decay=0.9, teacher_forcing=tf_ratio,
                                     max_seconds=budget, seed=seed(), val_pairs=200,
                                     warmup=-(-len(train_pairs) // 64) if is_tf else 0,
                                     label_smoothing=0.1 if is_tf else 0.0)
                history: dict = {"steps": [], "loss": [], "epochs": []}
                label = (_("Transformer d{d_model} ff{hidden}, {n} en→{lang} pairs").format(
                    d_model=emb, hidden=hidden, n=len(train_pairs), lang=lang) if is_tf else
                    _("{attention} {cell} h{hidden}, {n} en→{lang} pairs").format(
                    attention=attention, cell=cell, hidden=hidden, n=len(train_pairs), lang=lang))
                with queued("train", 20):
                    # stop-button pattern: the model and its history live in the session before the loop starts
                    st.session_state[TRAINED] = {"bundle": new, "history": history, "label": label, "lang": lang,
                                                 "val": val_pairs}
                    st.button(_("⏹ Stop (keeps the model trained so far)"), key="seq2seq_stop")
                    on_step, bar = progress_callback(_("Training…"))
                    last = [0.0]

                    def step_cb(done, total, info):
                        on_step(done, total, info)
                        if time.monotonic() - last[0] > 1.5:
                            last[0] = time.monotonic()
                            draw(history)

                    S.train(new, train_pairs, val_epoch, tcfg, on_step=step_cb, on_epoch=lambda rec: draw(history),
                            history=history)
                stopped = S.stop_reason(history)
                bar.progress(1.0, text=_("Done ({reason})").format(reason=stopped) if stopped else _("Done"))

        trained = st.session_state.get(TRAINED)
        if trained:
            if not go_train:
                draw(trained["history"])
            ep = trained["history"].get("epochs", [])
            if ep:
                e = ep[-1]
                st.success(_("Your model: {label} · {steps} steps · validation BLEU {bleu:.1f} · val loss teacher-forced "
                             "{tf:.2f} vs free-running {free:.2f}. Pick **Your model** in the model box above to "
                             "translate with it.").format(label=trained["label"], steps=e["steps"], bleu=e["val_bleu"],
                                                          tf=e["val_loss_tf"], free=e["val_loss_free"]))
                st.caption(_("The gap between the red (free-running) and blue (teacher-forced) validation loss is "
                             "**exposure bias**: in training the decoder always saw correct prefixes, at test time it "
                             "must live with its own mistakes. Lower teacher forcing narrows the gap, at the price of "
                             "slower learning."))
            with guard(stop=False):
                buf = io.BytesIO()
                with tempfile.TemporaryDirectory() as tmp:
                    S.save_checkpoint(trained["bundle"], Path(tmp) / "seq2seq", "# seq2seq trained in NLP Playground\n",
                                      half=False)
                    with zipfile.ZipFile(buf, "w") as zf:
                        for f in (Path(tmp) / "seq2seq").iterdir():
                            zf.write(f, f"seq2seq/{f.name}")
                st.download_button(_("Download your model (zip: safetensors + config + vocab)"), buf.getvalue(),
                                   "seq2seq_model.zip", "application/zip", key="seq2seq_dl_model")
        elif not go_train:
            st.info(_("Set the options and press **Train**. Loss curves appear live; after every epoch the page "
                      "measures validation BLEU and the teacher-forced and free-running validation losses."))

# =============================================================================================
# Compare attention vs no attention
# =============================================================================================
with tab_compare:
    if tab_compare.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("Without attention the whole sentence must squeeze through **one fixed vector**; with attention "
                      "the decoder re-reads every encoder state at every step. Both shipped English→Chinese models "
                      "have the same size, data and wall-clock training budget (see the steps column); here is their "
                      "greedy BLEU on the validation pairs, by source-sentence length."))
        shipped = {}  # model name as shown -> bundle
        for name, title in (("en-zh-attention", _("additive attention")), ("en-zh-none", _("no attention"))):
            src_ = sources.get_source("seq2seq", name)
            if (Path(src_.ref) / "model.safetensors").exists():
                with guard(stop=False):
                    shipped[title] = st_cache.load_source(src_)
        results = {t: b.meta["bleu_by_length"] for t, b in shipped.items() if b.meta.get("bleu_by_length")}
        if results:
            fig_b = S.buckets_figure(results)
            st.plotly_chart(fig_b, width="stretch", key="seq2seq_buckets")
            overall = pd.DataFrame([{_("model"): t, _("BLEU greedy"): b.meta.get("val_bleu_greedy"),
                                     _("BLEU beam {width}").format(width=b.meta.get("beam_width", 5)):
                                         b.meta.get("val_bleu_beam"),
                                     _("validation pairs"): b.meta.get("val_pairs"), _("steps"): b.meta.get("steps")}
                                    for t, b in shipped.items()])
            st.dataframe(overall, hide_index=True, width="stretch")
            rows = [{"model": t, **r} for t, rs in results.items() for r in rs]
            figure_downloads(fig_b, "seq2seq_bleu_by_length", "seq2seq_dl_buckets", pd.DataFrame(rows))
            st.caption(_("Measured by scripts/train_seq2seq.py on all validation pairs (every 10th Tatoeba pair)."))
        else:
            st.info(_("The shipped comparison checkpoints are not available; run scripts/train_seq2seq.py (see README)."))

        trained = st.session_state.get(TRAINED)
        if trained:
            st.markdown(_("**Your model** on its validation pairs (the same buckets):"))
            n_val = st.slider(_("Validation pairs"), 50, 2000, step=50, key="seq2seq_cmp_n")
            if st.button(_("Evaluate your model"), key="seq2seq_cmp_go"):
                with guard():
                    with queued("eval", 20):
                        on_step, _bar = progress_callback(_("Translating validation pairs…"))  # not `_`: translates
                        ev = S.evaluate_bleu(trained["bundle"], trained["val"][:n_val], on_step=on_step)
                    rows_me = S.bleu_by_length(ev["sources"], ev["hypotheses"], ev["references"])
                    st.plotly_chart(S.buckets_figure({**results, _("your model"): rows_me}), width="stretch",
                                    key="seq2seq_buckets_me")
                    st.caption(_("Your model: BLEU {bleu:.2f} on {n} pairs.").format(bleu=ev["bleu"],
                                                                                    n=len(ev["references"])))

        st.divider()
        st.markdown(_("**Live experiment: reverse a sequence.** A toy task where output word $t$ must copy source "
                      "word $S+1-t$ (`w3 w7 w1` → `w1 w7 w3`). Three tiny models with the same size and time budget: "
                      "no attention, additive and dot-product attention. Watch validation BLEU after each epoch."))
        toy_seconds = st.slider(_("Seconds per model"), 5, 60, step=5, key="seq2seq_toy_s",
                                help=_("On a busy server the models get fewer steps in the same time; 30 s is usually "
                                       "enough for attention to pull far ahead."))
        if st.button(_("Run the experiment"), key="seq2seq_toy_go"):
            with guard():
                with queued("train", 20):
                    toy_runs: dict = {}
                    st.session_state["seq2seq_toy"] = toy_runs  # before training: a Stop keeps the finished models
                    toy_chart = st.empty()
                    S.toy_attention_experiment(
                        toy_seconds, seed(), runs=toy_runs,
                        on_model=lambda kind: progress_callback(_("Training attention = {kind}…").format(kind=kind))[0],
                        on_epoch=lambda rec: toy_chart.plotly_chart(S.toy_figure(toy_runs), width="stretch",
                                                                    key=f"seq2seq_toy_live_{time.monotonic()}"))
        if st.session_state.get("seq2seq_toy"):
            toy_runs = st.session_state["seq2seq_toy"]
            st.plotly_chart(S.toy_figure(toy_runs), width="stretch", key="seq2seq_toy_fig")
            st.caption(" · ".join(_("{kind}: BLEU {bleu:.1f} after {steps} steps").format(
                kind=k, bleu=v["epochs"][-1]["val_bleu"], steps=v["epochs"][-1]["steps"])
                for k, v in toy_runs.items() if v.get("epochs")))

# =============================================================================================
# The math
# =============================================================================================
with tab_math:
    if tab_math.open is not False:  # lazy tabs: only the open tab's code runs
        st.markdown(_("**Encoder.** A bidirectional GRU reads the source words $x_1..x_S$ (plus `<eos>`) into states "
                      "$h_1..h_S$. **Decoder.** Another GRU produces $s_t$ and a distribution over the next token:"))
        st.latex(r"s_t = \mathrm{GRU}(s_{t-1}, [e(y_{t-1}); c_t]),\qquad "
                 r"p(y_t \mid y_{<t}, x) = \mathrm{softmax}(W_o \tanh(W_p [s_t; c_t; e(y_{t-1})]))")
        st.markdown(_("**Context vector $c_t$.** Without attention $c_t = c = h_S$ for every step (one vector for the "
                      "whole sentence). With attention it is a weighted average of all encoder states:"))
        st.latex(r"c_t = \sum_i \alpha_{t,i} h_i,\qquad \alpha_{t,i} = \frac{\exp e_{t,i}}{\sum_j \exp e_{t,j}},\qquad "
                 r"e_{t,i} = \begin{cases} v^\top \tanh(W s_{t-1} + U h_i) & \text{additive (Bahdanau)}\\ "
                 r"s_t^\top h_i & \text{dot (Luong)}\end{cases}")
        st.markdown(_("Padding positions get $e_{t,i} = -\\infty$, so $\\alpha_{t,i} = 0$ exactly, and padded target "
                      "positions are left out of the loss. The heatmap shows $\\alpha_{t,i}$ (each row sums to 1)."))
        st.markdown(_("**Teacher forcing.** Training minimizes the cross-entropy of the reference translation:"))
        st.latex(r"\mathcal{L} = -\frac{1}{T}\sum_{t=1}^{T} \log p(y_t^\ast \mid \tilde y_{<t}, x),\qquad "
                 r"\tilde y_{t-1} = \begin{cases} y_{t-1}^\ast & \text{with probability } r\\ "
                 r"\arg\max p(\cdot \mid \tilde y_{<t-1}, x) & \text{otherwise}\end{cases}")
        st.markdown(_("With $r = 1$ the decoder only ever sees correct prefixes; at test time it is fed its own "
                      "output, and its mistakes compound: **exposure bias**. The *free-running* validation loss uses "
                      "$r = 0$ and shows the gap."))
        st.markdown(_("**Decoding.** Greedy picks $\\arg\\max$ each step. Beam search keeps the $k$ most likely "
                      "prefixes; finished hypotheses are ranked by the length-normalized score"))
        st.latex(r"\mathrm{score}(y) = \frac{\log P(y \mid x)}{L^{\alpha}} = "
                 r"\frac{1}{L^{\alpha}} \sum_{t=1}^{L} \log p(y_t \mid y_{<t}, x)")
        st.markdown(_("($L$ counts `<eos>`). Every token adds a negative log-probability, so raw $\\log P$ favours short "
                      "outputs; $\\alpha \\approx 0.7$ evens that out. With $k = 1$ beam search *is* greedy search. "
                      "Sampling draws $y_t \\sim \\mathrm{softmax}(\\log p / T)$."))
        st.markdown(_("**Transformer.** The model box and the Train tab also offer a Transformer: no recurrence at all. "
                      "The encoder and the decoder are stacks of blocks of multi-head attention and feed-forward layers "
                      "(the Transformer page builds them one by one), and every decoder block reads the source by "
                      "scaled dot-product cross-attention in each head, with queries from the decoder states $S$ and keys "
                      "and values from the encoder outputs $H$:"))
        st.latex(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V,"
                 r"\qquad Q = S W^Q,\; K = H W^K,\; V = H W^V")
        st.markdown(_("Teacher forcing, the loss, greedy and beam search and BLEU are the same as for the GRU; during "
                      "training all target positions are computed at once, with the causal mask hiding the future."))
        st.markdown(_("**BLEU** (0–100) compares $n$-gram overlap with the reference, $n = 1..4$, times a brevity "
                      "penalty; for Chinese the $n$-grams are characters:"))
        st.latex(r"\mathrm{BLEU} = \min\!\left(1, e^{1 - r/c}\right) \exp\Big(\tfrac14 \sum_{n=1}^{4} \log p_n\Big)")

sync_url()  # every tab's inputs (and the open tab) into the permalink
