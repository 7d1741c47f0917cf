#!/usr/bin/env python3
"""Webhook sink for bench/run.sh: answers every request 200 at once on keep-alive
connections and counts the POSTs. GET /stats answers {"received": N}. Loopback only.

A bare asyncio protocol rather than http.server: several times faster on one core, so the
sink is not what bounds the delivery rate."""
import asyncio
import json
import sys

RECEIVED = 0
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        global RECEIVED
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            if head.startswith("GET /stats"):
                body = json.dumps({"received": RECEIVED}).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                if head.startswith("POST "):
                    RECEIVED += 1
                self.transport.write(OK)


async def main():
    port = int(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
