# %% [markdown]
# # 05 · A causal transformer language model in Keras
#
# Notebook 04 predicted the next word from the three words before it. A **language model** reads a
# whole document and predicts every next token from *everything* before it. In this notebook we
# build the model that notebook 06 puts a Fast Weight Layer on top of: a small GPT-style causal
# transformer, written with Keras 3 and `keras.ops`, trained with `model.fit` on a `tf.data`
# pipeline of long documents.
#
# **In this notebook you will**
# 1. write the **causal mask** and **causal attention** yourself and check them, then a whole
#    multi-head **causal self-attention layer**'s `call` in Keras (the core exercise);
# 2. cut long documents into training windows and train the model with `model.fit`;
# 3. measure it the way language models are measured, with **perplexity**, against a baseline;
# 4. see that it is causal (the future cannot leak into a prediction), look at its attention
#    patterns with a widget, and see how the loss depends on the amount of context;
# 5. learn how the same code uses a GPU (mixed precision, XLA) and several GPUs (`tf.distribute`).

# %%
# Scale: quick | default | full. Uncomment to override FWCOURSE_SCALE for this notebook.
# import os; os.environ["FWCOURSE_SCALE"] = "quick"
from fwcourse.course import config
S = config.sizes("05")
print(config.describe("05"))

# %% [markdown]
# ## The idea
#
# A language model assigns a probability to a document $x_1, \dots, x_T$ one token at a time:
#
# $$ p(x_1, \dots, x_T) = \prod_{t} p(x_{t+1} \mid x_1, \dots, x_t). $$
#
# A transformer computes all $T$ conditional distributions **in one parallel pass**. The trick
# that makes this legal is the *causal mask*: position $t$ may only look at positions $s \le t$,
# so the prediction of $x_{t+1}$ never sees $x_{t+1}$ or anything after it. Training then scores
# every position of every window at once.
#
# ### The model (what `fwcourse.transformer` builds)
#
# $$ h^{0}_t = E[x_t] + P[t] \qquad \text{(token and learned position embedding)} $$
#
# For each of $L$ **pre-LayerNorm** blocks:
#
# $$ h' = h + \mathrm{MHA}(\mathrm{LN}(h)), \qquad h \leftarrow h' + \mathrm{MLP}(\mathrm{LN}(h')), $$
#
# and finally $\mathrm{logits}_t = \mathrm{LN}(h^{L}_t)\, U$ (the *unembedding*, one score per
# vocabulary word). Each attention head computes, with $q_t, k_t, v_t$ linear maps of its input,
#
# $$ \mathrm{Attention}(q, k, v)_t = \sum_{s \le t} \frac{\exp(q_t \cdot k_s / \sqrt{d})}
#    {\sum_{s' \le t} \exp(q_t \cdot k_{s'} / \sqrt{d})}\; v_s . $$
#
# The sum over $s \le t$ is implemented by setting the scores of $s > t$ to $-\infty$ before the
# softmax: that is the causal mask.

# %% [markdown]
# ### Exercise 1 (warm-up): the causal mask
#
# Write `causal_mask(seq_len)` returning a boolean array `mask` of shape `(seq_len, seq_len)` with
# `mask[t, s] = True` exactly when position `t` may attend to position `s`.

# %%
import numpy as np
from fwcourse.course.exercises import nb05 as ex

def causal_mask(seq_len):
    ### BEGIN SOLUTION
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))
    ### END SOLUTION

causal_mask = ex.causal_mask.check(causal_mask)
print(np.asarray(causal_mask(5)).astype(int))

# %% [markdown]
# ### Exercise 2 (warm-up): causal self-attention (one head)
#
# Write `causal_attention(q, k, v)` for `q`, `k` of shape `(T, d)` and `v` of shape `(T, n)`,
# returning the `(T, n)` array of the formula above. Compute all scores with one matrix product,
# mask, take a numerically stable softmax over the last axis, and mix the values.

# %%
def causal_attention(q, k, v):
    ### BEGIN SOLUTION
    T, d = q.shape
    scores = q @ k.T / np.sqrt(d)
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v
    ### END SOLUTION

causal_attention = ex.causal_attention.check(causal_attention)

# %% [markdown]
# The course's version, `fwcourse.transformer.causal_attention`, is the same computation in
# `keras.ops`, batched over any leading axes (batch, heads), with the softmax in float32 so that
# it is safe under mixed precision. `TransformerBlock` and `TransformerLM` assemble the model
# above around the layer you write next.
#
# ### Exercise 3 (core): a multi-head causal self-attention layer
#
# A transformer layer runs $h$ attention **heads** side by side on its input
# $x \in \mathbb{R}^{T \times d_{\text{model}}}$, each of width $d_{\text{head}} = d_{\text{model}} / h$,
# and mixes their outputs (Vaswani et al. 2017, section 3.2.2):
#
# $$ [\,Q \mid K \mid V\,] = x\,W_{qkv} + b_{qkv}, \qquad
#    \mathrm{head}_i = \mathrm{Attention}(Q_i, K_i, V_i), \qquad
#    y = [\,\mathrm{head}_1 \mid \dots \mid \mathrm{head}_h\,]\,W_o + b_o , $$
#
# where $Q_i$ is the $i$-th block of $d_{\text{head}}$ columns of $Q$ (the same for $K$, $V$) and
# Attention is Exercise 2's causal attention with $d = d_{\text{head}}$. Write it as the `call` of
# a Keras layer, in `keras.ops`, for a batch: `causal_self_attention(layer, x)` with `x` of shape
# `(B, T, d_model)`, returning `(B, T, d_model)`. `layer` is the layer itself (the class below
# passes `self`): it has `layer.d_model`, `layer.n_heads` and two dense layers' weights,
# `layer.qkv.kernel` ($W_{qkv}$, shape `(d_model, 3 d_model)`: the columns of the queries, then
# of the keys, then of the values), `layer.qkv.bias`, `layer.out.kernel` ($W_o$, `(d_model,
# d_model)`) and `layer.out.bias`. The checker calls your function with NumPy arrays in place of
# the weights (`keras.ops` takes both) and compares it with `fwcourse.transformer`'s layer given
# the same weights.

# %%
from keras import ops

def causal_self_attention(layer, x):
    ### BEGIN SOLUTION
    B, T = ops.shape(x)[0], ops.shape(x)[1]
    head = layer.d_model // layer.n_heads
    qkv = ops.matmul(x, layer.qkv.kernel) + layer.qkv.bias
    qkv = ops.transpose(ops.reshape(qkv, (B, T, 3, layer.n_heads, head)), (2, 0, 3, 1, 4))
    q, k, v = qkv[0], qkv[1], qkv[2]                       # (B, n_heads, T, head) each
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / np.sqrt(head)
    future = ops.arange(T)[None, :] > ops.arange(T)[:, None]
    weights = ops.softmax(ops.where(future, float("-inf"), scores), axis=-1)
    y = ops.reshape(ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3)), (B, T, layer.d_model))
    return ops.matmul(y, layer.out.kernel) + layer.out.bias
    ### END SOLUTION

causal_self_attention = ex.causal_self_attention.check(causal_self_attention)

# %% [markdown]
# Your function is now the `call` of a Keras layer: the subclass below keeps the weights and the
# configuration of the course's `CausalSelfAttention` and replaces its `call` by yours. It gives
# the course layer's outputs, and it is causal: changing the input from position 6 on leaves the
# outputs before position 6 exactly as they were.

# %%
from fwcourse import transformer

class YourCausalSelfAttention(transformer.CausalSelfAttention):
    """The course's causal self-attention layer, with your call."""

    def call(self, x, training=None):
        return causal_self_attention(self, x)


yours = YourCausalSelfAttention(d_model=12, n_heads=3)
course = transformer.CausalSelfAttention(d_model=12, n_heads=3)
x = np.random.default_rng(0).standard_normal((2, 10, 12)).astype("float32")
yours.build(x.shape)
course.build(x.shape)
course.set_weights(yours.get_weights())
out = np.asarray(yours(x))
changed = x.copy()
changed[:, 6:] = np.random.default_rng(1).standard_normal(changed[:, 6:].shape)
print("your layer vs the course's:           ", np.abs(out - np.asarray(course(x))).max())
print("max change at positions < 6 (causal): ", np.abs(np.asarray(yours(changed))[:, :6] - out[:, :6]).max())

# %% [markdown]
# ## Data: long documents cut into windows
#
# The corpus is notebook 04's: the docstrings of the Python libraries this course installs (no
# download), one document per module, split into train / valid / test **by document**, with
# near-duplicates removed so that held-out documents share at most 10% of their 8-word
# sequences with training (`corpus.load_split`). At the default scale the model trains on about
# `S.max_train_tokens` words of the training documents, a laptop's budget. Each document's token stream
# is cut into windows of `seq_len` inputs; the targets are the same tokens shifted by one. The
# last window of a document is padded, and padding gets weight 0 in the loss.

# %%
from fwcourse.data import lm_data

data = lm_data.load_lm_corpus(S.corpus, max_tokens=S.max_tokens,
                              max_train_tokens=S.max_train_tokens or None)
train_w = lm_data.lm_windows(data.train, S.seq_len)
valid_w = lm_data.lm_windows(data.valid, S.seq_len)
test_w = lm_data.lm_windows(data.test, S.seq_len)
if S.max_train_windows:  # the quick scale trains on a sample
    keep = np.random.default_rng(0).permutation(len(train_w))[:S.max_train_windows]
    train_w = train_w.take(np.sort(keep))
print(f"vocabulary {data.tokenizer.size} tokens; windows of {S.seq_len}: "
      f"{len(train_w)} train, {len(valid_w)} valid, {len(test_w)} test")
print("inputs :", " ".join(data.tokenizer.decode(train_w.tokens[0][:12])))
print("targets:", " ".join(data.tokenizer.decode(train_w.targets[0][:12])))

# %% [markdown]
# ## The model
#
# `build_lm` builds and compiles it: AdamW, gradient clipping, and as loss the mean cross-entropy
# over the tokens of weight > 0. `use_accelerator()` switches on mixed precision when a GPU is
# visible (bfloat16 on recent GPUs, float16 with loss scaling on older ones) and does nothing on a
# CPU; on a GPU, Keras also compiles the training step with XLA by itself. The code below is the
# same on a laptop and on a GPU machine.

# %%
print("accelerator:", transformer.use_accelerator())
model = transformer.build_lm(data.tokenizer.size, S.d_model, S.n_layers, S.n_heads, S.seq_len,
                             dropout=S.dropout, learning_rate=S.learning_rate, seed=0)
print(f"{model.count_params():,} parameters: {S.n_layers} block(s) of width {S.d_model}, "
      f"{S.n_heads} heads")

# %% [markdown]
# ### Causality, checked
#
# Change every token from position 10 on. If the model is causal, the logits at positions 0–9
# must not move at all, while those from 10 on do.

# %%
x = test_w.tokens[:2].copy()
changed = x.copy()
changed[:, 10:] = np.random.default_rng(1).integers(2, data.tokenizer.size, changed[:, 10:].shape)
before, after = np.asarray(model(x)), np.asarray(model(changed))
print("max change at positions < 10 :", np.abs(after[:, :10] - before[:, :10]).max())
print("max change at positions >= 10:", np.abs(after[:, 10:] - before[:, 10:]).max())

# %% [markdown]
# ## Training with `model.fit` on `tf.data`
#
# `lm_dataset` turns the windows into a shuffled, batched, prefetched `tf.data` pipeline of
# `(tokens, targets, weights)`; Keras reads the third element as per-token sample weights.

# %%
import time

train_ds = lm_data.lm_dataset(train_w, S.batch_size, shuffle=True, seed=0)
valid_ds = lm_data.lm_dataset(valid_w, S.batch_size)
start = time.perf_counter()
history = model.fit(train_ds, validation_data=valid_ds, epochs=S.epochs, verbose=2, shuffle=False)
print(f"trained in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# The training curve keeps falling; the held-out curve is the one that counts: the gap between the
# curves below is memorisation, which dropout delays. This is why the windows of a document never
# straddle the split, and why near-copies of training documents were removed from the held-out
# parts: held-out documents are unseen text, up to the 8-word phrases they share with training
# (printed by notebook 04, and in `data/corpora.md`).
#
# ## Perplexity
#
# Perplexity is the exponential of the average per-token loss (in nats):
#
# $$ \mathrm{PPL} = \exp\Big(\frac{\sum_{t} w_t\, \big(-\log p(x_{t+1} \mid x_{\le t})\big)}{\sum_t w_t}\Big). $$
#
# A model that spreads its probability evenly over $k$ words has perplexity $k$: perplexity is
# "how many words the model is hesitating between".
#
# ### Exercise 4 (warm-up): perplexity from per-token losses
#
# Write `perplexity(losses, weights)` for arrays of the same shape (weights 0 for padding),
# returning one number.

# %%
def perplexity(losses, weights):
    ### BEGIN SOLUTION
    return float(np.exp(np.sum(weights * losses) / np.sum(weights)))
    ### END SOLUTION

perplexity = ex.perplexity.check(perplexity)

# %% [markdown]
# Now score the held-out test documents, and compare with three baselines computed from the
# training tokens: the uniform model (perplexity = vocabulary size), the **unigram** model, which
# predicts every token with its training frequency and ignores the context, and notebook 04's
# **Kneser-Ney trigram**, which sees the two previous words, on exactly the same targets.

# %%
test_losses = transformer.token_losses(model, test_w.tokens, test_w.targets)
counts = np.bincount(np.concatenate(data.train), minlength=data.tokenizer.size) + 1.0  # add-one
unigram_losses = -np.log(counts / counts.sum())[test_w.targets]
trigram_losses = lm_data.trigram_losses(data, test_w)
scores = {"uniform": float(data.tokenizer.size),
          "unigram": perplexity(unigram_losses, test_w.weights),
          "Kneser-Ney trigram": perplexity(trigram_losses, test_w.weights),
          "transformer": perplexity(test_losses, test_w.weights)}
print("test perplexity  " + "   ".join(f"{k} {v:.1f}" for k, v in scores.items()))
print(f"transformer / trigram = {scores['transformer'] / scores['Kneser-Ney trigram']:.2f}")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.2))
epochs = np.arange(1, len(history.history["loss"]) + 1)
ax.plot(epochs, np.exp(history.history["loss"]), "o-", label="train")
ax.plot(epochs, np.exp(history.history["val_loss"]), "s-", label="valid (held-out documents)")
ax.set_xlabel("epoch"); ax.set_ylabel("perplexity"); ax.set_yscale("log"); ax.legend()
ax.set_title("Training the causal transformer")
plt.show()

# %% [markdown]
# ## How much does context help? Loss by position in the window
#
# Position $t$ of a window is predicted from $t + 1$ tokens. Averaging the test loss over the
# windows at each position shows how the model uses context: at position 0 it knows a single
# word, later it has the whole preceding text. One position holds one target per test window,
# too few for a steady average, so positions are pooled in bins that double in width (0, 1, 2–3,
# 4–7, ...): the early positions, where context changes most, keep their own points. The trigram
# sees two words at every position, so it is flat apart from the noise; the transformer should
# fall below it as its context grows. (Notebook 06 asks the same question of fast weights, whose
# gains Clark et al. report to grow with document length.)

# %%
w = test_w.weights
edges = np.unique(np.concatenate([[0], 2 ** np.arange(int(np.log2(S.seq_len)) + 1), [S.seq_len]]))
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, losses in (("transformer", test_losses), ("Kneser-Ney trigram", trigram_losses),
                     ("unigram (no context)", unigram_losses)):
    ppl = [perplexity(losses[:, a:b], w[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]
    ax.plot(edges[:-1], ppl, "o-", label=name)
ax.set_xscale("symlog", linthresh=1); ax.set_yscale("log")
ax.set_xlabel("position in the window (first of each bin)"); ax.set_ylabel("perplexity")
ax.legend(fontsize=8); ax.set_title("Test perplexity by position")
plt.show()
targets = w.sum(0)
print(f"targets per bin: {[int(targets[a:b].sum()) for a, b in zip(edges[:-1], edges[1:])]}")
print(f"transformer, first 4 positions: {perplexity(test_losses[:, :4], w[:, :4]):.1f}; last quarter: "
      f"{perplexity(test_losses[:, 3 * S.seq_len // 4:], w[:, 3 * S.seq_len // 4:]):.1f}")

# %% [markdown]
# ## Widget: where does each head look?
#
# Pick a head with the slider. Row $t$ is the distribution position $t$ spreads over the
# positions $s \le t$ it may see (each row sums to 1; above the diagonal is exactly 0: the mask).
# In a small model trained briefly, expect mostly "look at myself / the previous word" patterns;
# bigger models trained longer develop heads that find earlier occurrences of the current word.

# %%
from fwcourse.course import viz

n = S.widget_len
sample = test_w.tokens[:1, :n]
words = data.tokenizer.decode(sample[0])
maps = model.attention_maps(sample)[:, 0]          # [layers, heads, n, n]
heads = maps.reshape(-1, n, n)

def draw(i):
    layer, head = divmod(i, S.n_heads)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    image = ax.imshow(heads[i], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(n), words, rotation=90, fontsize=7)
    ax.set_yticks(range(n), words, fontsize=7)
    ax.set_xlabel("attends to position s"); ax.set_ylabel("position t")
    ax.set_title(f"layer {layer + 1}, head {head + 1}")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig

viz.frame_player(draw, len(heads), description="head")

# %% [markdown]
# ## Scaling out: GPUs and several of them
#
# Nothing in the model is CPU-specific:
#
# * **mixed precision**: `transformer.use_accelerator()` sets the Keras dtype policy when a GPU is
#   visible; the layers take their softmax and the logits in float32, so the loss stays accurate;
# * **XLA**: Keras compiles `fit` with XLA on a GPU by itself (`jit_compile="auto"`);
# * **several GPUs**: the command line trainer wraps model building in
#   `tf.distribute.MirroredStrategy` when more than one GPU is present (the batch is split
#   between them and the gradients are summed). You can try the same code path on a laptop by
#   splitting the CPU into two logical devices:
#
# ```
# python -m fwcourse train-lm --out runs/base                                  # docstring corpus
# python -m fwcourse train-lm --corpus my_texts/ --out runs/mine               # your own .txt files
# python -m fwcourse train-lm --cpu-devices 2 --epochs 1 --out runs/mirrored   # 2 replicas on a CPU
# python -m fwcourse train-lm --fwl --corpus synthetic --out runs/fwl          # notebook 06's model
# ```

# %% [markdown]
# ### Exercise 5 (stretch, optional): a better transformer for the same budget
#
# Change `d_model`, `n_layers`, `n_heads` or `learning_rate` so that the model reaches a lower
# validation perplexity with the same data, epochs and batches, and no more parameters than the
# notebook's. The checker trains both (without dropout, the same for both) and prints both
# perplexities; `ex.better_transformer.hint()` gives ideas. The notebook goes on without it.

# %%
better_transformer = None   # your settings, e.g. {"learning_rate": 2e-3}
ex.better_transformer.check(better_transformer, corpus=data, sizes=S)

# %% [markdown]
# ## Summary
#
# * A causal transformer predicts every next token of a window in one pass; the **causal mask**
#   (scores of future positions set to $-\infty$) is what makes that legal, and we checked it: the
#   logits before a change do not move.
# * Multi-head causal self-attention (your layer), pre-LayerNorm blocks, token + position
#   embeddings and an unembedding are all the model is.
# * **Perplexity** $=\exp(\text{mean token loss})$; a useful model must beat the unigram and trigram baselines,
#   and it does so most where it has context to use.
# * The same Keras code trains on a CPU, on a GPU with mixed precision and XLA, and on several
#   devices with `tf.distribute`.
#
# Next, notebook 06 adds a **Fast Weight Layer** on top of this model: a head whose weights take a
# gradient step on the tokens already seen, at every position, in parallel.
#
# ## References
# * A. Vaswani et al. (2017), *Attention is all you need*, NeurIPS (scaled dot-product attention,
#   eq. 1).
# * A. Radford et al. (2019), *Language models are unsupervised multitask learners* (the
#   decoder-only, pre-LayerNorm language model).
# * K. Clark, K. Guu, M.-W. Chang, P. Pasupat, G. Hinton, M. Norouzi (2022), *Meta-learning fast
#   weight language models*, EMNLP (the model notebook 06 builds on this one).
