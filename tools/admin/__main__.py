import sys

from tools.admin.cli import main

sys.exit(main())
