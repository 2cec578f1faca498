import numpy as np

from problems.measure_sources import Evaluated, measure_source
from qd.embeddings.embedders import NgramEmbedder, code_hash, normalise_code
from qd.program.novelty import NoveltyFilter

BASE = '''
def f(x):
    """Docstring."""
    # a comment
    return x * 2 + 1
'''


def test_normalisation_ignores_comments_docstrings_and_layout():
    other = 'def f(x):\n    return x*2+1   # different comment\n'
    assert normalise_code(BASE) == normalise_code(other)
    assert code_hash(BASE) == code_hash(other)
    assert code_hash(BASE) != code_hash(BASE.replace("2", "3"))


def test_unparseable_code_still_hashes():
    assert code_hash("def f(:\n  pass") == code_hash("def f(:   pass  # x")


def test_exact_and_near_duplicates_are_rejected():
    filt = NoveltyFilter(threshold=0.95)
    assert filt.check(BASE).novel
    filt.add(BASE)
    exact = filt.check(BASE.replace("# a comment", "# changed"))
    assert not exact.novel and exact.reason == "exact duplicate of an earlier program"
    near = filt.check(BASE.replace("x * 2 + 1", "x * 2 + 2"))
    assert not near.novel and "near duplicate" in near.reason and near.similarity >= 0.95
    far = filt.check("import math\n\ndef g(values):\n    return sorted(values)[::-1]\n")
    assert far.novel and far.similarity < 0.5


def test_threshold_one_keeps_only_exact_stage():
    filt = NoveltyFilter(threshold=1.0)
    filt.add(BASE)
    assert filt.check(BASE.replace("x * 2 + 1", "x * 2 + 2")).novel
    assert not filt.check(BASE).novel


def test_embedder_is_deterministic_and_unit_norm():
    a = NgramEmbedder().embed([BASE, "x = 1"])
    b = NgramEmbedder().embed([BASE, "x = 1"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)


def test_descriptors():
    code = "def f(x):\n    if x:\n        return 1\n    for i in range(3):\n        pass\n"
    def value(source, text, eval_s):
        return measure_source(source).value(0, Evaluated(text, eval_s))

    assert value("complexity", code, 0.0) == 3.0
    assert value("lines", code, 0.0) == 5.0
    assert value("eval_time", code, 1.5) == 1.5
    assert value("code_length", "a\n\n bc\n", 0) == 4.0
