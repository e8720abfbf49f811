# Connects to a destination the learning run never used.
import socket

socket.create_connection(("127.0.0.1", 7801), timeout=2)
