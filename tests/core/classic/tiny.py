"""A tiny annotated corpus (words with PKU tags) shared by the HMM and CRF tests."""
from core.classic import corpus

S_ = corpus.Sentence
TINY = [
    S_(("我们", "参观", "了", "北京", "天安门", "。"), ("r", "v", "u", "ns", "ns", "w")),
    S_(("江", "泽民", "主席", "参观", "了", "上海", "。"), ("nr", "nr", "n", "v", "u", "ns", "w")),
    S_(("商品", "和", "服务", "。"), ("n", "c", "vn", "w")),
    S_(("新华社", "记者", "李", "明", "报道", "。"), ("nt", "n", "nr", "nr", "v", "w")),
    S_(("他", "说", "的", "确实", "在理", "。"), ("r", "v", "u", "ad", "v", "w")),
]
