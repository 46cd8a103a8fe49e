"""edgecnn: train, export and benchmark lightweight image classifiers for edge devices.

Importing this package loads neither torch nor any inference runtime, so the
runtime-only install on a device can use it.
"""

__version__ = "0.1.0"
