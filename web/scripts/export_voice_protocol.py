"""Prints the server's voice protocol definitions as JSON (read by protocol.drift.test.ts).

Exit status 3 means the server has no voice protocol module in this build (issue 5 not merged).
"""

import json
import sys

try:
    from server.voice import protocol
except ModuleNotFoundError as error:
    if error.name in ("server.voice", "server.voice.protocol"):
        print("server/voice/protocol.py does not exist in this build (issue 5 backend)", file=sys.stderr)
        sys.exit(3)
    raise

print(json.dumps(protocol.definitions(), sort_keys=True))
