"""Draw the README's picture: a fast-weight memory filling up, as the widget of notebook 00 shows it.

Run: python docs/make_readme_figure.py  (writes docs/img/fast_weights.png)
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from fwcourse import associative_memory  # noqa: E402
from fwcourse.course import viz  # noqa: E402

rng = np.random.default_rng(0)
keys = rng.standard_normal((8, 8)) / np.sqrt(8)
values = rng.standard_normal((8, 8))
W = associative_memory.write_sequence(keys, values)
fig = viz.matrix_figure(W, [0, 1, 3, 7], titles=[f"W after {t + 1} write{'s' if t else ''}" for t in range(8)],
                        suptitle="A fast-weight memory filling up: W = sum of v k^T")
fig.savefig(Path(__file__).parent / "img" / "fast_weights.png", dpi=80)
