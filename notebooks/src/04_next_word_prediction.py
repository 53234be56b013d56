# %% [markdown]
# # 04 · Next-word prediction, done right
#
# This notebook redoes a student project (Bratan & Cristea, 2024): a Keras model that reads three
# words and suggests the next five, trained on a text file, with an interactive loop
# "Enter a 3 word phrase". The project worked, in the sense that it ran and its training loss went
# down. But it never measured how well the models *predict text they have not seen*, which is the
# only thing a next-word model is for.
#
# **In this notebook you will**
# 1. build the project's pipeline (text → tokens → 3-word windows → next word) with a split by document;
# 2. write the windows, top-k decoding and perplexity yourself and check them, and the
#    Kneser-Ney trigram model's probability (the core exercise);
# 3. train the project's LSTM and Conv1D models, a fast-weight RNN (notebook 03) and a small real
#    attention model, keeping the checkpoint that is best on *held-out* text;
# 4. compare them with a smoothed trigram baseline in one table: perplexity, top-1 and top-5;
# 5. see the project's long "accurate" training overfit;
# 6. type a phrase and watch the top-5 next words.

# %%
# Scale: quick | default | full. Uncomment to override FWCOURSE_SCALE for this notebook.
# import os; os.environ["FWCOURSE_SCALE"] = "quick"
from fwcourse.course import config
S = config.sizes("04")
print(config.describe("04"))

# %% [markdown]
# ## The student project, and what was wrong with its evaluation
#
# Quoted from the project's report (their hardware, their data; we have neither):
#
# > "The fast LSTM model went from a 7.4280 loss in the first epoch to 2.4175 in the last (40th)
# > epoch. Training took about 13ms/step [...] The accurate model went from a 7.32514 loss in the
# > first epoch to 0.5997 in the last (31st/70) epoch. Training took about 392ms/step [...] The
# > fast Transformers model went from a 7.3006 loss in the first epoch to a 2.8562 loss in the
# > last (20th) epoch."
#
# Every number there is a **training** loss. A loss of 0.60 means the model gives the right next
# word of a *training* sentence a probability of about $e^{-0.6} \approx 0.55$, which no model of
# English achieves on new text: it is memorising. What the project needed, and what this notebook
# adds:
#
# | project | here |
# |---|---|
# | training loss only | perplexity, top-1 and top-5 on held-out documents |
# | checkpoint "best" on the training loss | checkpoint best on the validation documents |
# | one-hot labels, softmax in the model | integer labels, sparse cross-entropy on logits |
# | no baseline | a Kneser-Ney trigram model: the number to beat |
# | a "transformer" made of Conv1D layers | the Conv1D model, *and* a model with real attention |
# | no fast weights | a fast-weight RNN (Ba et al. 2016, notebook 03) |
# | fewer than 3 words not handled | shorter phrases padded as at the start of a document |

# %% [markdown]
# ## The corpus, split by document
#
# The corpus is real English that needs no download: the **docstrings** of the Python standard
# library and of the numpy, keras, matplotlib and tensorflow this course installs, read from their
# source files with `ast` (nothing is imported), one document per module (`data/corpora.md`
# gives its size, and the cell below prints it). The quick scale uses the standard library's part alone. Point
# `corpus.load_split` at your own `.txt` file or folder to use other text, or fetch WikiText-2
# with `python -m fwcourse corpus download wikitext-2` (its sha256 is checked).
#
# Why split by **document**: neighbouring windows overlap by two of their three words. Split at
# random by window, and nearly every test window has its neighbours in the training set: the test
# measures memory, not prediction. Splitting by document is not enough either: one module can
# quote another's docstrings whole. So `load_split` first drops near-duplicate documents (half or
# more of their 8-word sequences already in a longer document), then moves to training any
# held-out document that still shares more than 10% of its 8-word sequences with training.

# %%
import numpy as np
import matplotlib.pyplot as plt
from fwcourse.data import corpus
from fwcourse import ngram

split = corpus.load_split(S.corpus, seed=0)
for part in ("train", "valid", "test"):
    chosen = getattr(split, part)
    print(f"{part:5s}: {len(chosen):4d} documents, {sum(len(t.split()) for _, t in chosen):9,d} words, "
          f"e.g. {[name for name, _ in chosen[:2]]}")
r = split.report
print(f"{r['near_duplicates_removed']} near-duplicate documents removed, {r['moved_to_train']} moved to "
      f"training; 8-word sequences shared with training: validation {r['valid_shared']:.1%}, "
      f"test {r['test_shared']:.1%}")

# %% [markdown]
# ## Tokens
#
# Keras' `TextVectorization` lower-cases, strips punctuation, splits at spaces and maps each word
# to an integer id. The vocabulary is built from the **training documents only**, capped at the
# most frequent words; id 0 is padding and id 1 is `[UNK]`, every word outside the vocabulary.

# %%
tok = corpus.Tokenizer.fit(split.train_texts, max_tokens=S.max_tokens)
sample = split.train_texts[0][:120]
print(repr(sample))
print(tok.words(sample))
print(tok.encode(sample))
print(f"vocabulary: {tok.size} ids; the most frequent words: {tok.vocabulary[2:12]}")

# %% [markdown]
# ## Exercise 1 (warm-up): windows of n words → the next word
#
# From a stream of $L$ token ids $w_0, \dots, w_{L-1}$, build every window of $n$ consecutive ids
# and the id that follows it:
#
# $$ X_i = (w_i, \dots, w_{i+n-1}), \qquad y_i = w_{i+n}, \qquad i = 0, \dots, L-n-1 . $$
#
# Return `X` of shape `(L - n, n)` and `y` of shape `(L - n,)`.

# %%
from fwcourse.course.exercises import nb04 as ex

def make_windows(tokens, n):
    ### BEGIN SOLUTION
    X = np.lib.stride_tricks.sliding_window_view(tokens[:-1], n)
    y = tokens[n:]
    return X, y
    ### END SOLUTION

make_windows = ex.make_windows.check(make_windows)

# %% [markdown]
# The models also learn from the first words of each document, with the missing context filled
# with the padding id (`pad_start=True`): that is how they cope with a phrase shorter than $n$
# words later. Windows never cross from one document into the next.

# %%
X_demo, y_demo = make_windows(tok.encode(sample), 3)
print("window -> next:", [(tok.decode(x), tok.decode([t])[0]) for x, t in zip(X_demo[:3], y_demo[:3])])

data = {p: tok.windows(getattr(split, f"{p}_texts"), context=3) for p in ("train", "valid", "test")}
for p, (X, y) in data.items():
    print(f"{p:5s}: X {X.shape}, y {y.shape}")
rng = np.random.default_rng(0)
train_X, train_y = data["train"]
if S.max_train_windows:  # the neural models train on a sample, to stay within the scale's time
    keep = rng.choice(len(train_y), min(S.max_train_windows, len(train_y)), replace=False)
    train_X, train_y = train_X[keep], train_y[keep]

# %% [markdown]
# ## The baseline: an interpolated Kneser-Ney trigram model
#
# Before any neural network: count. A trigram model predicts $w$ from the two previous words
# $(u, v)$. Raw counts give zero probability to anything unseen, so Kneser-Ney smoothing subtracts
# a discount $D$ from every seen count and spreads the freed mass over a lower-order model:
#
# $$ P_3(w \mid u v) = \frac{\max(c(uvw) - D, 0)}{c(uv\cdot)} + \frac{D\, T(uv)}{c(uv\cdot)}\, P_2(w \mid v), $$
#
# where $T(uv)$ is the number of different words seen after $uv$. The lower orders $P_2$, $P_1$
# use *continuation* counts: how many different contexts a word completes, not how often it occurs
# (a word like "Francisco" is frequent, but only after "San"). `fwcourse.ngram` has the whole
# recursion; it is tested against the definition written out with dictionaries.

# %%
trigram = ngram.KneserNeyTrigram(tok.size).fit(*data["train"])
results = {"Kneser-Ney trigram": {**trigram.evaluate(*data["test"]),
                                  "valid_loss": trigram.evaluate(*data["valid"])["loss"]}}
print({k: round(v, 3) for k, v in results["Kneser-Ney trigram"].items()})

# %% [markdown]
# ## Exercise 2 (core): the Kneser-Ney probability
#
# Now write the whole recursion yourself (Kneser & Ney 1995, in the interpolated form of Chen &
# Goodman 1999, eq. 17). Every order has the same form: discount each count of the context by $D$
# and hand the freed mass, $D$ times the number of different words seen in the context, to the
# next lower order:
#
# $$ P_3(w \mid u v) = \frac{\max(c(uvw) - D, 0)}{c(uv\,\cdot)} + \frac{D\,T(uv)}{c(uv\,\cdot)}\,P_2(w \mid v), $$
#
# $$ P_2(w \mid v) = \frac{\max(N(\cdot\, v w) - D, 0)}{N(\cdot\, v\,\cdot)}
#    + \frac{D\,T(v)}{N(\cdot\, v\,\cdot)}\,P_1(w), $$
#
# $$ P_1(w) = \frac{\max(N(\cdot\, w) - D, 0)}{N(\cdot\,\cdot)} + \frac{D\,T_1}{N(\cdot\,\cdot)}\,\frac{1}{V} . $$
#
# * $c(uvw)$ counts the training trigrams, and $c(uv\,\cdot) = \sum_w c(uvw)$;
# * $N(\cdot\, v w)$ is the number of **different** words $u$ seen before $v w$ (a continuation
#   count), $N(\cdot\, v\,\cdot) = \sum_w N(\cdot\, v w)$; $N(\cdot\, w)$ is the number of different
#   words $v$ seen before $w$ (in the last two words of the trigrams), $N(\cdot\,\cdot) = \sum_w N(\cdot\, w)$;
# * $T$ is the number of different words with a non-zero count in that context: $T(uv)$,
#   $T(v)$, and $T_1$ for $N(\cdot\, w)$;
# * a context with no counts at all ($c(uv\,\cdot) = 0$, or $N(\cdot\, v\,\cdot) = 0$) passes the
#   lower order on unchanged.
#
# Write `kneser_ney(trigrams, context, vocab_size, discount)`: `trigrams` is an integer array of
# shape `(N, 3)` holding the training trigrams $(u, v, w)$, `context` the pair $(u, v)$, `discount`
# is $D$. Return $P(w \mid u v)$ for every word $w$: an array of shape `(vocab_size,)` that sums
# to one.

# %%
def kneser_ney(trigrams, context, vocab_size, discount):
    ### BEGIN SOLUTION
    def interpolate(counts, lower):
        total = counts.sum()
        if total == 0:
            return lower
        return np.maximum(counts - discount, 0) / total + discount * np.count_nonzero(counts) / total * lower

    u, v = context
    distinct = np.unique(trigrams, axis=0)              # each (u, v, w) once
    pairs = np.unique(distinct[:, 1:], axis=0)          # each (v, w) once
    p1 = interpolate(np.bincount(pairs[:, 1], minlength=vocab_size), np.full(vocab_size, 1 / vocab_size))
    p2 = interpolate(np.bincount(distinct[distinct[:, 1] == v, 2], minlength=vocab_size), p1)
    in_context = (trigrams[:, 0] == u) & (trigrams[:, 1] == v)
    return interpolate(np.bincount(trigrams[in_context, 2], minlength=vocab_size), p2)
    ### END SOLUTION

kneser_ney = ex.kneser_ney.check(kneser_ney)

# %% [markdown]
# On the whole training set, your function gives the fitted model's distribution:

# %%
train_trigrams = np.column_stack([data["train"][0][:, -2:], data["train"][1]])
context = tok.encode("the value")[-2:]
p = kneser_ney(train_trigrams, context, tok.size, trigram.discount)
print(f"sums to {p.sum():.6f}; max |yours - fwcourse.ngram| = "
      f"{np.abs(p - np.exp(trigram.log_proba(context[None]))[0]).max():.1e}")
print(f"after '{' '.join(tok.decode(context))}':", tok.decode(np.argsort(-p)[:5]))

# %% [markdown]
# ## Four neural models
#
# All read a window of 3 ids and output one logit per vocabulary word; the softmax is in the loss.
#
# * **lstm** (the project's): Embedding → LSTM → LSTM → Dense + ReLU → Dense.
# * **conv1d** (the project's "transformer"): Embedding → Conv1D + ReLU → Conv1D → Dense + ReLU →
#   Dense. Convolutions mix neighbouring positions with fixed weights: there is no attention.
# * **fastweights**: Embedding → fast-weight RNN (Ba et al. 2016, notebook 03) → Dense + ReLU → Dense.
# * **attention**: one causal self-attention block (Vaswani et al. 2017) with learned positions,
#   read out at the last position.
#
# Training minimises the sparse cross-entropy $-\log p(y_i \mid X_i)$ with the labels as integers:
# the project's one-hot labels would be an $N \times V$ matrix of zeros with the same loss. A
# checkpoint callback (`BestCheckpoint`, like Keras's `ModelCheckpoint` but writing to a temporary
# file first, so that an interrupted run never leaves a half-written model) keeps the weights with
# the lowest **validation** loss.

# %%
import tempfile
import keras
from fwcourse.experiments import nextword

keras.utils.set_random_seed(0)  # the shuffling of the windows; each model seeds its own weights

# the checkpoints go to a scratch folder that is deleted when the kernel stops (or below)
scratch = tempfile.TemporaryDirectory(prefix="nb04-")
run_root = scratch.name
models, histories = {}, {}
for kind in ("lstm", "conv1d", "attention", "fastweights"):
    model = nextword.build_model(kind, tok.size, 3, **nextword.model_sizes(S))
    histories[kind] = nextword.fit(model, (train_X, train_y), data["valid"], f"{run_root}/{kind}",
                                   epochs=S.epochs, batch_size=S.batch_size)
    models[kind] = model
    h = histories[kind]
    results[kind] = {**nextword.evaluate(model, *data["test"]), "params": model.count_params(),
                     "train_loss": h.loss[h.best_epoch - 1], "valid_loss": min(h.val_loss)}
    print(f"{kind:12s} best epoch {h.best_epoch}/{len(h.loss)}: train loss {results[kind]['train_loss']:.3f}, "
          f"test perplexity {results[kind]['perplexity']:.1f}")

# %% [markdown]
# ## Exercise 3 (warm-up): perplexity from the loss
#
# The perplexity of a model on $N$ test windows is the exponential of its mean cross-entropy:
#
# $$ \mathrm{PPL} = \exp\Big(-\frac{1}{N} \sum_{i=1}^{N} \log p(y_i \mid X_i)\Big). $$
#
# A perplexity of 100 means the model is, on average, as unsure as a uniform choice among 100
# words; a uniform guess over the whole vocabulary scores $V$. Write it from the log-probabilities
# (`log_probs[i, j]` $= \log p(j \mid X_i)$, natural logarithms) and the target ids.

# %%
def perplexity(log_probs, targets):
    ### BEGIN SOLUTION
    picked = log_probs[np.arange(len(targets)), targets]
    return float(np.exp(-picked.mean()))
    ### END SOLUTION

perplexity = ex.perplexity.check(perplexity)

# %% [markdown]
# Keras reports the mean loss; its exponential is the perplexity:

# %%
X_test, y_test = data["test"]
keras_loss = models["lstm"].evaluate(X_test, y_test, verbose=0)[0]
print(f"exp(Keras test loss) = {np.exp(keras_loss):.2f}; "
      f"your perplexity = {perplexity(nextword.log_probs(models['lstm'], X_test), y_test):.2f}; "
      f"uniform guess = {tok.size}")

# %% [markdown]
# ## The comparison
#
# The training loss (at the kept checkpoint) sits beside the held-out scores. Top-$k$ accuracy is
# the fraction of test windows whose true next word is among the model's $k$ most likely words.

# %%
from IPython.display import Markdown
Markdown(nextword.results_table(results))

# %% [markdown]
# How to read it: the gap between training loss and validation loss is memorisation. The trigram
# model is strong with three words of context: it counts every training window (the neural models
# train on a sample of `S.max_train_windows` of them, for `S.epochs` epochs), and a neural model
# only earns its keep once it has enough data, capacity and context. At the quick scale the neural
# models see little data and train for two epochs, so expect the baseline to win. The next cell
# says what this run found; notebook 05 gives a transformer whole windows of context instead of
# three words, and beats the trigram on the same held-out documents.

# %%
best = min((k for k in results if k != "Kneser-Ney trigram"), key=lambda k: results[k]["perplexity"])
ratio = results[best]["perplexity"] / results["Kneser-Ney trigram"]["perplexity"]
print(f"best neural model: {best}, test perplexity {results[best]['perplexity']:.1f} = {ratio:.2f} x the "
      f"trigram's {results['Kneser-Ney trigram']['perplexity']:.1f} "
      f"({'the trigram wins' if ratio > 1 else 'the neural model wins'}).")

# %%
fig, axes = plt.subplots(1, len(histories), figsize=(3.2 * len(histories), 2.8), sharey=True)
for ax, (kind, h) in zip(np.atleast_1d(axes), histories.items()):
    epochs = np.arange(1, len(h.loss) + 1)
    ax.plot(epochs, h.loss, "o-", label="train")
    ax.plot(epochs, h.val_loss, "s-", label="validation")
    ax.axvline(h.best_epoch, color="gray", ls=":", label="kept")
    ax.set_title(kind)
    ax.set_xlabel("epoch")
np.atleast_1d(axes)[0].set_ylabel("cross-entropy (nats)")
np.atleast_1d(axes)[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The project's "accurate" model overfits
#
# The project trained a large LSTM for as long as time allowed and reported its falling training
# loss. We train a larger LSTM for many epochs with no early stopping, and watch both losses.

# %%
big = nextword.build_model("lstm", tok.size, 3, **{**nextword.model_sizes(S), "units": S.overfit_units,
                                                      "hidden": S.overfit_units})
h = nextword.fit(big, (train_X, train_y), data["valid"], f"{run_root}/overfit",
                 epochs=S.overfit_epochs, batch_size=S.batch_size)
epochs = np.arange(1, len(h.loss) + 1)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(epochs, h.loss, "o-", label="training loss (what the seed reported)")
ax.plot(epochs, h.val_loss, "s-", label="validation loss (what matters)")
ax.axvline(h.best_epoch, color="gray", ls=":", label=f"best checkpoint (epoch {h.best_epoch})")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy (nats)")
ax.legend()
plt.show()
print(f"last epoch: training loss {h.loss[-1]:.2f} (perplexity {np.exp(h.loss[-1]):.0f}) against "
      f"validation loss {h.val_loss[-1]:.2f} (perplexity {np.exp(h.val_loss[-1]):.0f}); the best "
      f"validation loss was {min(h.val_loss):.2f}, at epoch {h.best_epoch}.")

# %% [markdown]
# Read the two curves, not one. Where the validation loss turns up while the training loss keeps
# falling, every further epoch makes the model better at its training text and worse at new text:
# that is memorisation, and a training loss alone cannot show it. (The quick scale is too short to
# get there; run this notebook at the `default` scale.) The checkpoint callback keeps the epoch
# with the lowest validation loss, so the saved model is the one before memorisation took over.

# %% [markdown]
# ## Exercise 4 (warm-up): top-k decoding
#
# The project printed the five most likely next words. Given probabilities `probs` of shape
# `(N, V)`, return the indices of the `k` largest entries of each row, **most likely first**:
# shape `(N, k)`.

# %%
def top_k(probs, k):
    ### BEGIN SOLUTION
    return np.argsort(-probs, axis=1)[:, :k]
    ### END SOLUTION

top_k = ex.top_k.check(top_k)

# %%
best_kind = min((k for k in models), key=lambda k: results[k]["valid_loss"])
predictor = nextword.Predictor(models[best_kind], tok, context=3)
phrase_ids, _, _, _ = predictor.window("the value of")
probs = np.exp(nextword.log_probs(models[best_kind], phrase_ids[None, :]))
print(f"{best_kind}: 'the value of' ->", tok.decode(top_k(probs, 5)[0]))

# %% [markdown]
# ## Try it: type a phrase
#
# The best model on validation answers. Any number of words works: the last three are used, a
# shorter phrase is read as the start of a text, unknown words become `[UNK]` and punctuation is
# ignored. (Without a widget front end, the cell draws one example.)

# %%
from IPython.display import display
from fwcourse.course import viz

def draw_top5(phrase):
    pred = predictor.predict(phrase, k=5)
    fig, ax = plt.subplots(figsize=(5, 2.4))
    ax.barh(pred.words[::-1], pred.probs[::-1], color="tab:blue")
    ax.set_xlabel("probability of the next word")
    read = " ".join(pred.used) if pred.used else "(start of a text)"
    ax.set_title(f"after '{read}'" + (f"  [unknown: {', '.join(pred.unknown)}]" if pred.unknown else ""))
    fig.tight_layout()
    return fig

if viz.widgets_available():
    import ipywidgets as widgets

    def show_top5(phrase):
        draw_top5(phrase)
        plt.show()

    box = widgets.Text(value="the value of", description="phrase:", continuous_update=False)
    display(box, widgets.interactive_output(show_top5, {"phrase": box}))
else:
    draw_top5("the value of")
    plt.show()

# %% [markdown]
# ## From the command line
#
# The same pipeline, with a progress bar, a run directory that `predict` reads, and resumption
# after an interruption (re-run the same command):
#
# ```
# python -m fwcourse train-nextword --model lstm --out runs/lstm          # docstring corpus
# python -m fwcourse train-nextword --corpus my_texts/ --model fastweights --context 4 --out runs/fw
# python -m fwcourse predict --model runs/lstm                             # "0" or Ctrl-D quits
# echo "the value of" | python -m fwcourse predict --model runs/lstm       # piped input works too
# ```
#
# The run directory holds `model.keras` (best on validation), `vocab.json`, `settings.json`,
# `history.csv` and `metrics.json` (held-out scores of the model and of the trigram baseline).
# A checkpoint only makes sense with the vocabulary it was trained with, so loading it with
# another one is an error rather than silent nonsense:

# %%
other = corpus.Tokenizer.fit(split.test_texts, max_tokens=S.max_tokens)
nextword.save_run_files(f"{run_root}/{best_kind}", tok, dict(kind=best_kind, context=3))
try:
    nextword.load_run(f"{run_root}/{best_kind}", tokenizer=other)
except ValueError as err:
    print("ValueError:", err)
scratch.cleanup()  # the checkpoints were for this demonstration only

# %% [markdown]
# ## Exercise 5 (stretch, optional): beat the trigram
#
# Write a count-based model with the interface of `ngram.KneserNeyTrigram`: a class called as
# `Model(vocab_size)`, with `.fit(X, y)` on windows of 3 words and `.log_proba(X)` returning one
# row of log-probabilities per window, each row summing (as probabilities) to one. The checker fits
# it on the training windows only, measures its perplexity on the test windows, and prints it
# beside the Kneser-Ney trigram's. Tune on the validation windows, never on the test ones.
# `ex.beat_the_trigram.hint()` gives ideas. The notebook goes on without it.

# %%
beat_the_trigram = None   # your class, e.g. a subclass of ngram.KneserNeyTrigram
ex.beat_the_trigram.check(beat_the_trigram, train=data["train"], test=data["test"], vocab_size=tok.size)

# %% [markdown]
# ## Summary
#
# * A next-word model is judged on text it has not seen: perplexity, top-1 and top-5 on held-out
#   **documents**, with the checkpoint chosen on validation documents.
# * A falling training loss is not progress; the project's 0.60 was memorisation.
# * A smoothed trigram model is a strong, instant baseline on small corpora: a few lines of
#   counting, discounting and interpolation, with continuation counts at the lower orders.
# * The Conv1D "transformer" has no attention; a real attention block and a fast-weight RNN slot into
#   the same pipeline, and the table says honestly how each does at this data size.
#
# Next: notebook 05 trains a causal transformer language model on whole documents, where every
# position is a prediction and fast weights have long contexts to work with.
#
# ## References
#
# * Bratan & Cristea (2024), *Fast Weights: the first transformer variants?*, student report (the project this notebook redoes).
# * Ba, Hinton, Mnih, Leibo & Ionescu (2016), *Using fast weights to attend to the recent past*, arXiv:1610.06258.
# * Hochreiter & Schmidhuber (1997), *Long short-term memory*, Neural Computation 9:1735–1780.
# * Vaswani et al. (2017), *Attention is all you need*, NeurIPS.
# * Kneser & Ney (1995), *Improved backing-off for m-gram language modeling*, ICASSP.
# * Chen & Goodman (1999), *An empirical study of smoothing techniques for language modeling*,
#   Computer Speech and Language 13:359–394.
