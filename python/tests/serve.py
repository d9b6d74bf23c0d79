"""A real `ringsim serve` for the tests: a child process on a unix socket.

The binary is $RINGSIM_BIN if set; otherwise `go build` builds it from the clone this file
is in ($RINGSIM_REPO overrides where that is). A missing binary, Go toolchain or server
that does not come up raises, so the tests fail rather than skip.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def repo_root():
    """repo_root is the clone the tests belong to ($RINGSIM_REPO, else ../.. of this file)."""
    return os.environ.get("RINGSIM_REPO") or os.path.normpath(os.path.join(HERE, "..", ".."))


class Server:
    """Server starts `ringsim serve --listen unix:<tmp>/ringsim.sock` and stops it."""

    def __init__(self, binary=None):
        """Starts the server; binary is a ringsim binary to use instead of finding one."""
        self.dir = tempfile.mkdtemp(prefix="ringsim-pytest-")
        self.sock = os.path.join(self.dir, "ringsim.sock")
        self.target = "unix:" + self.sock
        self.log_path = os.path.join(self.dir, "serve.log")
        self.proc = None
        try:
            self.bin = binary or self._binary()
            self._start()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _binary(self):
        path = os.environ.get("RINGSIM_BIN")
        if path:
            if not os.access(path, os.X_OK):
                raise RuntimeError("RINGSIM_BIN=%s is not an executable ringsim binary" % path)
            return path
        go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
        if go is None:
            raise RuntimeError("set RINGSIM_BIN to a ringsim binary, or put Go on PATH to build one")
        path = os.path.join(self.dir, "ringsim")
        out = subprocess.run([go, "build", "-o", path, "./cmd/ringsim"], cwd=repo_root(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise RuntimeError("go build ./cmd/ringsim in %s failed:\n%s" % (repo_root(), out.stdout.decode()))
        return path

    def _start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.bin, "serve", "--listen", self.target, "--log-level", "warn"],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None:
                raise RuntimeError("ringsim serve exited with %d:\n%s" % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError("ringsim serve did not create %s in 30 s:\n%s" % (self.sock, self.log()))
            time.sleep(0.02)

    def log(self):
        """log returns what the server wrote so far."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """stop sends SIGTERM and returns the exit code (0 after a graceful shutdown)."""
        try:
            if self.proc is None:
                return 0
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -1
        finally:
            self._log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
