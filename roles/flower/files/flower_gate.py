"""Flower's deploy gate: the health check needs no login; the API must let the first user
of FLOWER_BASIC_AUTH in and answer with the workers it sees through the broker. Run by
the app's Python with Flower's environment: flower_gate.py BASE_URL; exit 0 when both
answer.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    base = argv[0]
    try:
        with urllib.request.urlopen(base + "healthcheck", timeout=5) as answer:
            health = answer.read().decode()
        credentials = os.environ["FLOWER_BASIC_AUTH"].split(",")[0]
        request = urllib.request.Request(base + "api/workers?refresh=true")
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
        with urllib.request.urlopen(request, timeout=30) as answer:
            workers = json.load(answer)
    except (OSError, ValueError) as error:
        print(f"{base}: {error}", file=sys.stderr)
        return 1
    if health != "OK":
        print(f"{base}healthcheck answered {health!r}", file=sys.stderr)
        return 1
    print(f"{base}: healthcheck OK, the API lists {len(workers)} worker(s): {', '.join(sorted(workers))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
