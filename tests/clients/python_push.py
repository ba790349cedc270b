"""Pushes lines through python-logging-loki (JSON) to the push URL in argv[1]: one line
per argv[2:], tags {app="python"}. Exits non-zero if the handler reported an error."""
import logging
import sys

import logging_loki

failures = []


class Handler(logging_loki.LokiHandler):
    def handleError(self, record):
        failures.append(sys.exc_info()[1])


handler = Handler(url=sys.argv[1], tags={"app": "python"}, version="1")
logger = logging.getLogger("sightline-test")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
for line in sys.argv[2:]:
    logger.info(line)
if failures:
    print(failures, file=sys.stderr)
    sys.exit(1)
