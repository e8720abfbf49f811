# The learned workload: JSON and SHA-256 through their C extension modules, one connect.
import hashlib
import json
import socket

s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", 7800))
except ConnectionRefusedError:
    pass
print(json.dumps({"sha256": hashlib.sha256(b"vigil").hexdigest(), "n": [1, 2, 3]}, sort_keys=True))
