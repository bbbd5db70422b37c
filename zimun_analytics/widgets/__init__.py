"""The widgets room: the notebook slot picker (ipywidgets, and an anywidget heatmap).

Imports the foundations and the client room; ipywidgets and anywidget load only when a
picker is made.
"""

from ._picker import SlotPicker

__all__ = ["SlotPicker"]
