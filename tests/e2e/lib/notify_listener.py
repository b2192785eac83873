# A fake systemd NOTIFY_SOCKET for the black-box tests: binds a unix
# datagram socket at argv[1] and prints each sd_notify(3) message as one
# line (its newlines as '|'). Node has no AF_UNIX datagram sockets.
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data = s.recv(65536)
    print(data.decode("utf-8", "replace").replace("\n", "|"), flush=True)
