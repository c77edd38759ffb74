"""Classic NLP page (AppTest): each tab opened first renders and does its job; bad inputs (empty,
Latin-only, 2 MB of text) are clear errors, never tracebacks."""
import pytest

from tests.pages.conftest import run_page, errors as _errors, problems as _problems

PAGE = "pages/classic_nlp.py"
pytestmark = pytest.mark.slow
TWO_MB = "中" * (2 * 1024 * 1024 // 3)


def test_dictionary_tab_shows_forward_backward_and_the_bidirectional_rule(fresh_caches):
    at = run_page(PAGE, tab="Dictionary", query={"cl_text": "研究生命起源"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    text = " ".join(m.value for m in at.markdown)
    assert "研究生 <span style='color:#bbb'>/</span> 命" in text  # forward: 研究生 / 命 / 起源
    assert "研究 <span style='color:#bbb'>/</span> 生命" in text  # backward: 研究 / 生命 / 起源
    steps = at.dataframe[0].value
    assert len(steps) >= 3 and "研究生" in set(steps.iloc[:, 2])


SENTENCE_TABS = (("Dictionary", "cl_text"), ("lattice", "cl_lattice_text"), ("HMM", "cl_text"), ("POS", "cl_tag_text"))


@pytest.mark.parametrize("text,message", [("", "empty"), ("hello world", "Chinese")])
def test_bad_sentences_are_errors_in_every_sentence_tab(fresh_caches, text, message):
    for tab, key in SENTENCE_TABS:
        at = run_page(PAGE, tab=tab)
        at.session_state[key] = text
        at.run()
        assert not _problems(at), (tab, _problems(at))
        assert at.error, (tab, "no error shown")
        assert message.lower() in _errors(at).lower(), (tab, _errors(at))


def test_a_2mb_paste_is_cut_to_the_box_limit_and_still_works(fresh_caches):
    """The text boxes have a character limit (the browser cuts a longer paste, and so does Streamlit)."""
    for tab, key in SENTENCE_TABS:
        at = run_page(PAGE, tab=tab)
        at.session_state[key] = TWO_MB
        at.run()
        assert not _problems(at), (tab, _problems(at))
        assert len(at.session_state[key]) <= 200, tab
    at = run_page(PAGE, tab="Keywords")
    at.session_state["cl_doc"] = TWO_MB
    at.run()
    assert not _problems(at), _problems(at)
    assert len(at.session_state["cl_doc"]) <= 20_000


def test_lattice_tab_draws_the_lattice_and_resolves_ma_shang(fresh_caches):
    at = run_page(PAGE, tab="lattice", query={"cl_lattice_text": "他马上下来"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert any("马上" in m.value for m in at.markdown if "Best path" in m.value or "最" in m.value)
    assert at.get("plotly_chart")


def test_hmm_tab_tags_characters_and_shows_the_tables(fresh_caches):
    at = run_page(PAGE, tab="HMM", query={"cl_text": "中国首都北京有故宫"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert len(at.get("plotly_chart")) >= 2  # tag probabilities, transitions
    assert any("CRF" in m.value for m in at.markdown)


def test_pos_and_ner_tab_finds_the_entities(fresh_caches):
    at = run_page(PAGE, tab="POS", query={"cl_tag_text": "江泽民在北京会见了美国客人。"})
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    table = at.dataframe[0].value
    assert "北京" in list(table.iloc[:, 0])
    assert any("北京" in m.value and "LOC" in m.value for m in at.markdown)


def test_keywords_tab_ranks_and_finds_new_words(fresh_caches):
    at = run_page(PAGE, tab="Keywords")
    assert not _problems(at) and not at.error, (_problems(at), _errors(at))
    assert len(at.dataframe) >= 3  # TF, TF-IDF, TextRank
    assert at.get("plotly_chart")  # the co-occurrence graph


@pytest.mark.parametrize("doc", ["", "only latin letters here"])
def test_keywords_tab_bad_documents_are_errors(fresh_caches, doc):
    at = run_page(PAGE, tab="Keywords")
    at.session_state["cl_doc"] = doc
    at.run()
    assert not _problems(at), _problems(at)
    assert at.error


def test_evaluation_tab_scores_every_model(fresh_caches):
    at = run_page(PAGE, tab="Evaluation", timeout=600)
    assert not _problems(at)
    at.button(key="cl_eval_go").click().run()
    assert not _problems(at), _problems(at)
    seg = at.dataframe[0].value
    assert len(seg) == 7  # forward, backward, bidirectional, bigram, jieba, HMM, CRF
    assert seg["F1"].between(0, 1).all()
