"""NLP Playground compute layer: models, training, decoding, metrics, loaders, plots.

Nothing in here imports streamlit except `core.st_cache`, which wraps loaders in
`st.cache_resource`. Functions return plain data (lists, dicts, numpy arrays, dataclasses).
"""
