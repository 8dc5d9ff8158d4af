"""Diagnostics helpers of the `hakmem stats` and `hakmem trace` commands: reading stats JSON and
allocation traces, summaries, charts, and the trace replayer (replay.c)."""
