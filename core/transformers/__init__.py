"""The Transformer family (Transformer 家族): attention step by step (`attention`), BERT fill-mask and its MLM head (`fillmask`, `mlm_train`), GPT decoding (`generate`, `sampling`, `lean_llama`), and the tiny GPT trained here (`tinygpt`).

Not to be confused with the Hugging Face library `transformers`: inside core, `import transformers` is always that library.
"""
