"""The ``gradloom`` command line.

Importing this package is cheap: only click and the plugin registry are touched, and
the commands import numpy, models and data loaders inside their functions.
"""
__version__ = "0.1.0"
