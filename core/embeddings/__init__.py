"""Word vectors (词向量): GloVe analogies and maps (`wordvec`), word2vec training (`word2vec_train`).
"""
