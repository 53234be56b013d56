"""fwcourse: tested reference implementations behind the fast-weights notebook course.

Importing the package is cheap (no TensorFlow); topic modules are imported on demand, e.g.
``from fwcourse import linear_attention``. It also keeps TensorFlow's C++ start-up log quiet
(:mod:`fwcourse.util.tflog`) for the commands, the notebooks (their first cell imports fwcourse
before TensorFlow) and scripts: set ``TF_CPP_MIN_LOG_LEVEL=0`` to see it.
"""
from fwcourse.util import tflog as _tflog

__version__ = "0.1.0"

_tflog.install()
