"""``python -m emodet.cli``: the ``emodet`` command."""

import sys

from emodet.cli import main

sys.exit(main())
