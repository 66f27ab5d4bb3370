import sys
from pathlib import Path

# Shared test helpers live in tests/support.py.
sys.path.insert(0, str(Path(__file__).resolve().parent))
