"""Word vectors (词向量): GloVe analogies and maps (`wordvec`), word2vec training (`word2vec_train`),
Bengio's neural network language model whose embedding matrix is a by-product (`nnlm`), and a small
ELMo: a bidirectional LSTM language model whose layers are contextual word features (`elmo`).
"""
