"""The fixed train/validation split of the bundled corpora."""
import re

from core import corpora

SHREW = {"PETRUCHIO", "KATHARINA", "BAPTISTA", "TRANIO", "LUCENTIO", "GREMIO", "HORTENSIO", "BIANCA"}


def _speakers(text: str) -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z ]+):$", text, re.M))


def test_split_text_holds_out_the_tail_and_loses_nothing():
    text = "abcdefghij" * 100
    train, val = corpora.split_text(text)
    assert train + val == text
    assert len(val) == round(len(text) * corpora.VAL_FRACTION)
    assert corpora.split_text(text, 0.1)[1] == text[-100:]


def test_shakespeare_training_part_reaches_into_the_held_out_play():
    # Why VAL_FRACTION is 5%: the held-out tail is The Taming of the Shrew, and with 5% its main
    # speakers already speak in the training part (as in the classic split of the full corpus).
    # With 10% none of them would: the whole play would be new.
    train, val = corpora.split_text(corpora.shakespeare())
    assert SHREW <= _speakers(val)
    assert SHREW <= _speakers(train)
    old_train, _ = corpora.split_text(corpora.shakespeare(), 0.1)
    assert not SHREW & _speakers(old_train)
