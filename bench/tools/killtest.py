#!/usr/bin/env python3
"""SIGKILL in the middle of a burst of creates: every create answered 201 must reach the
webhook receiver once the server is started again (at least once: a resend keeps its
webhook-id). Needs a previous bench/run.sh for the seeded database (its endpoint points at
port 18099, where this script listens) and its tokens; KILL_AFTER (s, default 4).

usage: bench/tools/killtest.py target/release/switchboard bench/work/sb/switchboard.db \
           bench/work/sb_data.lua"""
import asyncio, http.client, json, os, re, shutil, signal, subprocess, sys, threading, time

BIN, SEED, LUA = sys.argv[1:4]
tokens = re.findall(r'token = "(sb_[^"]+)"', open(LUA).read())
work = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "work", "kill")
shutil.rmtree(work, ignore_errors=True); os.makedirs(work)
db = f"{work}/k.db"; shutil.copy(SEED, db)
received = {}  # lead id -> count
lock = threading.Lock()

class Sink(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0: return
            head = self.buf[:end].decode("latin-1")
            n = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length": n = int(v)
            if len(self.buf) < end + 4 + n: return
            body = self.buf[end + 4:end + 4 + n]; self.buf = self.buf[end + 4 + n:]
            ev = json.loads(body)
            if ev.get("type") == "lead.created":
                with lock: received[ev["data"]["id"]] = received.get(ev["data"]["id"], 0) + 1
            self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

def sink():
    async def main():
        srv = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", 18099, backlog=1024)
        async with srv: await srv.serve_forever()
    asyncio.run(main())
threading.Thread(target=sink, daemon=True).start()

def serve():
    env = dict(os.environ, SWITCHBOARD_DB=db)
    p = subprocess.Popen(["taskset", "-c", "0", BIN, "serve", "--listen", "127.0.0.1:18080",
                          "--default-limit", "1000000/1s"], env=env,
                         stdout=open(f"{work}/serve.log", "a"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=1); c.request("GET", "/healthz")
            if c.getresponse().status == 200: return p
        except OSError: time.sleep(0.05)
    raise SystemExit("server did not start")

acked = set(); stop = threading.Event()
def client(i):
    tok = tokens[i % len(tokens)]
    c = http.client.HTTPConnection("127.0.0.1", 18080, timeout=5)
    n = 0
    while not stop.is_set():
        try:
            c.request("POST", "/api/v1/leads", body=json.dumps({"name": f"k{i}-{n}"}),
                      headers={"authorization": f"Bearer {tok}", "content-type": "application/json"})
            r = c.getresponse(); b = r.read()
            if r.status == 201:
                with lock: acked.add(json.loads(b)["id"])
            n += 1
        except Exception:
            return

p = serve()
threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
for t in threads: t.start()
time.sleep(float(os.environ.get("KILL_AFTER", "4")))
p.send_signal(signal.SIGKILL); p.wait(); stop.set()
for t in threads: t.join()
with lock: before = len(set(received) & acked)
print(f"acknowledged {len(acked)} creates; {before} of them delivered before the kill")
p = serve()
deadline = time.time() + 300
while time.time() < deadline:
    with lock:
        missing = acked - set(received)
    if not missing: break
    time.sleep(0.5)
p.terminate(); p.wait()
dups = sum(1 for k in acked if received.get(k, 0) > 1)
print(f"after restart: {len(acked) - len(missing)} of {len(acked)} delivered, {len(missing)} missing, "
      f"{dups} delivered more than once (same webhook-id, at least once); took {time.time() - deadline + 300:.1f} s")
sys.exit(1 if missing else 0)
