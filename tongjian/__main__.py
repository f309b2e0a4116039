import sys

from tongjian.cli import main

sys.exit(main())
