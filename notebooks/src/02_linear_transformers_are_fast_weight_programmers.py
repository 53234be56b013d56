# %% [markdown]
# # 02 · Linear transformers are fast-weight programmers
#
# Schlag, Irie & Schmidhuber (2021) pointed out that the outer-product memory of notebook 01 and
# the *linear attention* of "linear transformers" are the same computation. This notebook shows
# the identity numerically, then asks what such a fixed-size memory can hold, and how the delta
# rule makes better use of it.
#
# **In this notebook you will**
# 1. write the causal mask and causal linear attention in matrix form, and check that a
#    fast-weight memory updated step by step gives the same outputs to round-off;
# 2. measure the **capacity** of a fast-weight memory: retrieval error against the number of
#    stored pairs, for random and orthogonal keys, with the sum rule and the delta rule;
# 3. write the delta-rule update, then the whole delta-rule memory over a sequence (the core
#    exercise);
# 4. see why softmax attention has no fixed-size memory, and what that costs as sequences grow.

# %%
# Scale: quick | default | full. Uncomment to override FWCOURSE_SCALE for this notebook.
# import os; os.environ["FWCOURSE_SCALE"] = "quick"
from fwcourse.course import config
S = config.sizes("02")
print(config.describe("02"))

# %%

import matplotlib.pyplot as plt
import numpy as np

from fwcourse import delta_rule as dr
from fwcourse import linear_attention as la
from fwcourse.course import viz
from fwcourse.course.exercises import nb02 as ex

# %% [markdown]
# ## The identity
#
# A **fast-weight programmer** writes, at each step $i$, the value $v(i)$ under the key
# $\phi(k(i))$ into a matrix memory, then reads it with the query $\phi(q(i))$:
#
# $$ W(i) = W(i-1) + v(i)\,\phi(k(i))^\top, \qquad y(i) = W(i)\,\phi(q(i)). $$
#
# (Here the write comes before the read, the convention of the 2021 paper; notebook 01's
# controller read first.) Starting from $W(0) = 0$, $W(i) = \sum_{j \le i} v(j)\,\phi(k(j))^\top$,
# so
#
# $$ y(i) = \sum_{j \le i} v(j)\,\big(\phi(k(j)) \cdot \phi(q(i))\big), $$
#
# which is **causal linear attention without normalisation**: the attention weight of key $j$
# for query $i$ is the dot product $\phi(k(j))\cdot\phi(q(i))$ instead of a softmax. Stacking the
# time steps as rows of $Q, K, V$ and writing $M$ for the causal mask ($M_{ij} = 1$ if $j \le i$):
#
# $$ Y = \big(M \odot \phi(Q)\,\phi(K)^\top\big)\,V . $$
#
# The left form needs a $d_v \times d_k$ memory and $O(T\,d_v d_k)$ time; the right form a
# $T \times T$ matrix and $O(T^2 d)$ time. A **chunked** form mixes the two: quadratic inside
# chunks of $C$ steps, and the fast weights carried from chunk to chunk.

# %% [markdown]
# ### Exercise 1 (warm-up): the causal mask
#
# Write `causal_mask(T)` returning a boolean `(T, T)` array whose entry `(i, j)` is `True` when
# query `i` may look at key `j`, that is when `j <= i`.

# %%
def causal_mask(T):
    ### BEGIN SOLUTION
    return np.tril(np.ones((T, T), dtype=bool))
    ### END SOLUTION

causal_mask = ex.causal_mask.check(causal_mask)

# %% [markdown]
# ### Exercise 2 (warm-up): causal linear attention in matrix form
#
# Write `linear_attention(q, k, v)` for $\phi$ = identity: `q`, `k` of shape `(T, d_k)`, `v` of
# shape `(T, d_v)`, returning `(T, d_v)`. Use your `causal_mask`.

# %%
def linear_attention(q, k, v):
    ### BEGIN SOLUTION
    scores = q @ k.T
    return np.where(causal_mask(len(q)), scores, 0.0) @ v
    ### END SOLUTION

linear_attention = ex.linear_attention.check(linear_attention)

# %% [markdown]
# Now the identity, on random inputs of odd sizes: the step-by-step fast-weight programmer, your
# matrix form, the course's matrix form with $\phi(x) = \mathrm{elu}(x) + 1$ (the feature map of
# Katharopoulos et al., 2020), and the chunked form with a chunk size that does not divide $T$.

# %%
rng = np.random.default_rng(0)
T, d_k, d_v = S.seq_len, 7, 5
q, k, v = rng.standard_normal((T, d_k)), rng.standard_normal((T, d_k)), rng.standard_normal((T, d_v))

y_fwp = la.fast_weight_sequential(q, k, v)
print(f"phi = identity:   |fast weights - your matrix form|   = {np.abs(y_fwp - linear_attention(q, k, v)).max():.1e}")
y_fwp = la.fast_weight_sequential(q, k, v, phi="elu_plus_one")
for name, y in [("matrix form", la.linear_attention_parallel(q, k, v, phi="elu_plus_one")),
                ("chunks of 8", la.linear_attention_chunked(q, k, v, 8, phi="elu_plus_one"))]:
    print(f"phi = elu + 1:    |fast weights - {name:<12}|   = {np.abs(y_fwp - y).max():.1e}"
          f"   (outputs of size ~{np.abs(y_fwp).max():.0f})")

# %% [markdown]
# The differences are at float64 round-off (about $10^{-16}$ times the size of the outputs,
# times the number of terms): the three are one computation. Watch the fast-weight matrix being
# written, one outer product per step:

# %%
frames = np.cumsum(v[:, :, None] * k[:, None, :], axis=0)[:12]
viz.matrix_player(frames, titles=[f"W({i + 1})" for i in range(len(frames))],
                  suptitle="W(i) = W(i-1) + v(i) k(i)^T")

# %% [markdown]
# ## Capacity: how many associations fit?
#
# Store $n$ pairs $(k_i, v_i)$ with unit-norm keys in $\mathbb{R}^{d_k}$, then read each key
# back: $\hat v_i = W k_i$. With the **sum rule**,
# $\hat v_i = v_i + \sum_{j \ne i} v_j\,(k_j \cdot k_i)$: every other pair whose key is not
# orthogonal to $k_i$ adds crosstalk. At most $d_k$ keys can be mutually orthogonal, so with
# $d_k$-dimensional keys at most $d_k$ associations can be stored without interference (Schlag
# et al. 2021, section 4.1, make this argument); beyond that, retrieval degrades.
#
# `dr.capacity_curve` measures the mean relative error $\lVert \hat v_i - v_i\rVert^2 / \lVert
# v_i \rVert^2$ for random keys and for "orthogonal" keys (an orthonormal basis for the first
# $d_k$ pairs, further random bases after that).

# %%
d_key = S.d_key
n_pairs = np.unique(np.r_[np.round(np.geomspace(1, 4 * d_key, 12)), d_key, d_key + 1].astype(int))
curves = {}
for rule in dr.RULES:
    for kind in dr.KEY_KINDS:
        curves[rule, kind] = dr.capacity_curve(n_pairs, d_key, rule=rule, kind=kind,
                                               n_repeats=S.capacity_repeats, rng=1).mean(axis=1)

fig, ax = plt.subplots(figsize=(6.5, 4))
for (rule, kind), curve in curves.items():
    ax.plot(n_pairs, curve + 1e-17, "o-" if rule == "sum" else "s--", label=f"{rule} rule, {kind} keys")
ax.axvline(d_key, color="k", ls=":", label=f"n = d_k = {d_key}")
ax.set_xscale("log"); ax.set_yscale("log")
ax.set_xlabel("number of stored pairs n"); ax.set_ylabel("mean relative retrieval error")
ax.set_title(f"fast-weight memory of {d_key} x {d_key} numbers"); ax.legend(fontsize=8, loc="center right")
plt.show()
for (rule, kind), curve in curves.items():
    at = {n: curve[np.searchsorted(n_pairs, n)] for n in (d_key, d_key + 1, 4 * d_key)}
    print(f"{rule:>5} rule, {kind:<10} keys: mean error at n = d_k: {at[d_key]:.2g}, "
          f"d_k + 1: {at[d_key + 1]:.2g}, 4 d_k: {at[4 * d_key]:.2g}")

# %% [markdown]
# Read the plot:
# * **orthogonal keys, n ≤ d_k**: error 0 (shown at the bottom, $10^{-17}$) with either rule;
#   past $d_k$ the keys can no longer all be orthogonal and the error jumps.
# * **random keys, sum rule**: crosstalk from the start, growing roughly like $n / d_k$: the
#   error reaches the size of the values themselves (1) around $n \approx d_k$.
# * **delta rule**: it overwrites instead of adding. It keeps the most recent pairs exact and
#   lets old ones fade, so its mean error stays bounded where the sum rule's keeps growing.
#
# ## The delta rule
#
# Schlag et al. (2021) replace the sum rule by a **delta rule**: read what the memory holds
# under the key, $\bar v(i) = W(i-1)\,\phi(k(i))$, and write the correction, with a learned
# write strength $\beta(i) = \sigma(w_\beta \cdot x(i)) \in (0, 1)$:
#
# $$ W(i) = W(i-1) + \beta(i)\,\big(v(i) - \bar v(i)\big)\,\phi(k(i))^\top . $$
#
# With $\beta = 1$ and a unit-norm key, reading $k(i)$ afterwards returns exactly $v(i)$.
#
# ### Exercise 3 (warm-up): the delta-rule update
#
# Write `delta_update(W, k, v, beta)` for `W` of shape `(d_v, d_k)`, `k` of shape `(d_k,)`, `v`
# of shape `(d_v,)` and a number `beta`.

# %%
def delta_update(W, k, v, beta):
    ### BEGIN SOLUTION
    v_old = W @ k
    return W + beta * np.outer(v - v_old, k)
    ### END SOLUTION

delta_update = ex.delta_update.check(delta_update)

# %% [markdown]
# The difference in one picture: write $(k, v_1)$, then $(k, v_2)$ under the *same* key, and read
# $k$. The sum rule returns $v_1 + v_2$; the delta rule returns $v_2$, the new value.

# %%
key = np.array([0.6, 0.8, 0.0])
v1, v2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
W_sum = np.outer(v1, key) + np.outer(v2, key)
W_delta = delta_update(delta_update(np.zeros((2, 3)), key, v1, 1.0), key, v2, 1.0)
print("sum rule reads  ", W_sum @ key, "\ndelta rule reads", W_delta @ key)

# %% [markdown]
# ### Exercise 4 (core): the delta-rule memory over a sequence
#
# A delta-rule fast-weight programmer goes through the sequence from an empty memory,
# $W(0) = 0$; at each step it writes with the delta rule, then reads with the query (write
# before read, as in the identity above):
#
# $$ W(i) = W(i-1) + \beta(i)\,\big(v(i) - W(i-1)\,k(i)\big)\,k(i)^\top, \qquad y(i) = W(i)\,q(i),
#    \qquad i = 1, \dots, T . $$
#
# Unlike the sum rule, what a write adds depends on what the memory already holds, so the outputs
# are no longer a masked product $(M \odot Q K^\top) V$: the recursion is the model.
#
# Write `delta_rule_memory(q, k, v, beta)` for queries and keys `q`, `k` of shape `(T, d_k)` (as
# they enter the memory, after any feature map), values `v` `(T, d_v)` and write strengths `beta`
# `(T,)` in $(0, 1)$. Return the reads `y`, shape `(T, d_v)`. Your `delta_update` does each write.

# %%
def delta_rule_memory(q, k, v, beta):
    ### BEGIN SOLUTION
    W = np.zeros((v.shape[1], k.shape[1]))
    y = np.empty(v.shape)
    for i in range(len(k)):
        W = delta_update(W, k[i], v[i], beta[i])
        y[i] = W @ q[i]
    return y
    ### END SOLUTION

delta_rule_memory = ex.delta_rule_memory.check(delta_rule_memory)

# %% [markdown]
# In a model, $\beta(i) = \sigma(w_\beta \cdot x(i))$ comes from the input, and (in their code,
# which they found crucial for stable training) $\phi(k)$ and $\phi(q)$ are normalised to sum to
# one. Fed those features, your function is the paper's delta-rule layer, `dr.delta_rule`:

# %%
def features(z):
    return dr.sum_normalise(la.elu_plus_one(z))

x = rng.standard_normal((T, 4))
beta = dr.beta_gate(x, w_beta=rng.standard_normal(4))
y_delta = dr.delta_rule(q, k, v, beta, phi="elu_plus_one", normalise=True)
print(f"beta in [{beta.min():.2f}, {beta.max():.2f}];  outputs {y_delta.shape}, "
      f"max |y| = {np.abs(y_delta).max():.2f} (max |v| = {np.abs(v).max():.2f})")
print(f"|yours - dr.delta_rule| = {np.abs(delta_rule_memory(features(q), features(k), v, beta) - y_delta).max():.1e}")

# %% [markdown]
# ## Widget: fill the memory
#
# Move the slider to store more pairs (random unit keys in $\mathbb{R}^{8}$, random values).
# Top: the memory $W$ after the sum rule and after the delta rule ($\beta = 1$), on one colour
# scale. Bottom: the relative retrieval error of every stored pair, oldest first.

# %%
widget_d = 8
widget_keys = dr.make_keys(S.widget_max_pairs, widget_d, "random", rng=2)
widget_values = np.random.default_rng(3).standard_normal((S.widget_max_pairs, widget_d))

def draw_pairs(index):
    n = index + 1
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.5), gridspec_kw=dict(height_ratios=[3, 2]))
    stored = [dr.retrieval_errors(widget_keys[:n], widget_values[:n], rule) for rule in dr.RULES]
    viz.heatmaps([W for _, W in stored], axes[0],  # one colour scale, so the two can be compared
                 titles=[f"{rule} rule: W after {n} pairs" for rule in dr.RULES])
    for col, (rule, (err, _)) in enumerate(zip(dr.RULES, stored)):
        axes[1, col].bar(np.arange(1, n + 1), err, color="C0" if rule == "sum" else "C1")
        axes[1, col].axhline(1.0, color="k", ls=":", lw=1)
        axes[1, col].set_ylim(0, 3); axes[1, col].set_xlabel("pair (oldest first)")
        axes[1, col].set_ylabel("relative error"); axes[1, col].set_title(f"mean {err.mean():.2f}", fontsize=9)
    fig.suptitle(f"{n} pairs stored in a {widget_d} x {widget_d} memory")
    fig.tight_layout()
    return fig

viz.frame_player(draw_pairs, S.widget_max_pairs, description="pairs - 1")

# %% [markdown]
# ## Softmax attention has no fixed-size memory
#
# Standard attention normalises the weights with a softmax over the past:
#
# $$ y(i) = \sum_{j \le i} \frac{\exp(q(i)\cdot k(j)/\sqrt{d_k})}{\sum_{j' \le i}
#    \exp(q(i)\cdot k(j')/\sqrt{d_k})}\, v(j). $$
#
# The weight of key $j$ is not a dot product of a function of $q(i)$ with a function of $k(j)$,
# so the sum cannot be folded into a matrix written once per step: to answer query $i$ it must
# keep **all** $i$ keys and values (the "KV cache") and touch each of them. Time grows like
# $T^2$ over a sequence and memory like $T$ (or $T^2$ for the score matrix in matrix form),
# while the fast-weight memory stays $d_v \times d_k$ and its time grows like $T$.

# %%
from fwcourse.util.timing import best_time   # the fastest of 3 runs: the least disturbed by other load

d = 32
lengths = S.cost_lengths
timings = {"softmax attention (matrix form)": [], "fast weights, step by step": [],
           "linear attention, chunks of 64": []}
for L in lengths:
    qq, kk, vv = (np.random.default_rng(L).standard_normal((L, d)) for _ in range(3))
    timings["softmax attention (matrix form)"].append(best_time(lambda: la.causal_softmax_attention(qq, kk, vv)))
    timings["fast weights, step by step"].append(best_time(lambda: la.fast_weight_sequential(qq, kk, vv)))
    timings["linear attention, chunks of 64"].append(best_time(lambda: la.linear_attention_chunked(qq, kk, vv, 64)))

lengths_arr = np.array(lengths, dtype=float)
memory = {"softmax: T x T scores": lengths_arr ** 2 * 8,
          "softmax: KV cache (T x 2d)": lengths_arr * 2 * d * 8,
          "fast weights: d x d": np.full_like(lengths_arr, d * d * 8)}

fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4))
for name, ts in timings.items():
    ax_t.plot(lengths, ts, "o-", label=name)
ax_t.set_xscale("log", base=2); ax_t.set_yscale("log"); ax_t.set_xlabel("sequence length T")
ax_t.set_ylabel("seconds (best of 3)"); ax_t.set_title(f"time, d = {d} (NumPy, this machine)"); ax_t.legend(fontsize=8)
for name, b in memory.items():
    ax_m.plot(lengths, b / 2 ** 20, "o-", label=name)
ax_m.set_xscale("log", base=2); ax_m.set_yscale("log"); ax_m.set_xlabel("sequence length T")
ax_m.set_ylabel("MiB (float64)"); ax_m.set_title("memory that grows with the past"); ax_m.legend(fontsize=8)
plt.show()
slope = np.polyfit(np.log(lengths_arr[-3:]), np.log(timings["softmax attention (matrix form)"][-3:]), 1)[0]
print(f"softmax time grows like T^{slope:.1f} over the longest lengths measured here")

# %% [markdown]
# On short sequences the step-by-step loop loses: each of its $T$ steps is a small Python-level
# NumPy call, while the matrix form is one big call. Its cost per step is constant, though, so
# at inference (one new token at a time) a linear transformer's cost per token does not grow
# with the context, and the softmax transformer's does. The chunked form takes the best of both
# (see `benchmarks/bench_linear_attention.py` for the ratios). The price of the fixed-size
# memory is its **capacity**, measured above.

# %% [markdown]
# ### Exercise 5 (stretch, optional): a memory rule that recalls more
#
# Past its capacity, every rule forgets something. Write `write(W, k, v)` returning the new
# $d \times d$ memory after storing $k \to v$, so that after $2d$ random pairs (twice the capacity,
# unit-norm keys) the mean relative recall error $\lVert W k_i - v_i\rVert^2 / \lVert v_i\rVert^2$
# over all pairs is lower than the delta rule's with $\beta = 1$. The memory is $W$ alone: the
# checker replays one write to make sure the rule keeps nothing else. It prints your error beside
# the delta rule's; `ex.better_memory_rule.hint()` gives ideas. The notebook goes on without it.

# %%
better_memory_rule = None   # your function write(W, k, v) -> new W
ex.better_memory_rule.check(better_memory_rule, d=S.d_key, n_pairs=2 * S.d_key)

# %% [markdown]
# ## Summary
#
# * A fast-weight programmer, $W \mathrel{+}= v\,\phi(k)^\top$, $y = W\phi(q)$, *is* causal
#   un-normalised linear attention: equal outputs to float64 round-off, computed step by step,
#   in matrix form, or in chunks.
# * Its memory has a fixed size, $d_v \times d_k$; with the sum rule, at most $d_k$ orthogonal
#   associations fit without interference, and random keys interfere from the start.
# * The delta rule reads before it writes and replaces the value stored under a key instead of
#   adding to it; it degrades more gracefully when the memory is over-full. Run over a sequence,
#   it is a recursion, not a masked matrix product.
# * Softmax attention has no such memory: its state is the whole past, so its cost per step
#   grows with the sequence.
#
# ## References
#
# * I. Schlag, K. Irie & J. Schmidhuber (2021). Linear transformers are secretly fast weight
#   programmers. *ICML*.
# * A. Katharopoulos, A. Vyas, N. Pappas & F. Fleuret (2020). Transformers are RNNs: fast
#   autoregressive transformers with linear attention. *ICML*.
# * J. Schmidhuber (1992). Learning to control fast-weight memories. *Neural Computation* 4(1).
