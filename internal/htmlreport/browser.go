package htmlreport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// Drawn is what a browser drew of one chart.
type Drawn struct {
	Class  string    `json:"cls"`
	Width  float64   `json:"width"`
	Height float64   `json:"height"`
	Lines  []float64 `json:"lines"` // each polyline's length
	Spans  int       `json:"spans"` // timeline spans
}

// ErrNoBrowser: no headless Chromium to open the page with.
var ErrNoBrowser = errors.New("chromium not found: install it with scripts/setup.sh (Debian package chromium)")

// Browser returns the path of a Chromium to run headless.
func Browser() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

var renderedRe = regexp.MustCompile(`data-rendered="([^"]*)"`)

// OpenInBrowser loads the page at path in headless Chromium, returns what the page's own
// script measured of every chart it drew, and saves a screenshot to png (if not empty).
// Chromium runs as root only with --no-sandbox.
func OpenInBrowser(ctx context.Context, path, png string) ([]Drawn, error) {
	bin, err := Browser()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	profile, err := os.MkdirTemp("", "ringsim-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + profile, "--virtual-time-budget=5000", "--window-size=1100,2400"}
	out, err := exec.CommandContext(ctx, bin, append(flags, "--dump-dom", "file://"+abs)...).Output()
	if err != nil {
		return nil, fmt.Errorf("chromium --dump-dom: %w", err)
	}
	m := renderedRe.FindSubmatch(out)
	if m == nil {
		return nil, errors.New("the page's script did not run: no data-rendered attribute in the DOM")
	}
	var drawn []Drawn
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &drawn); err != nil {
		return nil, fmt.Errorf("data-rendered: %w", err)
	}
	if png != "" {
		if err := os.MkdirAll(filepath.Dir(png), 0o755); err != nil {
			return nil, err
		}
		shot, _ := filepath.Abs(png)
		if msg, err := exec.CommandContext(ctx, bin, append(flags, "--screenshot="+shot, "file://"+abs)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chromium --screenshot: %w: %s", err, msg)
		}
		if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
			return nil, fmt.Errorf("chromium wrote no screenshot to %s", shot)
		}
	}
	return drawn, nil
}
