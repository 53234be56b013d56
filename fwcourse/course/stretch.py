"""Stretch exercises: open tasks whose checker measures the learner's answer instead of comparing it.

A warm-up or core exercise (:class:`fwcourse.course.check.Exercise`) has one right answer, the
reference's. A stretch exercise has a goal ("recall more pairs than the delta rule", "a lower
perplexity than the Kneser-Ney trigram") and a number that measures it. In a notebook::

    from fwcourse.course.exercises import nb02 as ex
    ex.better_memory_rule.check(my_write_rule, d=S.capacity_dim)

measures the learner's answer and the reference's on the same data and prints both side by side,
with one of these verdicts:

* ``not attempted``: the answer is ``None`` (the notebook's starting value);
* ``breaks the rules``: the answer does something the task forbids (the measure says what);
* ``raised an exception``: with a short traceback of the learner's own code;
* ``beats the reference`` or ``does not beat the reference (yet)``: both numbers, and which way is
  better (by more than a stated margin where one training run makes the measure noisy).

The checks stop honest mistakes (an answer that peeks at what it must predict, keeps state it
should not, or spends more than the budget); they do not defend against code written to cheat
them, which is the learner's own loss.

Stretch exercises are optional: the notebook goes on without them, nothing later depends on them,
and ``grade`` does not score them.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Hashable

import numpy as np

from fwcourse.course.check import _short_traceback, notebook_of

NOT_ATTEMPTED = "not_attempted"
INVALID = "invalid"
ERROR = "error"
BEATEN = "beaten"
NOT_BEATEN = "not_beaten"

_HEADLINES = {
    NOT_ATTEMPTED: "not attempted",
    INVALID: "breaks the rules",
    ERROR: "raised an exception",
    BEATEN: "beats the reference",
    NOT_BEATEN: "does not beat the reference (yet)",
}


class InvalidAnswer(Exception):
    """Raised by a measure when the answer breaks the task's rules; the message says which rule."""


@dataclass
class StretchResult:
    """The measured outcome of a stretch exercise: ``yours`` and ``reference`` in the task's unit."""

    exercise: str
    status: str
    message: str
    yours: float | None = None
    reference: float | None = None

    @property
    def beaten(self) -> bool:
        return self.status == BEATEN

    def __str__(self) -> str:
        mark = "[ok]" if self.beaten else "[--]" if self.status in (NOT_ATTEMPTED, NOT_BEATEN) else "[x]"
        text = f"{mark} {self.exercise} (stretch): {_HEADLINES[self.status]}"
        return text + (f"\n{self.message}" if self.message else "")

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


class Stretch:
    """One open task: a goal, a measure, and the reference answer to beat.

    Args:
        name: the answer's name in the notebook.
        goal: one sentence: what to beat, and how it is measured.
        measure: ``measure(answer, **context) -> float``; raises :class:`InvalidAnswer` when the
            answer breaks the task's rules. ``context`` is what the notebook passes to
            :meth:`check` (its data and sizes), so the measure runs at the notebook's scale.
        reference: ``reference() -> answer``: the course's own answer, measured the same way.
        unit: what the number is, e.g. ``"test perplexity"``.
        hint: one hint, or a list of ideas, each call of :meth:`hint` showing one more.
        lower_is_better: the direction of the measure.
        margin: how much better, as a fraction of the reference's number, an answer must be to beat
            it (for a measure that one training run makes noisy).
        module: the module that defines the exercise (by default the caller's).
    """

    def __init__(self, name: str, goal: str, measure: Callable[..., float], reference: Callable[[], Any],
                 unit: str, hint: str | list[str], lower_is_better: bool = True, margin: float = 0.0,
                 module: str | None = None) -> None:
        if not callable(measure) or not callable(reference):
            raise TypeError("measure and reference must be callable.")
        self.name, self.goal, self.unit = name, goal, unit
        self.measure, self.reference = measure, reference
        self.lower_is_better = lower_is_better
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1); got {margin}.")
        self.margin = margin
        self.hints = [hint] if isinstance(hint, str) else list(hint)
        self.module = sys._getframe(1).f_globals.get("__name__") if module is None else module
        self.notebook = notebook_of(self.module)
        self._hints_shown = 0
        # the reference's number per context, keyed by the context's contents (see _fingerprint)
        self._reference_scores: dict[tuple, tuple[list, float]] = {}

    def __repr__(self) -> str:
        return f"Stretch({self.name!r}: .check(answer, ...), .hint(), .reference_score(...))"

    def hint(self) -> None:
        """Print the next idea (each call reveals one more, then repeats the last)."""
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        print(f"Idea {index + 1} of {len(self.hints)}: {self.hints[index]}")

    def reference_score(self, **context) -> float:
        """The reference answer's number in this context (measured once per context)."""
        key = tuple((name, _fingerprint(value)) for name, value in sorted(context.items()))
        if key not in self._reference_scores:
            self._reference_scores[key] = (list(context.values()), float(self.measure(self.reference(), **context)))
        return self._reference_scores[key][1]

    def better(self, yours: float, reference: float) -> bool:
        """Better in the measure's direction by more than ``margin`` of the reference (a tie never is)."""
        slack = self.margin * abs(reference) if np.isfinite(reference) else 0.0
        return yours < reference - slack if self.lower_is_better else yours > reference + slack

    def run(self, answer, **context) -> StretchResult:
        """Measure ``answer`` and the reference in ``context``; return the verdict without printing it."""
        if answer is None or answer is Ellipsis:
            return StretchResult(self.name, NOT_ATTEMPTED, f"Goal: {self.goal}\nSet `{self.name}` and run the check.")
        try:
            yours = float(self.measure(answer, **context))
        except InvalidAnswer as err:
            return StretchResult(self.name, INVALID, str(err))
        except Exception as err:  # the learner's code failed inside the measure
            return StretchResult(self.name, ERROR, _short_traceback(err))
        reference = self.reference_score(**context)
        direction = "lower" if self.lower_is_better else "higher"
        message = (f"{self.unit}: yours {_fmt(yours)}, the reference's {_fmt(reference)} "
                   f"({direction} is better; same data, same budget"
                   + (f"; a win must be by more than {self.margin:.0%}: one training run is noisy" if self.margin else "")
                   + ").")
        return StretchResult(self.name, BEATEN if self.better(yours, reference) else NOT_BEATEN,
                             message, yours, reference)

    def check(self, answer, **context) -> None:
        """Measure ``answer`` and print the verdict beside the reference's number (:meth:`run`
        returns it instead; printing and returning both would show it twice as a cell's last line)."""
        result = self.run(answer, **context)
        print(result)
        if result.status in (NOT_BEATEN, INVALID, ERROR):
            print(f"Ideas: call .hint() on this exercise ({len(self.hints)} of them). It is optional: "
                  "the notebook goes on without it.")


def _fingerprint(value) -> Hashable:
    """A key that changes when the contents change: the bytes of arrays, the fields of a namespace or
    dict (so a learner who edits ``S.epochs`` gets the reference measured again), the value of
    numbers and strings; other objects by identity (the cache entry keeps them alive, so an id
    cannot be reused while its entry exists)."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype), hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    if isinstance(value, SimpleNamespace):
        value = vars(value)
    if isinstance(value, dict):
        return ("dict", tuple((str(k), _fingerprint(v)) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))))
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return ("value", repr(value))
    return ("object", id(value))


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return "never" if value > 0 else str(value)
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def int_in(low: int, high: int) -> Callable[[Any, str], int]:
    """A :func:`settings` rule: an integer in [low, high]."""
    from fwcourse.util import validate

    return lambda v, name: int(validate.in_range(validate.positive_int(v, name), name, low, high))


def settings(answer, reference: dict, rules: dict[str, Callable[[Any, str], Any]]) -> dict:
    """The reference's settings with the learner's ``answer`` (a dict) on top, each checked.

    ``rules`` maps every key the learner may change to a check ``rule(value, name)`` from
    :mod:`fwcourse.util.validate` that returns the value or raises; a key outside ``rules``, or a
    value its rule refuses, is an :class:`InvalidAnswer`.
    """
    if not isinstance(answer, dict):
        raise InvalidAnswer(f"The answer must be a dict of settings, e.g. {dict(list(reference.items())[:1])}; "
                            f"got {type(answer).__name__}.")
    unknown = sorted(map(str, set(answer) - set(rules)))
    if unknown:
        raise InvalidAnswer(f"Only these settings may change: {', '.join(rules)}; got {', '.join(unknown)}.")
    merged = dict(reference)
    for key, value in answer.items():
        try:
            merged[key] = rules[key](value, key)
        except (TypeError, ValueError) as err:
            raise InvalidAnswer(str(err)) from None
    return merged
