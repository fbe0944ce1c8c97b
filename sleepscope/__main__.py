import sys

from sleepscope.cli import main

sys.exit(main())
