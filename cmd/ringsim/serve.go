package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/server"
)

func init() {
	register(&command{name: "serve", summary: "serve the simulator over gRPC", run: runServe})
}

// DefaultListen is where `ringsim serve` listens unless told otherwise.
const DefaultListen = "127.0.0.1:7464"

func runServe(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("ringsim serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ringsim serve [flags]\n\n"+
			"Serves one simulation over gRPC (ringsim.v1.SimulatorService, health, reflection).\n"+
			"See docs/scripting.md.\n\nflags:\n")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", DefaultListen, "`address` to listen on: host:port (loopback unless --allow-remote) or unix:/path")
	allowRemote := fs.Bool("allow-remote", false,
		"allow a non-loopback --listen address: whoever reaches it controls the simulator, builds RTL from server paths and writes waveform files")
	logLevel := fs.String("log-level", "info", "log `level`: trace, debug, info, warn or error")
	cacheDir := fs.String("cache-dir", "", "model cache `dir` (default $RINGSIM_CACHE or the user cache dir)")
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight calls and sessions may go on before they are cancelled")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ringsim serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(os.Stderr, "ringsim serve: unknown --log-level %q\n", *logLevel)
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ringsim", Level: level, Output: os.Stderr})

	lis, err := listenOn(*listen, *allowRemote, log)
	if err != nil {
		log.Error("cannot listen", "error", err)
		return 2
	}
	srv := server.New(server.Options{Logger: log, New: engineFactory(sim.Options{
		CacheDir: *cacheDir, OnModelBuild: newBuildLine().event, Logger: log})})
	gs := srv.NewGRPCServer()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("serving", "address", *listen, "bound", lis.Addr().String(), "service", server.ServiceName)

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: letting in-flight calls finish", "grace", *grace)
		stopped := make(chan struct{})
		go func() {
			gs.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(*grace):
			log.Warn("grace period over: cancelling the remaining calls and sessions")
			gs.Stop()
			<-stopped
		}
	case err := <-served:
		log.Error("serve failed", "error", err)
		code = 1
	}
	if err := srv.Close(); err != nil {
		log.Error("close the simulation", "error", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// listenOn opens the listener for a --listen address. TCP addresses must be loopback
// unless allowRemote; a stale unix socket file (nobody listening) is replaced.
// engineFactory starts Verilated engines for the server.
func engineFactory(opt sim.Options) func(context.Context, hw.Config) (hw.Simulator, error) {
	return func(ctx context.Context, cfg hw.Config) (hw.Simulator, error) {
		e, err := sim.New(ctx, cfg, opt)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

func listenOn(addr string, allowRemote bool, log hclog.Logger) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		path = strings.TrimPrefix(path, "//") // unix:///abs/path is the gRPC URI form
		if path == "" {
			return nil, fmt.Errorf("listen %q: empty socket path", addr)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("listen %q: another server is listening there", addr)
			}
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("listen %q: remove stale socket: %w", addr, err)
			}
		}
		return net.Listen("unix", path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %q: want host:port or unix:/path: %w", addr, err)
	}
	if !isLoopback(host) {
		if !allowRemote {
			return nil, fmt.Errorf("listen %q: not a loopback address; pass --allow-remote to serve other machines", addr)
		}
		log.Warn("serving on a non-loopback address without authentication: anyone who can reach it controls the simulator",
			"address", addr)
	}
	return net.Listen("tcp", addr)
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
