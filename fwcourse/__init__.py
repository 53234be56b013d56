"""fwcourse: tested reference implementations behind the fast-weights notebook course.

Importing the package is cheap (no TensorFlow); topic modules are imported on demand, e.g.
``from fwcourse import linear_attention``.
"""
__version__ = "0.1.0"
