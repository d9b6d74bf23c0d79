package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/client"
)

// binDir holds the ringsim binary the tests build.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringsim-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// ringsimBin builds the ringsim binary once per test run.
func ringsimBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "ringsim")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// proc is a running `ringsim serve`.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	target string
	sock   string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe starts `ringsim serve` on a unix socket and waits until it listens; it is
// killed at the end of the test if still running.
func startServe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "ringsim.sock")
	p := &proc{stderr: &syncBuffer{}, done: make(chan struct{}), sock: sock, target: "unix:" + sock}
	p.cmd = exec.Command(ringsimBin(t), append([]string{"serve", "--listen", p.target}, args...)...)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ringsim serve stderr:\n%s", p.stderr)
		}
	})
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("ringsim serve exited: %v\n%s", p.cmd.ProcessState, p.stderr)
		default:
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("ringsim serve does not listen\n%s", p.stderr)
		}
	}
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("ringsim serve did not stop after %v", sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

func dial(t *testing.T, target string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, target, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var pair16 = hw.Config{Topology: hw.Pair(4), Depth: 16, Seed: 1}

// TestServePythonExample runs examples/python/ringsim_client.py against `ringsim serve`.
func TestServePythonExample(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import grpc, google.protobuf").Run(); err != nil {
		t.Fatalf("%s cannot import grpc and protobuf: run scripts/setup.sh (apt-get install python3-grpcio python3-protobuf): %v", python, err)
	}
	p := startServe(t, nil)
	cmd := exec.Command(python, filepath.Join("..", "..", "examples", "python", "ringsim_client.py"), "--target", p.target)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python example: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "frame of 8 words arrived") {
		t.Errorf("python example output:\n%s", out)
	}
}

// TestServeGracefulShutdown checks SIGTERM: the call in flight finishes, the FST dump is
// closed, the socket is removed and the exit code is 0.
func TestServeGracefulShutdown(t *testing.T) {
	p := startServe(t, nil, "--grace", "30s")
	c := dial(t, p.target)
	cfg := pair16
	cfg.Waveforms = true
	if _, err := c.Reset(ctxFor(t, 5*time.Minute), cfg); err != nil {
		t.Fatal(err)
	}
	fst := filepath.Join(t.TempDir(), "dump.fst")
	if _, err := c.StartWaveform(ctxFor(t, time.Minute), fst); err != nil {
		t.Fatal(err)
	}
	const cycles = 2_000_000 // about a second with the dump on
	type result struct {
		cycle uint64
		err   error
	}
	step := make(chan result, 1)
	go func() {
		cycle, err := c.Step(ctxFor(t, 5*time.Minute), cycles)
		step <- result{cycle, err}
	}()
	time.Sleep(200 * time.Millisecond)
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if r := <-step; r.err != nil || r.cycle != cycles {
		t.Errorf("call in flight at shutdown = %d, %v; want %d, nil", r.cycle, r.err, cycles)
	}
	fi, err := os.Stat(fst)
	if err != nil || fi.Size() == 0 {
		t.Errorf("FST dump: %v, %v", fi, err)
	}
	log := p.stderr.String()
	for _, want := range []string{"shutting down", "closing waveform", "waveform stopped", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(p.sock); !os.IsNotExist(err) {
		t.Errorf("socket %s left behind: %v", p.sock, err)
	}
}

// TestServeNoVerilator checks that a server without Verilator on PATH answers a reset with
// FAILED_PRECONDITION and the install command.
func TestServeNoVerilator(t *testing.T) {
	p := startServe(t, []string{"PATH=" + t.TempDir()})
	c := dial(t, p.target)
	_, err := c.Reset(ctxFor(t, time.Minute), pair16)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "apt-get install") {
		t.Errorf("reset without verilator: %v, want FailedPrecondition with the install hint", err)
	}
	if code := p.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestServeFlags checks the refusals that happen before serving.
func TestServeFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote without flag", []string{"--listen", "0.0.0.0:0"}, "--allow-remote"},
		{"bad address", []string{"--listen", "nonsense"}, "host:port"},
		{"bad level", []string{"--log-level", "loud"}, "--log-level"},
		{"extra args", []string{"now"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(ringsimBin(t), append([]string{"serve"}, tt.args...)...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("got %v, want exit code 2\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestListenOn checks address handling: loopback detection and unix sockets.
func TestListenOn(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.3.4.5": true, "::1": true, "localhost": true,
		"": false, "0.0.0.0": false, "::": false, "10.1.2.3": false, "example.com": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
	log := hclog.NewNullLogger()
	if _, err := listenOn("0.0.0.0:0", false, log); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("non-loopback without --allow-remote: %v", err)
	}
	lis, err := listenOn("127.0.0.1:0", false, log)
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()

	// A stale socket file is replaced; a live one is not.
	sock := filepath.Join(t.TempDir(), "s.sock")
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	live, err := listenOn("unix:"+sock, false, log)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer live.Close()
	if _, err := listenOn("unix:"+sock, false, log); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Errorf("second server on a live socket: %v", err)
	}
	if _, err := listenOn("unix:", false, log); err == nil {
		t.Error("empty socket path: no error")
	}
}
