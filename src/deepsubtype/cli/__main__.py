"""``python -m deepsubtype.cli``: the ``deepsubtype`` command."""

import sys

from . import main

sys.exit(main())
