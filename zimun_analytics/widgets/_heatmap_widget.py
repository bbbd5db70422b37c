"""The picker's heatmap as one widget: every cell drawn by the browser, not one widget each.

Sixty days of opening hours are over 700 cells. As ipywidgets Buttons they are 700 widget
models, each its own comm message, layout and style model, and the browser never finished
drawing them; here the kernel sends one dict and a few lines of JavaScript draw the grid
(``anywidget``). Imported by :mod:`.widgets` inside a method, with ``anywidget``.

The cells keep the CSS classes the Buttons had (``zimun-cell``, ``zimun-<kind>``,
``zimun-d-<date>``, ``zimun-h-<hour>``, ``zimun-selected``, ``zimun-held``), so the page's
styles and browser tests find them the same way.
"""

from __future__ import annotations

import anywidget
import traitlets

_ESM = """
const pad = (hour) => String(hour).padStart(2, "0");

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "zimun-grid";
  el.appendChild(root);

  function label(text, width) {
    const span = document.createElement("span");
    span.className = "zimun-grid-label";
    span.textContent = text;
    if (width) span.style.width = width;
    return span;
  }

  function draw() {
    const { hours = [], rows = [], cells = {}, empty = "" } = model.get("grid");
    const marks = model.get("marks");
    const page = document.createDocumentFragment();
    if (!hours.length) {
      root.style.display = "block";
      page.appendChild(label(empty));
      root.replaceChildren(page);
      return;
    }
    root.style.display = "grid";
    root.style.gridTemplateColumns = `96px repeat(${hours.length}, 42px)`;
    page.appendChild(label(""));
    for (const hour of hours) page.appendChild(label(`${pad(hour)}:00`));
    for (const row of rows) {
      page.appendChild(label(row.label));
      for (const hour of hours) {
        const key = `${row.day}|${hour}`;
        const cell = cells[key];
        const mark = marks[key];
        const button = document.createElement("button");
        button.className = `zimun-cell zimun-${cell.kind} zimun-d-${row.day} zimun-h-${pad(hour)}`;
        if (mark) button.classList.add(`zimun-${mark}`);
        button.textContent = mark === "held" ? cell.held_text : cell.text;
        button.title = cell.tip;
        button.disabled = cell.kind !== "free";
        if (cell.color) button.style.background = cell.color;
        if (cell.ink) button.style.color = cell.ink;
        button.dataset.key = key;
        page.appendChild(button);
      }
    }
    root.replaceChildren(page);
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button.zimun-cell");
    if (!button || button.disabled) return;
    const clicks = (model.get("clicked").clicks || 0) + 1;  // a new value, even for one cell
    model.set("clicked", { key: button.dataset.key, clicks });
    model.save_changes();
  });
  model.on("change:grid", draw);
  model.on("change:marks", draw);
  draw();
}

export default { render };
"""

_CSS = """
.zimun-grid { gap: 2px; overflow: auto; align-items: center; }
.zimun-grid-label { font-size: 12px; white-space: nowrap; }
.zimun-grid .zimun-cell { height: 28px; border: 1px solid transparent; border-radius: 2px;
  cursor: pointer; font-size: 11px; padding: 0; }
.zimun-grid .zimun-cell:disabled { cursor: default; }
.zimun-grid .zimun-selected { outline: 3px solid #111111; outline-offset: -3px; }
.zimun-grid .zimun-held { outline: 3px dashed #111111; outline-offset: -3px;
  font-weight: bold; }
"""


class HeatmapGrid(anywidget.AnyWidget):
    """A grid of hour cells, one row per date, clickable where free.

    ``grid``: ``{"hours": [9, 10, ...], "rows": [{"day": "2026-03-23", "label": "Mon 23
    Mar"}, ...], "cells": {"<day>|<hour>": {"kind", "text", "held_text", "tip", "color",
    "ink"}}, "empty": "<text when there are no hours>"}``; ``marks``: ``{"<day>|<hour>":
    "selected" | "held"}``; ``clicked``: set by the browser to ``{"key": "<day>|<hour>",
    "clicks": n}`` on each click of a free cell.
    """

    _esm = _ESM
    _css = _CSS
    grid = traitlets.Dict().tag(sync=True)
    marks = traitlets.Dict().tag(sync=True)
    clicked = traitlets.Dict().tag(sync=True)
