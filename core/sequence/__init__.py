"""Sequence models (序列模型): character RNN/GRU/LSTM language models (`charlm`), the GRU encoder-decoder translator with attention and beam search (`seq2seq`).
"""
