"""The HTML report of a campaign (``polyout campaign report REF --html PATH``).

* :mod:`._data` adds the campaign up from the store's async reads, in one streaming pass;
* :mod:`._numbers` tells a number's country and time zones, cached by prefix;
* :mod:`._timeline` reads the campaign log (pauses, resumes, cancels, 429s);
* :mod:`._figures` draws the charts with plotly (the ``polyout[report]`` extra);
* :mod:`._tables` and :mod:`._html` lay out the one self-contained page;
* :mod:`._command` is what the CLI calls: plotly checked first, the page written whole.

Importing this package does not import plotly: only building a page does.
"""

from polyout._report._command import REPORT_EXTRA, html_report, require_plotly

__all__ = ["REPORT_EXTRA", "html_report", "require_plotly"]
