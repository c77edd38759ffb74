"""Home: the path from word vectors to GPT, with a link to each page."""

# First: a page run without the entry point reruns through it (pages/_shared.py).
from pages._shared import run_through_entry_point

run_through_entry_point()

import streamlit as st

st.title("NLP Playground")
st.markdown(
    "Learn how modern NLP works by **using** the models. Each page is one step on the road from "
    "word vectors to GPT; every model runs right here, offline, on your own text."
)

STEPS = [
    ("pages/word_vectors.py", "1 · Word vectors",
     "Words become dense vectors (word embeddings, 词向量) whose geometry encodes meaning: "
     "*king − man + woman ≈ queen*. Explore GloVe, and train word2vec on your own text."),
    ("pages/rnn_text.py", "2 · RNN text generation",
     "A recurrent network reads text one character at a time and predicts the next one. Train "
     "RNN, GRU and LSTM language models live and see why plain RNNs forget (vanishing gradients)."),
    ("pages/seq2seq.py", "3 · Seq2seq translation",
     "An encoder RNN reads a sentence, a decoder RNN writes its translation. One fixed context "
     "vector is a bottleneck; **attention** lets the decoder look back at every source word."),
    ("pages/attention.py", "4 · Attention",
     "Attention on its own, softmax(QKᵀ/√d_k)V, is the building block of the Transformer: see it "
     "step by step, with masks, multiple heads and positional encodings, inside real models."),
    ("pages/bert.py", "5 · BERT fill-mask",
     "A Transformer encoder pre-trained to fill in blanks ([MASK]) learns contextual word vectors: "
     "'bank' by a river and 'bank' with money get different vectors."),
    ("pages/gpt.py", "6 · GPT sampling",
     "A Transformer decoder predicts the next token, again and again. See the distribution at "
     "every step and how temperature, top-k and top-p reshape it; train a tiny GPT yourself."),
]
for path, label, text in STEPS:
    with st.container(border=True):
        try:
            st.page_link(path, label=label)
        except Exception:  # run on its own (not through streamlit_app.py): no navigation to link into
            st.markdown(f"**{label}**")
        st.markdown(text)

st.caption(
    "Everything works offline with packaged models: GloVe 6B (50-d), MiniLM-L6 and SmolLM2-135M, "
    "plus small models trained by scripts in this repository. Hugging Face Hub models are an "
    "extra when the machine has network."
)
