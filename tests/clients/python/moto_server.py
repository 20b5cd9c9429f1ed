"""moto's EC2 (and every other service) on 127.0.0.1, on a free port it prints as `PORT <n>`; runs until its
stdin closes, so it never outlives the test process that started it."""

import logging
import sys

from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(f"PORT {server.get_host_and_port()[1]}", flush=True)
sys.stdin.read()
server.stop()
