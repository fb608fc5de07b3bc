"""``nt export-data``: a selection or SFT set as a Hugging Face dataset folder with a card that says where it came from.

Python API::

    from naturalthoughts.export_data import ExportDataConfig, ExportDataStage
    Runner("runs/demo").run_stage(ExportDataStage(ExportDataConfig(out="exports/pick", license="apache-2.0"),
                                                  selection="pick"))
"""

from naturalthoughts.export_data.config import ExportDataConfig
from naturalthoughts.export_data.stage import ExportDataStage

__all__ = ["ExportDataConfig", "ExportDataStage"]
