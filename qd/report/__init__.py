"""HTML reports of run folders (`qd report`) and stored-solution look-up (`qd show`)."""

from qd.report.data import ReportData, load_report_data
from qd.report.render import render_report, write_report

__all__ = ["ReportData", "load_report_data", "render_report", "write_report"]
