import sys

from medmodels.cli import main

sys.exit(main())
