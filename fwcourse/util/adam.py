"""A tiny NumPy Adam optimiser for dictionaries of parameter arrays (Kingma & Ba 2015, Algorithm 1)."""
from __future__ import annotations

import numpy as np

from fwcourse.util import validate


class Adam:
    """Adam over a dict ``name -> array``; :meth:`step` updates the arrays in place.

    Args:
        lr: step size (alpha), > 0.
        beta1, beta2: decay rates of the first and second moment estimates, in [0, 1).
        eps: added to the root of the second moment, > 0.
    """

    def __init__(self, lr: float = 1e-2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr = float(validate.in_range(lr, "lr", 0, None, low_open=True))
        self.beta1 = float(validate.in_range(beta1, "beta1", 0, 1, high_open=True))
        self.beta2 = float(validate.in_range(beta2, "beta2", 0, 1, high_open=True))
        self.eps = float(validate.in_range(eps, "eps", 0, None, low_open=True))
        self.t = 0
        self._m: dict[str, np.ndarray] = {}
        self._v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply one Adam update to every entry of ``params`` that has a gradient in ``grads``."""
        self.t += 1
        for name, p in params.items():
            if name not in grads:
                continue
            g = validate.array(grads[name], f"grads[{name!r}]", shape=p.shape)
            m = self._m.setdefault(name, np.zeros_like(p))
            v = self._v.setdefault(name, np.zeros_like(p))
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1 ** self.t)
            v_hat = v / (1 - self.beta2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
