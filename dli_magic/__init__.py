"""dli-magic: run Data Lake Insight Flink jobs from Jupyter.

``import dli_magic`` stays cheap: pandas, requests, ipywidgets and IPython are imported only when
a feature needs them (``%load_ext dli_magic`` registers the magics lazily).
"""

from __future__ import annotations

__version__ = "0.1.0"
