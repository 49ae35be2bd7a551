"""The evaluate stage's confusion matrix and per-class scores, held to scikit-learn's."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from scratchnet.scoring import confusion, per_class_scores


@pytest.mark.parametrize("seed", range(5))
def test_the_same_numbers_as_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = 10
    labels = rng.integers(0, k - 1, 500)  # class 9 never present
    predicted = np.where(rng.random(500) < 0.8, labels, rng.integers(0, k, 500))
    predicted[predicted == 3] = 4  # class 3 never predicted
    counts = confusion(labels, predicted, k)
    np.testing.assert_array_equal(counts, confusion_matrix(labels, predicted, labels=list(range(k))))
    ours = per_class_scores(counts)
    theirs = precision_recall_fscore_support(labels, predicted, labels=list(range(k)), zero_division=0)
    for name, a, b in zip(("precision", "recall", "support"), ours[:2] + ours[3:], theirs[:2] + theirs[3:]):
        np.testing.assert_array_equal(a, b, err_msg=name)
    # F1 to round-off: the counts give it exactly, and a scikit-learn that derives it from precision and recall may differ in the last bit
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12, atol=0)
    assert ours[0][3] == 0 and ours[1][9] == 0 and ours[2][9] == 0  # undefined scores are 0, not NaN


def test_a_perfect_and_an_all_wrong_prediction():
    labels = np.array([0, 1, 2, 2])
    assert [s.tolist() for s in per_class_scores(confusion(labels, labels, 3))] == [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 2]]
    wrong = per_class_scores(confusion(labels, (labels + 1) % 3, 3))
    assert wrong[0].tolist() == wrong[1].tolist() == wrong[2].tolist() == [0, 0, 0]
