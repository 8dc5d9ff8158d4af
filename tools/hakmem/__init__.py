"""hakmem: build framework, configuration tools and benchmark harness."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
