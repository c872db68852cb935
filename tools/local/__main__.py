import sys

from tools.local.cli import main

sys.exit(main())
