package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ringsim/ringsim/job"
)

// TestRunReportSchema validates real `ringsim run --json` reports against
// docs/run-report.schema.json, which allows no field it does not describe: a transfer on
// the real link with a flap (recoveries, link events, clocks), the exchange on the ideal rig
// (edges without UGN), a stall (an upstream-async ring), hello, soft-UGN alignment, the
// soft-UGN demo passing and failing, and the ip framing. It also checks what the format promises beyond the schema: the version, the
// verdict matching the exit status, the transfer's fields present for the transfer alone,
// and the phases in the order the link ends entered them.
func TestRunReportSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	f, err := os.Open(filepath.Join("..", "..", "docs", "run-report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	if err := c.AddResource("run-report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("run-report.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	tests := []struct {
		name string
		args []string
		code int
		app  string
	}{
		{"transfer on the real link with a flap", []string{"--bytes", "64KiB", "--clock-control", "--flap", "0:100000:120000"}, 0, "transfer"},
		{"exchange on the ideal rig", []string{"--link", "ideal", "--topology", "rig", "--depth", "128", "--app", "exchange"}, 0, "exchange"},
		{"stall", []string{"--topology", "ring", "--nodes", "3", "--depth", "128", "--firmware", "upstream-async", "--app", "exchange"}, 1, "exchange"},
		{"hello", []string{"--app", "hello", "--depth", "128"}, 0, "hello"},
		{"soft-UGN alignment", []string{"--depth", "128", "--firmware", "upstream-softugn", "--app", "align"}, 0, "align"},
		{"soft-UGN demo", []string{"--link", "ideal", "--depth", "128", "--app", "softugn", "--softugn-settle", "50000", "--softugn-start-delay", "20480"}, 0, "softugn"},
		{"soft-UGN demo missing deadlines", []string{"--depth", "128", "--app", "softugn", "--softugn-settle", "50000", "--softugn-start-delay", "20480",
			"--cost-poll", "400", "--softugn-events", "100"}, 1, "softugn"},
		{"ip framing", []string{"--link", "ideal", "--framing", "ip", "--bytes", "16KiB"}, 0, "transfer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.json")
			args := append([]string{"--progress", "none", "--json", path}, tt.args...)
			if code := runMain(context.Background(), args); code != tt.code {
				t.Fatalf("ringsim run %s: exit %d, want %d", strings.Join(args, " "), code, tt.code)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Fatalf("the report does not match docs/run-report.schema.json:\n%v", err)
			}
			b, _ := os.ReadFile(path)
			var r struct {
				Version int `json:"schema_version"`
				Verdict struct {
					Passed bool   `json:"passed"`
					Reason string `json:"reason"`
				} `json:"verdict"`
				Config struct {
					App string `json:"app"`
				} `json:"config"`
				SHA256 *bool `json:"sha256_match"`
				Links  []struct {
					Phases []struct {
						Cycle uint64 `json:"cycle"`
					} `json:"phases"`
				} `json:"links"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Version != job.SchemaVersion {
				t.Errorf("schema_version %d, want %d", r.Version, job.SchemaVersion)
			}
			if r.Verdict.Passed != (tt.code == 0) || r.Verdict.Reason == "" {
				t.Errorf("verdict %+v for exit %d", r.Verdict, tt.code)
			}
			if r.Config.App != tt.app {
				t.Errorf("config.app %q, want %q", r.Config.App, tt.app)
			}
			if (r.SHA256 != nil) != (tt.app == "transfer") {
				t.Errorf("sha256_match present %v for app %s: want it for the transfer alone", r.SHA256 != nil, tt.app)
			}
			for i, l := range r.Links {
				for k := 1; k < len(l.Phases); k++ {
					if l.Phases[k].Cycle < l.Phases[k-1].Cycle {
						t.Errorf("link %d: phases %v out of order", i, l.Phases)
					}
				}
			}
		})
	}
}
