"""Request records: every log format imgkit reads and writes.

* :mod:`~imgkit.records.importers`: traffic logged elsewhere (LiteLLM spend logs, OpenAI's Usage and Costs
  exports, any table through a column mapping) written as imgkit's canonical request log.
"""

__all__: list[str] = []
