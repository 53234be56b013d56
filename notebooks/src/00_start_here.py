# %% [markdown]
# # 00 · Start here
#
# Welcome to **Fast weights, 1992 → 2022**: a hands-on course that builds fast-weight neural
# networks from first principles, from Schmidhuber's 1992 fast-weight controller to Fast Weight
# Layers on a Keras transformer (Clark et al., 2022).
#
# **In this notebook you will**
# 1. see the map of the course and how long each notebook takes;
# 2. choose a *scale* (how big the experiments are);
# 3. solve a warm-up exercise and check it, the way every exercise in the course is checked;
# 4. watch a fast-weight memory being written, with the time-slider widget used throughout;
# 5. print an environment report to paste into a question or bug report.

# %% [markdown]
# ## How the course works
#
# Each notebook tells one idea: the paper's motivation, the math, a small implementation you
# write yourself, a check of your code against the course's tested reference, and an experiment.
# The heavy lifting lives in the Python package `fwcourse`, so the cells stay short. You can
# always read its source: every function cites the equation it implements.
#
# The first code cell of every notebook picks the **scale**:
#
# | scale | for | time |
# |---|---|---|
# | `quick` | a first look, and the automatic tests | under a minute a notebook |
# | `default` | a laptop CPU | minutes; shows the real effect |
# | `full` | the papers' sizes; uses a GPU when there is one | longer |
#
# Set it with the environment variable `FWCOURSE_SCALE` before starting JupyterLab
# (`FWCOURSE_SCALE=quick make lab`), or for one notebook by uncommenting the line in its first cell.

# %%
# Scale: quick | default | full. Uncomment to override FWCOURSE_SCALE for this notebook.
# import os; os.environ["FWCOURSE_SCALE"] = "quick"
from fwcourse.course import config
S = config.sizes("00")
print(config.describe("00"))

# %% [markdown]
# ## The map, and your time budget
#
# The minutes below are measured, not guessed (`python -m fwcourse time-budget --out data`
# writes them; `data/time_budget.md` shows the counts behind them). *Compute* is the notebook run
# top to bottom at the scale shown, timed on the machine named there. *Reading* counts the words
# and lines of code at a steady technical-reading pace, and *exercises* gives each warm-up and core
# exercise a few minutes plus two per line of its worked solution. The optional stretch exercises
# are open-ended and not counted. Your own pace will differ: use the table to plan sessions.

# %%
from IPython.display import Markdown
from fwcourse.course.notebooks import course_map
Markdown(course_map())

# %% [markdown]
# ## The one equation to keep in mind: the outer product
#
# A *fast weight* matrix $W$ is a memory that is written while the network runs. To store an
# association from a key $k \in \mathbb{R}^m$ to a value $v \in \mathbb{R}^n$, add their
# **outer product**:
#
# $$ W \leftarrow W + v\,k^\top, \qquad (v\,k^\top)_{ij} = v_i\,k_j . $$
#
# Reading with the same key gives the value back, scaled: $(v k^\top) k = v\,(k^\top k)$.
# Schmidhuber (1992) called $k$ the FROM pattern and $v$ the TO pattern; Ba et al. (2016) write
# $h h^\top$; Clark et al. (2022) find the same rank-one shape inside every gradient of a dense
# layer. You will meet it in every notebook.
#
# ### Exercise 1 (warm-up): the outer product
#
# Write `outer_product(v, k)` returning the $n \times m$ matrix $v k^\top$ for vectors `v` of
# shape `(n,)` and `k` of shape `(m,)`. Then run the check below it. It calls your function and
# the reference on fresh random inputs of several sizes and tells you, in plain words, what (if
# anything) is wrong. Stuck? `ex.outer_product.hint()` gives a hint, `ex.outer_product.solution()`
# the answer.

# %%
import numpy as np
from fwcourse.course.exercises import nb00 as ex

def outer_product(v, k):
    ### BEGIN SOLUTION
    return v[:, None] * k[None, :]
    ### END SOLUTION

outer_product = ex.outer_product.check(outer_product)

# %% [markdown]
# The check **returns the function to use from now on**: yours when it passed, otherwise the
# reference, so the rest of the notebook keeps working while you are still on an exercise.
#
# What a wrong answer looks like: here is a classic mistake (the transpose), checked.

# %%
ex.outer_product.run(lambda v, k: np.outer(k, v))

# %%
ex.outer_product.hint()

# %% [markdown]
# ## Watching a memory being written
#
# Store a few random key-value pairs one at a time, $W_t = W_{t-1} + v_t k_t^\top$, and look at
# $W_t$ after every write. Drag the slider or press Play. Red is positive, blue negative, and one
# colour scale is shared by all frames, so you can see the memory fill up.

# %%
from fwcourse import associative_memory
from fwcourse.course import viz

rng = np.random.default_rng(0)
n = S.matrix_size
keys = rng.standard_normal((S.widget_frames, n)) / np.sqrt(n)
values = rng.standard_normal((S.widget_frames, n))
W = associative_memory.write_sequence(keys, values)      # W[t] = sum of v_s k_s^T for s <= t
viz.matrix_player(W, titles=[f"W after {t + 1} writes" for t in range(len(W))])

# %% [markdown]
# Reading back: the retrieved value $W k_t$ is the stored $v_t$ plus *crosstalk* from the other
# pairs, $\sum_{s \ne t} v_s (k_s \cdot k_t)$. The more pairs, the more crosstalk: notebook 02
# measures exactly how many pairs fit.

# %%
import matplotlib.pyplot as plt

retrieved = associative_memory.read(W[-1], keys)      # row t: W k_t
cosine = np.sum(retrieved * values, 1) / (np.linalg.norm(retrieved, axis=1) * np.linalg.norm(values, axis=1))
plt.figure(figsize=(5, 2.5))
plt.bar(np.arange(1, len(cosine) + 1), cosine)
plt.xlabel("pair t"); plt.ylabel("cos(W k_t, v_t)"); plt.ylim(-1, 1)
plt.title(f"{len(cosine)} pairs in a {n}x{n} memory")
plt.show()

# %% [markdown]
# ## Your environment
#
# Paste this into any question or bug report.

# %%
from fwcourse.util import envinfo
print(envinfo.format_report(envinfo.report()))

# %% [markdown]
# ## For teachers
#
# Learners hand in their notebooks; grade a batch with
#
# ```
# python -m fwcourse grade submissions/*.ipynb --csv grades.csv --timeout 600
# ```
#
# Each notebook runs in a kernel of its own; a notebook that raises, loops forever or is not a
# notebook at all is reported as such and the batch goes on. The solution notebooks in
# `notebooks/solutions/` carry nbgrader's solution markers and cell metadata, if you prefer nbgrader.
#
# ## Summary
# - The scale (`quick`, `default`, `full`) is the one setting; the code is the same at every scale.
# - Exercises: write the function, run the check; `hint()` and `solution()` on request.
# - The outer product $v k^\top$ writes an association into a matrix memory; reading it back
#   suffers crosstalk as the memory fills.
#
# ## References
# - J. Schmidhuber (1992). Learning to control fast-weight memories: an alternative to dynamic
#   recurrent networks. *Neural Computation* 4(1):131–139.
# - I. Schlag, K. Irie, J. Schmidhuber (2021). Linear Transformers Are Secretly Fast Weight
#   Programmers. *ICML*.
# - J. Ba, G. Hinton, V. Mnih, J. Leibo, C. Ionescu (2016). Using Fast Weights to Attend to the
#   Recent Past. *NeurIPS*.
# - K. Clark, K. Guu, M.-W. Chang, P. Pasupat, G. Hinton, M. Norouzi (2022). Meta-Learning Fast
#   Weight Language Models. *EMNLP*.
