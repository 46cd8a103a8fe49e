"""Export a trained model to validated ONNX and TFLite artifacts, float and int8.

``export_model`` in ``edgecnn.export.pipeline`` runs the whole export. The format
modules import torch, onnx and litert-torch inside their functions, so importing
this package loads none of them.
"""

from edgecnn.errors import EdgecnnError


class ExportError(EdgecnnError):
    """An export step failed or an artifact did not pass validation."""
