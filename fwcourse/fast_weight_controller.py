"""Schmidhuber's (1992) fast-weight controller: a slow net S that programs the weights of a fast net F.

Schmidhuber, "Learning to control fast-weight memories: an alternative to dynamic recurrent
networks", Neural Computation 4(1):131-139, 1992. Two feed-forward nets without hidden units, with
identity output units, as in the paper's experiments:

* the slow net S sees ``x_slow(t)`` and emits a change ``Delta(t)`` of F's weights, either
  **one output per fast weight** (``"per_weight"``, the paper's Eq. 4),
  ``Delta(t) = A x_slow(t) + a``, or the **FROM/TO** architecture (``"from_to"``, Eq. 5), where S
  emits a FROM pattern ``frm(t) = K x_slow(t) + b_k`` (one unit per input of F) and a TO pattern
  ``to(t) = V x_slow(t) + b_v`` (one unit per output of F) and ``Delta(t) = to(t) frm(t)^T``.
  In today's words FROM is the key, TO the value, and F's input the query.
* the fast weights change as ``W(t) = sigma(W(t-1), Delta(t))`` (Eq. 1): either additively,
  ``W(t) = W(t-1) + Delta(t)``, or ``"bounded"``: ``W(t) = g(W(t-1) + Delta(t))`` with the logistic
  ``g(u) = 1 / (1 + exp(-4 c (u - 1/2)))`` of maximal steepness ``c``, which keeps the fast weights
  between 0 and 1. The paper's experiments bound the fast weights with a logistic function of a
  given maximal steepness (its Eq. 7); this ``g`` is our reading of it (for ``c > 1`` it has two
  stable fixed points near 0 and 1, so a written bit stays written).
* the fast net answers with the weights S has programmed so far: ``y(t) = W(t-1) x_fast(t)``, and
  then S's change at time t is applied. S's output at t thus programs F from t+1 on (reading
  before writing is what lets F answer "was there an A before this B?" and then forget the A).

S is trained by gradient descent through the fast-weight dynamics: :func:`loss_and_grads` is the
hand-written backward pass (backpropagation through time over a window of steps, the fast weights
carried in from the previous window), :func:`train_online` the on-line trainer (no resets, Adam).
The two tasks of the paper are :func:`flip_flop` and :func:`variable_binding`; the paper's success
criterion is :func:`solved_at`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from fwcourse.util import validate
from fwcourse.util.adam import Adam
from fwcourse.util.numerics import logistic

VARIANTS = ("per_weight", "from_to")
UPDATES = ("additive", "bounded")
EVENTS = ("A", "B", "C")

# Adam step size, window and bounding steepness per (task, variant) for :func:`train_online`,
# chosen by us in a small search on seeds the notebook does not use (the paper trains with plain
# gradient descent; its settings are not reproduced here).
TRAIN_SETTINGS = {
    ("flip_flop", "per_weight"): dict(lr=0.05, window=5, steepness=2.5),
    ("flip_flop", "from_to"): dict(lr=0.05, window=5, steepness=2.5),
    ("variable_binding", "per_weight"): dict(lr=0.03, window=5, steepness=3.0),
    ("variable_binding", "from_to"): dict(lr=0.03, window=10, steepness=3.0),
}


# -- the model -----------------------------------------------------------------------------------
def init_params(n_slow_in: int, n_fast_in: int, n_fast_out: int, variant: str = "from_to",
                rng: np.random.Generator | int | None = None, init_scale: float = 0.1) -> dict[str, np.ndarray]:
    """Slow weights of S, uniform in [-init_scale, init_scale] (the paper: [-0.1, 0.1]).

    ``"per_weight"``: ``A`` (n_fast_out, n_fast_in, n_slow_in) and ``a`` (n_fast_out, n_fast_in).
    ``"from_to"``: ``K`` (n_fast_in, n_slow_in), ``bk`` (n_fast_in,), ``V`` (n_fast_out, n_slow_in),
    ``bv`` (n_fast_out,).
    """
    s = validate.positive_int(n_slow_in, "n_slow_in")
    n = validate.positive_int(n_fast_in, "n_fast_in")
    m = validate.positive_int(n_fast_out, "n_fast_out")
    validate.choice(variant, "variant", VARIANTS)
    validate.in_range(init_scale, "init_scale", 0, None)
    rng = np.random.default_rng(rng)
    shapes = (dict(A=(m, n, s), a=(m, n)) if variant == "per_weight"
              else dict(K=(n, s), bk=(n,), V=(m, s), bv=(m,)))
    return {name: rng.uniform(-init_scale, init_scale, shape) for name, shape in shapes.items()}


def variant_of(params: dict) -> str:
    """``"per_weight"`` or ``"from_to"``, from the names of the slow weights."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays (see init_params); got {type(params).__name__}.")
    if set(params) == {"A", "a"}:
        return "per_weight"
    if set(params) == {"K", "bk", "V", "bv"}:
        return "from_to"
    raise ValueError(
        f"params must have keys {{'A', 'a'}} (per_weight) or {{'K', 'bk', 'V', 'bv'}} (from_to); "
        f"got {sorted(params)}."
    )


def fast_shape(params: dict) -> tuple[int, int, int]:
    """(n_fast_out, n_fast_in, n_slow_in) of a controller."""
    if variant_of(params) == "per_weight":
        return tuple(np.shape(params["A"]))
    return np.shape(params["V"])[0], np.shape(params["K"])[0], np.shape(params["K"])[1]


def fast_weight_update(W: np.ndarray, to: np.ndarray, frm: np.ndarray) -> np.ndarray:
    """The additive FROM/TO change (Eq. 5 with additive Eq. 1): ``W + to frm^T``.

    ``W`` (m, n) fast weights, ``to`` (m,) the TO pattern, ``frm`` (n,) the FROM pattern.
    """
    to = validate.array(to, "to", ndim=1)
    frm = validate.array(frm, "frm", ndim=1)
    W = validate.array(W, "W", shape=(to.shape[0], frm.shape[0]))
    return W + to[:, None] * frm[None, :]


def write_gradients(W: np.ndarray, to: np.ndarray, frm: np.ndarray, x: np.ndarray,
                    d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ``E = 1/2 |(W + to frm^T) x - d|^2`` with respect to ``to`` and ``frm``.

    With the error ``e = (W + to frm^T) x - d``: ``dE/dto = e (frm . x)`` and ``dE/dfrm = (e . to) x``.
    This is the last link of backpropagation through the fast weights: how the next answer's
    error blames the TO and FROM patterns that S wrote. ``W`` (m, n), ``to`` and ``d`` (m,),
    ``frm`` and ``x`` (n,).
    """
    to = validate.array(to, "to", ndim=1)
    frm = validate.array(frm, "frm", ndim=1)
    W = validate.array(W, "W", shape=(to.shape[0], frm.shape[0]))
    x = validate.array(x, "x", shape=frm.shape)
    d = validate.array(d, "d", shape=to.shape)
    e = (W + to[:, None] * frm[None, :]) @ x - d
    return e * (frm @ x), (e @ to) * x


def bound(u: np.ndarray, steepness: float) -> np.ndarray:
    """``g(u) = 1 / (1 + exp(-4 c (u - 1/2)))``: a logistic into (0, 1) with slope ``c`` at u = 1/2."""
    return logistic(4.0 * steepness * (np.asarray(u, dtype=float) - 0.5))


@dataclass
class Trace:
    """What :func:`forward` computed over T steps.

    ``y`` (T, m) F's outputs; ``W`` (T + 1, m, n) the fast weights, ``W[0]`` the initial ones and
    ``W[t]`` those after step t (so ``y[t-1] = W[t-1] @ x_fast[t-1]``); ``delta`` (T, m, n) S's
    changes; ``to`` (T, m) and ``frm`` (T, n) the TO/FROM patterns (None for ``"per_weight"``).
    """

    y: np.ndarray
    W: np.ndarray
    delta: np.ndarray
    to: np.ndarray | None
    frm: np.ndarray | None


def _check_inputs(params, x_slow, x_fast, W0, update, steepness):
    """Validate everything :func:`_forward` reads, once; return the arrays as float arrays."""
    validate.choice(update, "update", UPDATES)
    validate.in_range(steepness, "steepness", 0, None, low_open=True)
    m, n, s = fast_shape(params)
    for name, value in params.items():
        validate.array(value, f"params[{name!r}]")
    x_slow = validate.array(x_slow, "x_slow", shape=(None, s), dtype=float)
    x_fast = validate.array(x_fast, "x_fast", shape=(None, n), dtype=float)
    validate.same_length("x_slow", x_slow, "x_fast", x_fast)
    W0 = np.zeros((m, n)) if W0 is None else validate.array(W0, "W0", shape=(m, n), dtype=float)
    return x_slow, x_fast, W0


def forward(params: dict, x_slow, x_fast, update: str = "bounded", steepness: float = 3.0,
            W0=None) -> Trace:
    """Run the controller over a stream: ``x_slow`` (T, n_slow_in) into S, ``x_fast`` (T, n) into F.

    Per step t: ``y(t) = W(t-1) x_fast(t)``, then ``W(t) = sigma(W(t-1), Delta(t))`` (see the module
    docstring). ``W0`` (m, n) are the fast weights before the first step (zeros if None).
    """
    x_slow, x_fast, W0 = _check_inputs(params, x_slow, x_fast, W0, update, steepness)
    return _forward(params, x_slow, x_fast, update, steepness, W0)


def _forward(params: dict, x_slow: np.ndarray, x_fast: np.ndarray, update: str, steepness: float,
             W0: np.ndarray) -> Trace:
    """:func:`forward` on inputs :func:`_check_inputs` has validated."""
    # S has no memory, so its outputs for all steps come in one vectorised pass.
    if variant_of(params) == "per_weight":
        to = frm = None
        delta = np.einsum("mns,ts->tmn", params["A"], x_slow) + params["a"]
    else:
        frm = x_slow @ params["K"].T + params["bk"]
        to = x_slow @ params["V"].T + params["bv"]
        delta = to[:, :, None] * frm[:, None, :]
    T = len(x_slow)
    W = np.empty((T + 1,) + W0.shape)
    W[0] = W0
    if update == "additive":
        W[1:] = W0 + np.cumsum(delta, axis=0)
    else:
        for t in range(T):
            W[t + 1] = bound(W[t] + delta[t], steepness)
    y = np.einsum("tmn,tn->tm", W[:-1], x_fast)
    return Trace(y=y, W=W, delta=delta, to=to, frm=frm)


def step(params: dict, W, x_slow_t, x_fast_t, update: str = "bounded",
         steepness: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """One time step: ``(y(t), W(t))`` from the fast weights ``W = W(t-1)`` and the inputs at t."""
    x_slow_t = validate.array(x_slow_t, "x_slow_t", ndim=1)
    x_fast_t = validate.array(x_fast_t, "x_fast_t", ndim=1)
    trace = forward(params, x_slow_t[None], x_fast_t[None], update, steepness, W0=W)
    return trace.y[0], trace.W[1]


def loss_and_grads(params: dict, x_slow, x_fast, target, mask=None, update: str = "bounded",
                   steepness: float = 3.0, W0=None) -> tuple[float, dict[str, np.ndarray], Trace]:
    """Loss ``E = 1/2 sum_t sum_i mask_ti (y_i(t) - d_i(t))^2`` over the window and its exact gradient.

    The backward pass runs through the fast-weight dynamics (backpropagation through time):
    with ``G(t) = dE/dW(t)``, ``G(T) = 0`` and, going back,
    ``dE/dDelta(t) = G(t) * sigma'`` and ``G(t-1) = e(t) x_fast(t)^T + dE/dDelta(t)``, where
    ``e(t) = mask (y(t) - d(t))`` and ``sigma' = 1`` (additive) or ``4 c W(t) (1 - W(t))`` (bounded).
    Returns ``(E, grads, trace)``; ``grads`` has one entry per slow weight plus ``"W0"``.
    """
    x_slow, x_fast, W0 = _check_inputs(params, x_slow, x_fast, W0, update, steepness)
    trace = _forward(params, x_slow, x_fast, update, steepness, W0)
    target = validate.array(target, "target", shape=trace.y.shape, dtype=float)
    mask = np.ones_like(target) if mask is None else validate.array(mask, "mask", shape=trace.y.shape, dtype=float)
    err = mask * (trace.y - target)
    loss = 0.5 * float(np.sum(err * (trace.y - target)))
    read = err[:, :, None] * x_fast[:, None, :]          # dE/dW(t-1) through F's read at t
    if update == "additive":
        # G(t) = sum of the reads after t: a reversed exclusive cumulative sum.
        after = np.cumsum(read[::-1], axis=0)[::-1]
        d_delta = np.concatenate([after[1:], np.zeros_like(read[:1])])
        g_w0 = after[0]
    else:
        d_delta = np.empty_like(read)
        G = np.zeros_like(read[0])
        for t in range(len(read) - 1, -1, -1):
            Wt = trace.W[t + 1]
            d_delta[t] = G * 4.0 * steepness * Wt * (1.0 - Wt)
            G = read[t] + d_delta[t]
        g_w0 = G
    if variant_of(params) == "per_weight":
        grads = dict(A=np.einsum("tmn,ts->mns", d_delta, x_slow), a=d_delta.sum(axis=0))
    else:
        d_to = np.einsum("tmn,tn->tm", d_delta, trace.frm)
        d_frm = np.einsum("tmn,tm->tn", d_delta, trace.to)
        grads = dict(K=d_frm.T @ x_slow, bk=d_frm.sum(axis=0), V=d_to.T @ x_slow, bv=d_to.sum(axis=0))
    grads["W0"] = g_w0
    return loss, grads, trace


# -- the paper's two tasks -----------------------------------------------------------------------
@dataclass
class Task:
    """A stream for the controller: ``x_slow`` (T, s) into S, ``x_fast`` (T, n) into F, ``target``
    (T, m) F's desired output where ``mask`` (T, m) is 1; ``labels`` (T,) names each step."""

    x_slow: np.ndarray
    x_fast: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.x_slow)

    def window(self, start: int, stop: int) -> "Task":
        """Steps ``start .. stop-1`` as a Task."""
        return Task(*(getattr(self, f)[start:stop] for f in ("x_slow", "x_fast", "target", "mask", "labels")))


def flip_flop(n_steps: int, rng: np.random.Generator | int | None = None) -> Task:
    """The flip-flop with unknown delays (the paper's first experiment, after Williams & Zipser 1989).

    At every step one of the events A, B, C is drawn uniformly and shown as a one-hot vector to
    both S and F. F's single output must be 1 exactly when the event is the first B after an A
    (an A since the previous B), and 0 at all other steps. There are no episode boundaries.
    """
    T = validate.positive_int(n_steps, "n_steps")
    events = np.random.default_rng(rng).integers(0, 3, T)
    x = np.eye(3)[events]
    idx = np.arange(T)
    last_a = np.maximum.accumulate(np.where(events == 0, idx, -1))            # last A at or before t
    last_b = np.maximum.accumulate(np.where(events == 1, idx, -1))
    last_b_before = np.concatenate([[-1], last_b[:-1]])                       # last B strictly before t
    target = ((events == 1) & (last_a > last_b_before)).astype(float)[:, None]
    return Task(x_slow=x, x_fast=x.copy(), target=target, mask=np.ones_like(target),
                labels=np.array(EVENTS)[events])


def variable_binding(n_steps: int, rng: np.random.Generator | int | None = None, p_stop: float = 0.25,
                     p_finish: float = 0.25, p_query: float = 0.5) -> Task:
    """Temporary variable binding, "where is my car?" (the paper's second experiment).

    A car owner drives for zero or more steps (he stops with probability ``p_stop`` per step),
    parks in one of three slots (that slot's detector is on for that one step), does business for
    zero or more steps (finishing with probability ``p_finish`` per step), and drives on. S sees
    the 3 slot detectors and 3 random binary distractors; F sees one input, WHERE-IS-MY-CAR?,
    switched on at business steps with probability ``p_query``; F's 3 outputs must then be the
    one-hot slot. Other steps carry no target (``mask`` 0). The parking step itself is never
    queried: S's change at t only reaches F at t+1.
    """
    T = validate.positive_int(n_steps, "n_steps")
    for value, name in ((p_stop, "p_stop"), (p_finish, "p_finish")):
        validate.in_range(value, name, 0, 1, low_open=True)
    validate.in_range(p_query, "p_query", 0, 1)
    rng = np.random.default_rng(rng)
    # Enough cycles (drive, park, business) to cover T steps: each cycle takes at least one step.
    n_cycles = T
    drive = rng.geometric(p_stop, n_cycles) - 1
    business = rng.geometric(p_finish, n_cycles) - 1
    slots = rng.integers(0, 3, n_cycles)
    # phase per step: 0 driving, 1 parking, 2 business; each step also knows its cycle.
    lengths = np.stack([drive, np.ones(n_cycles, int), business], axis=1).ravel()
    phase = np.repeat(np.tile([0, 1, 2], n_cycles), lengths)[:T]
    cycle = np.repeat(np.repeat(np.arange(n_cycles), 3), lengths)[:T]
    slot = slots[cycle]
    x_slow = np.zeros((T, 6))
    parking = phase == 1
    x_slow[parking, slot[parking]] = 1.0
    x_slow[:, 3:] = rng.integers(0, 2, (T, 3))
    query = (phase == 2) & (rng.random(T) < p_query)
    x_fast = query.astype(float)[:, None]
    target = np.zeros((T, 3))
    target[query, slot[query]] = 1.0
    mask = np.repeat(query.astype(float)[:, None], 3, axis=1)
    names = np.array(["drive", "park", "business"])
    labels = np.char.add(names[phase], np.where(parking | query, np.char.add(" P", (slot + 1).astype(str)), ""))
    labels = np.where(query, np.char.add(labels, " ?"), labels)
    return Task(x_slow=x_slow, x_fast=x_fast, target=target, mask=mask, labels=labels)


def step_errors(y, target, mask) -> tuple[np.ndarray, np.ndarray]:
    """Per step: the largest ``|y - d|`` over F's targeted outputs, and whether the step has a target."""
    y = validate.array(y, "y", ndim=2)
    target = validate.array(target, "target", shape=y.shape)
    mask = validate.array(mask, "mask", shape=y.shape)
    errors = np.max(np.abs(y - target) * (mask > 0), axis=1)
    return errors, np.any(mask > 0, axis=1)


def solved_at(errors, valid=None, run: int = 100, tol: float = 0.05) -> int | None:
    """The paper's criterion: the number of steps seen when, for the first time, the error has not
    exceeded ``tol`` for ``run`` targeted steps in a row (None if that never happens).

    ``errors`` (T,) per-step errors; ``valid`` (T,) which steps have a target (all if None).
    """
    errors = validate.array(errors, "errors", ndim=1)
    valid = np.ones(len(errors), bool) if valid is None else validate.array(valid, "valid", shape=errors.shape).astype(bool)
    run = validate.positive_int(run, "run")
    validate.in_range(tol, "tol", 0, None)
    where = np.flatnonzero(valid)
    ok = (errors[where] <= tol).astype(int)
    if len(ok) < run:
        return None
    full = np.flatnonzero(np.convolve(ok, np.ones(run, int), mode="valid") == run)
    return None if full.size == 0 else int(where[full[0] + run - 1]) + 1


# -- on-line training ----------------------------------------------------------------------------
@dataclass
class TrainResult:
    """``steps_to_solve`` (None if unsolved), per-step ``errors`` and ``valid`` (targeted) flags of
    the steps seen, the trained ``params`` and the fast weights ``W`` after the last step."""

    steps_to_solve: int | None
    errors: np.ndarray
    valid: np.ndarray
    params: dict[str, np.ndarray]
    W: np.ndarray


def train_online(task: Task, variant: str = "per_weight", lr: float = 0.05, window: int = 10,
                 update: str = "bounded", steepness: float = 3.0,
                 rng: np.random.Generator | int | None = None,
                 stop_when_solved: bool = True, run: int = 100, tol: float = 0.05,
                 progress: bool = True) -> TrainResult:
    """Train S on-line on one unbroken stream, never resetting the fast weights.

    Every ``window`` steps S's weights take one Adam step on the gradient of that window's error
    (backpropagation through the fast-weight dynamics of the window, :func:`loss_and_grads`; the
    fast weights carry over from window to window, the gradient does not). Each step's error is
    measured with the weights S had at that step, as in on-line learning. ``rng`` draws S's
    initial weights (:func:`init_params`).
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task (see flip_flop, variable_binding); got {type(task).__name__}.")
    window = validate.positive_int(window, "window", minimum=2)
    m, n, s = task.target.shape[1], task.x_fast.shape[1], task.x_slow.shape[1]
    params = init_params(s, n, m, variant, rng=rng)
    opt = Adam(lr=lr)
    W = np.zeros((m, n))
    errors, valid = np.zeros(len(task)), np.zeros(len(task), bool)
    solved = None
    # the bar counts time steps, the unit the task's budget and the paper's results are in
    bar = tqdm(total=len(task), desc=f"{variant} controller", unit="step", disable=not progress,
               leave=False)
    for start in range(0, len(task), window):
        part = task.window(start, start + window)
        _, grads, trace = loss_and_grads(params, part.x_slow, part.x_fast, part.target, part.mask,
                                         update, steepness, W0=W)
        stop = start + len(part)
        bar.update(len(part))
        errors[start:stop], valid[start:stop] = step_errors(trace.y, part.target, part.mask)
        W = trace.W[-1]
        grads.pop("W0")
        opt.step(params, grads)
        solved = solved_at(errors[:stop], valid[:stop], run, tol)
        if solved is not None and stop_when_solved:
            break
        if start % (50 * window) == 0:
            bar.set_postfix(error=f"{errors[max(0, stop - 100):stop].max():.3f}")
    bar.close()
    seen = stop if solved is not None and stop_when_solved else len(task)
    return TrainResult(steps_to_solve=solved, errors=errors[:seen], valid=valid[:seen], params=params, W=W)
