"""Each lab's learner copy (lab.ipynb) is exactly what the generator makes from its solution.ipynb."""

from __future__ import annotations

import pytest
from tests.labs.conftest import LABS_ROOT

from k8snet.labs import LABS, notebook


@pytest.mark.parametrize("lab", sorted(LABS))
def test_learner_copy_is_generated_from_the_solution(lab):
    folder = LABS_ROOT / lab
    assert (folder / notebook.LEARNER).read_text() == notebook.render(folder), \
        f"regenerate it: python -m k8snet.labs.notebook labs/{lab}"
