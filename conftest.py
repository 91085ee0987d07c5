"""Keep the repo root off sys.path during tests.

`python -m pytest` puts the current directory first on sys.path, where the front-door
folder `sprintboard/` would shadow the installed package and hide its rooms
(`sprintboard.board` lives in `board/`). The installed (editable) package must win.
"""

import os
import sys

_root = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]
