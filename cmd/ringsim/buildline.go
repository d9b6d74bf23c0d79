package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ringsim/ringsim/sim"
)

// buildLine shows the model builds a command waits for, whatever the log level: on a
// terminal one line per build that names the stage and counts the seconds, rewritten in
// place; elsewhere (CI logs, pipes) a line when a build starts and one when it ends.
// Cache hits print nothing. Safe for concurrent use.
type buildLine struct {
	w   io.Writer
	tty bool

	mu     sync.Mutex // protects the fields below
	builds map[string]*build
}

type build struct {
	what  string // the model
	why   string
	stage string
	start time.Time
	stop  chan struct{}
}

// newBuildLine writes to standard error.
func newBuildLine() *buildLine {
	return &buildLine{w: os.Stderr, tty: term.IsTerminal(int(os.Stderr.Fd())), builds: map[string]*build{}}
}

// event implements sim.Config.OnModelBuild.
func (l *buildLine) event(ev sim.BuildEvent) {
	key := ev.Spec.Describe()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.builds[key]
	switch ev.Stage {
	case sim.BuildStart:
		b = &build{what: key, why: ev.Reason, stage: "verilating", start: time.Now().Add(-ev.Elapsed),
			stop: make(chan struct{})}
		l.builds[key] = b
		if !l.tty {
			fmt.Fprintf(l.w, "ringsim: building the RTL model (%s): %s; this takes seconds, later runs load it from the cache\n",
				b.what, b.why)
			return
		}
		l.draw(b)
		go l.tick(b)
	case sim.BuildDone:
		if b == nil {
			return
		}
		delete(l.builds, key)
		close(b.stop)
		if l.tty {
			fmt.Fprint(l.w, "\r\033[K")
		}
		if ev.Err != nil {
			fmt.Fprintf(l.w, "ringsim: building the RTL model (%s) failed after %.1f s\n", b.what, ev.Elapsed.Seconds())
			return
		}
		fmt.Fprintf(l.w, "ringsim: built the RTL model (%s) in %.1f s\n", b.what, ev.Elapsed.Seconds())
	default:
		if b == nil {
			return
		}
		b.stage = string(ev.Stage)
		if ev.Detail != "" {
			b.stage += " " + ev.Detail
		}
		if l.tty {
			l.draw(b)
		}
	}
}

// draw rewrites the terminal line of b. l.mu must be held.
func (l *buildLine) draw(b *build) {
	fmt.Fprintf(l.w, "\r\033[Kringsim: building the RTL model (%s; %s): %s, %.0f s",
		b.what, b.why, b.stage, time.Since(b.start).Seconds())
}

// tick redraws b every second until it ends.
func (l *buildLine) tick(b *build) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			l.mu.Lock()
			if l.builds[b.what] == b {
				l.draw(b)
			}
			l.mu.Unlock()
		}
	}
}
