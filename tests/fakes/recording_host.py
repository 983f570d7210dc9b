"""recording_host.py — a fake PBX recording store: serves recordings generated on the fly (a
valid RIFF/WAVE header, then a repeating 16-bit pattern; never the whole file in memory) with
Content-Length, so a test can pass a file larger than the broker's memory budget through it.

Recordings are registered by id with a size in bytes, or HANG: a recording the host never
answers for (it reads the request and waits until the client closes).

Paths:
    GET /recordings/ID.wav     audio/wav of the size registered for ID; 404 for unknown ids
    GET /recordings/ID.mp3     audio/mpeg (an ID3 header, then the pattern) for the same ids
    GET /redirect/ID.wav       302 to /recordings/ID.wav (absolute Location, this host)
    GET /hang/ID.wav           reads the request and never answers (until the client closes)
    GET /nolength/ID.wav       the file without Content-Length, ended by closing the connection
    GET /cut/ID.wav            announces the whole size, sends half, closes the connection
    GET /2010-04-01/Accounts/SID/Recordings/ID.wav (or .mp3); an ID starting "nolength-" or
                               "cut-" is answered as those paths answer
                               Twilio's recording media URL: HTTP Basic SID:TOKEN required
                               (401 with Twilio's JSON error otherwise), 404 with its JSON error
                               for unknown ids; with twilio_redirect set, a 302 to
                               http://localhost:PORT/recordings/ID.wav (another host name, as
                               Twilio sends its media to a storage host)
    GET /_stats                {"requests", "completed", "aborted", "hung", "hung_closed",
                                "bytes_sent", "auth": [[path, Authorization or null], ...]}

As a module (the integration tests):
    host = RecordingHost(recordings={"rec1": 200 << 20}, twilio=("AC123", "token")).start()
    host.url, host.port; host.add("rec2", 1000); host.stats(); host.stop()
    wav_stream(size) yields the exact bytes served for a size, for hashing.
As a program:
    /usr/bin/python3 tests/fakes/recording_host.py [PORT] [ID=SIZE ...] [--twilio SID:TOKEN]
prints {"port": P} on one line.
"""
import base64
import json
import re
import select
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PIECE = 64 * 1024
HANG = "hang"
# one second of a 440 Hz-ish saw at 8 kHz, 16-bit mono: repeated, so any size is cheap
_PATTERN = b"".join(struct.pack("<h", ((i * 440 * 65536 // 8000) % 65536) - 32768)
                    for i in range(PIECE // 2))


def wav_header(size):
    """44 bytes: RIFF/WAVE, PCM 16-bit mono 8 kHz, the data chunk filling the rest of size."""
    data = max(size - 44, 0)
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" +
            b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) +
            b"data" + struct.pack("<I", data))


def mp3_header():
    """An ID3v2.4 tag with no frames; the pattern after it stands in for MPEG frames."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00"


def _stream(head, size):
    head = head[:size]
    yield head
    left = size - len(head)
    while left > 0:
        n = min(left, PIECE)
        yield _PATTERN[:n]
        left -= n


def wav_stream(size):
    """The bytes of a WAV of size bytes, in pieces of at most 64 KiB."""
    return _stream(wav_header(size), size)


def mp3_stream(size):
    return _stream(mp3_header(), size)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


_TWILIO = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Recordings/([^/.]+)\.(wav|mp3)$")
_PLAIN = re.compile(r"^/(recordings|redirect|hang|nolength|cut)/([^/.]+)\.(wav|mp3)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        host = self.server.owner
        path = self.path.split("?", 1)[0]
        host._count("requests")
        host._seen_auth(path, self.headers.get("Authorization"))
        if path == "/_stats":
            return self._json(200, host.stats())
        m = _TWILIO.match(path)
        if m:
            return self._twilio(*m.groups())
        m = _PLAIN.match(path)
        if not m:
            return self._json(404, {"error": "no such path"})
        kind, rid, ext = m.groups()
        if kind == "hang":
            return self._hang()
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://%s/recordings/%s.%s" % (
                self.headers.get("Host", "127.0.0.1:%d" % host.port), rid, ext))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._file(rid, ext, lambda: self._json(404, {"error": "no such recording: " + rid}),
                   kind)

    def _twilio(self, sid, rid, ext):
        host = self.server.owner
        want = "Basic " + base64.b64encode(("%s:%s" % host.twilio).encode()).decode() \
            if host.twilio else None
        if not want or sid != host.twilio[0] or self.headers.get("Authorization") != want:
            return self._json(401, {"code": 20003, "message": "Authenticate",
                                    "more_info": "https://www.twilio.com/docs/errors/20003",
                                    "status": 401})
        if host.twilio_redirect and host.size_of(rid) is not None:
            self.send_response(302)
            self.send_header("Location", "http://localhost:%d/recordings/%s.%s" % (
                host.port, rid, ext))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind = rid.split("-", 1)[0] if rid.startswith(("nolength-", "cut-")) else "recordings"
        self._file(rid, ext, lambda: self._json(404, {
            "code": 20404,
            "message": "The requested resource /2010-04-01/Accounts/%s/Recordings/%s.%s was "
                       "not found" % (sid, rid, ext),
            "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}), kind)

    def _file(self, rid, ext, not_found, kind="recordings"):
        host = self.server.owner
        size = host.size_of(rid)
        if size is None:
            return not_found()
        if size == HANG:
            return self._hang()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav" if ext == "wav" else "audio/mpeg")
        if kind == "nolength":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        pieces = wav_stream(size) if ext == "wav" else mp3_stream(size)
        left = size // 2 if kind == "cut" else size
        try:
            for piece in pieces:
                piece = piece[:left]
                self.wfile.write(piece)
                host._count("bytes_sent", len(piece))
                left -= len(piece)
                if not left:
                    break
            if kind == "cut":
                self.close_connection = True
                return
        except (ConnectionError, TimeoutError):
            host._count("aborted")
            self.close_connection = True
            return
        host._count("completed")

    def _hang(self):
        host = self.server.owner
        host._count("hung")
        sock = self.connection
        while not host._stopping.is_set():
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:
                try:
                    if not sock.recv(4096):
                        break
                except OSError:
                    break
        host._count("hung_closed")
        self.close_connection = True


class RecordingHost:
    def __init__(self, recordings=None, twilio=None, port=0, twilio_redirect=False):
        self.recordings = dict(recordings or {})
        self.twilio = twilio
        self.twilio_redirect = twilio_redirect
        self._port = port
        self._lock = threading.Lock()
        self._stats = {"requests": 0, "completed": 0, "aborted": 0, "hung": 0,
                       "hung_closed": 0, "bytes_sent": 0, "auth": []}
        self._stopping = threading.Event()
        self.server = None

    def add(self, rid, size):
        with self._lock:
            self.recordings[rid] = size

    def size_of(self, rid):
        with self._lock:
            return self.recordings.get(rid)

    def _count(self, name, n=1):
        with self._lock:
            self._stats[name] += n

    def _seen_auth(self, path, value):
        with self._lock:
            self._stats["auth"].append([path, value])

    def stats(self):
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def start(self):
        self.server = _Server(("127.0.0.1", self._port), _Handler)
        self.server.owner = self
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def main(argv):
    port, recs, twilio = 0, {}, None
    args = iter(argv)
    for a in args:
        if a in ("-h", "--help"):
            print("usage: recording_host.py [PORT] [ID=SIZE|ID=hang ...] [--twilio SID:TOKEN]")
            return
        if a == "--twilio":
            twilio = tuple(next(args).split(":", 1))
        elif "=" in a:
            k, v = a.split("=", 1)
            recs[k] = v if v == HANG else int(v)
        else:
            port = int(a)
    host = RecordingHost(recs, twilio, port).start()
    print(json.dumps({"port": host.port}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        host.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
