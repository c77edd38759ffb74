"""Classic Chinese NLP (经典 NLP): the People's Daily corpus and its fixed split (`corpus`), scores
(`metrics`), dictionary and bigram-lattice segmentation (`segment`), HMMs with Viterbi (`hmm`),
CRFs with CRFsuite (`crf`), keywords and new-word discovery (`keywords`), n-gram language models with
add-k, Good–Turing, absolute discounting, Kneser–Ney and stupid backoff (`ngram`).
"""
