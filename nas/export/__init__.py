"""``nas export``: trained trials to self-contained model folders, and back.

:mod:`nas.export._export` selects trials and writes the folders; the weights
come from :mod:`nas.export._weights`, TorchScript/ONNX and checksums from
:mod:`nas.export._formats`, the model card from :mod:`nas.export._card`.
"""

from nas.export._export import (
    ALL_FORMATS,
    EXPORT_VERSION,
    export_trials,
    load_export,
    parse_formats,
    read_export,
    select_trials,
)

__all__ = [
    "ALL_FORMATS",
    "EXPORT_VERSION",
    "parse_formats",
    "export_trials",
    "select_trials",
    "load_export",
    "read_export",
]
