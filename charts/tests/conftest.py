import sys
from pathlib import Path

# The helpers beside the tests (hermes_chart, render_test_rbac) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
