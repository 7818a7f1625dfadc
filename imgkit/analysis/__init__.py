"""Pure analysis functions over polars frames: performance, ratings, frontiers, projections."""

from imgkit.analysis.performance import performance_table as performance_table
from imgkit.analysis.performance import scan_log as scan_log
