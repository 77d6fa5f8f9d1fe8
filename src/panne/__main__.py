import sys

from panne.cli import main

sys.exit(main())
