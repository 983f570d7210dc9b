"""stub_broker.py — a tiny pub/sub broker with fault injection, for crbench's known-answer checks.

    /usr/bin/python3 stub_broker.py PORT [--chunked] [--close-every N] [--reject-every N]
        [--drop-every N] [--dup-every N] [--frag N] [--ping] [--stall]

POST /pub/USER publishes the body to every websocket of USER (GET /sub/USER) and keeps it for
paged replay: a text frame {"op":"register","limit":L} is answered with the next L kept events
as {"op":"register","code":0,"events":[...]} and, once none are left, with code 109.
GET /stats answers counters as JSON (pongs, masked/unmasked client frames, fragments, ...).

Faults, numbered by publish (1, 2, ...): --reject-every N answers 500 to every Nth publish and
drops it; --drop-every N acknowledges but never delivers every Nth; --dup-every N delivers every
Nth twice; --close-every N answers every Nth with "Connection: close" and closes; --chunked
answers with chunked encoding and a trailer; --frag N sends every message in N-byte fragments;
--ping sends a ping (payload = publish number) before every message; --stall never answers.
Standard library only; loopback only.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Broker:
    def __init__(self, opt):
        self.opt = opt
        self.subs = {}      # user -> set of Sub
        self.kept = {}      # user -> [event text]
        self.n_pub = 0
        self.stats = {"publishes": 0, "rejected": 0, "dropped": 0, "duplicated": 0, "closes_sent": 0,
                      "pings": 0, "pongs": 0, "pong_mismatch": 0, "client_frames": 0, "unmasked": 0,
                      "client_fragments": 0, "client_closes": 0, "registers": 0, "ws_open": 0}


class Sub:
    def __init__(self, broker, user, writer):
        self.b, self.user, self.w = broker, user, writer
        self.cursor = 0
        self.pings = []

    def frame(self, op, payload, fin=True):
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | op])
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack(">H", n)
        else:
            head += bytes([127]) + struct.pack(">Q", n)
        return head + payload

    def send(self, text, ping_payload=None):
        data = text.encode()
        out = b""
        if ping_payload is not None:
            self.pings.append(ping_payload)
            self.b.stats["pings"] += 1
            out += self.frame(0x9, ping_payload)
        k = self.b.opt.frag
        if k and len(data) > k:
            parts = [data[i:i + k] for i in range(0, len(data), k)]
            for i, p in enumerate(parts):
                out += self.frame(0x1 if i == 0 else 0x0, p, fin=i == len(parts) - 1)
        else:
            out += self.frame(0x1, data)
        self.w.write(out)


async def read_frame(reader, st):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await reader.readexactly(8))[0]
    st["client_frames"] += 1
    if b1 & 0x80:
        mask = await reader.readexactly(4)
        data = bytearray(await reader.readexactly(n))
        for i in range(n):
            data[i] ^= mask[i & 3]
    else:
        st["unmasked"] += 1
        data = bytearray(await reader.readexactly(n))
    return bool(b0 & 0x80), b0 & 0x0F, bytes(data)


async def websocket(broker, user, reader, writer, key):
    acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
    sub = Sub(broker, user, writer)
    broker.subs.setdefault(user, set()).add(sub)
    st = broker.stats
    st["ws_open"] += 1
    msg, msg_parts = b"", 0
    try:
        while True:
            fin, op, data = await read_frame(reader, st)
            if op == 0x8:
                st["client_closes"] += 1
                writer.write(sub.frame(0x8, data[:2]))
                await writer.drain()
                break
            if op == 0xA:
                exp = sub.pings.pop(0) if sub.pings else None
                st["pongs"] += 1
                if exp != data:
                    st["pong_mismatch"] += 1
                continue
            if op == 0x9:
                writer.write(sub.frame(0xA, data))
                continue
            msg += data
            msg_parts += 1
            if not fin:
                continue
            if msg_parts > 1:
                st["client_fragments"] += msg_parts
            text, msg, msg_parts = msg.decode(), b"", 0
            try:
                req = json.loads(text)
            except ValueError:
                continue
            if req.get("op") == "register":
                st["registers"] += 1
                limit = int(req.get("limit", 100))
                kept = broker.kept.get(user, [])
                page = kept[sub.cursor:sub.cursor + limit]
                sub.cursor += len(page)
                code = 0 if page else 109
                sub.send('{"op":"register","result":{"code":%d},"events":[%s]}' % (code, ",".join(page)))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        broker.subs.get(user, set()).discard(sub)
        writer.close()


async def publish(broker, user, body):
    b, o = broker, broker.opt
    b.n_pub += 1
    n = b.n_pub
    b.stats["publishes"] += 1
    if o.reject_every and n % o.reject_every == 0:
        b.stats["rejected"] += 1
        return 500
    text = body.decode()
    b.kept.setdefault(user, []).append(text)
    if o.drop_every and n % o.drop_every == 0:
        b.stats["dropped"] += 1
        return 200
    times = 2 if o.dup_every and n % o.dup_every == 0 else 1
    if times == 2:
        b.stats["duplicated"] += 1
    for sub in list(b.subs.get(user, ())):
        for _ in range(times):
            sub.send('{"op":"event","event":%s}' % text, str(n).encode() if o.ping else None)
    return 200


def answer(writer, status, body, opt, close):
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "X")
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" % (status, reason)
    if close:
        head += "Connection: close\r\n"
    if opt.chunked:
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p)
        writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\nX-Trailer: 1\r\n\r\n")
    else:
        writer.write((head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body)


async def handle(broker, reader, writer):
    opt = broker.opt
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            hdr = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    hdr[k.strip().lower()] = v.strip()
            if method == "GET" and path.startswith("/sub/") and hdr.get("upgrade", "").lower() == "websocket":
                await websocket(broker, path[5:].split("?")[0], reader, writer, hdr["sec-websocket-key"])
                return
            body = await reader.readexactly(int(hdr.get("content-length", "0")))
            if method == "GET" and path == "/stats":
                answer(writer, 200, json.dumps(broker.stats).encode(), opt, False)
            elif method == "POST" and path.startswith("/pub/"):
                if opt.stall:
                    await asyncio.sleep(3600)
                status = await publish(broker, path[5:], body)
                close = bool(opt.close_every) and broker.n_pub % opt.close_every == 0
                if close:
                    broker.stats["closes_sent"] += 1
                answer(writer, status, b'{"ok":%d}' % (status == 200), opt, close)
                await writer.drain()
                if close:
                    break
            else:
                answer(writer, 404, b"{}", opt, False)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    for name in ("close-every", "reject-every", "drop-every", "dup-every", "frag"):
        ap.add_argument("--" + name, type=int, default=0)
    ap.add_argument("--chunked", action="store_true")
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--stall", action="store_true")
    opt = ap.parse_args()
    broker = Broker(opt)
    server = await asyncio.start_server(lambda r, w: handle(broker, r, w), "127.0.0.1", opt.port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
