package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/pgtest"
)

// TestSideBySideRunsBothBuilds drives two builds at once (the same binary twice, on
// one server) and prints both reports and the comparison, which says that one
// server's CPU cannot be told apart.
func TestSideBySideRunsBothBuilds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := buildBinary(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := Config{DatabaseURL: pgtest.ServerURL(), Binary: bin, Replicas: 1, Lifecycles: 3, Concurrency: 2, DBConns: 4, Workers: 2}
	var out, progress bytes.Buffer
	if err := sideBySide(ctx, c, c, &out, &progress); err != nil {
		t.Fatalf("side by side: %v\n%s\n%s", err, out.String(), progress.String())
	}
	got := out.String()
	t.Log("\n" + got)
	for _, want := range []string{"== A: " + bin, "== B: " + bin, "lifecycles/s: A ", "replicas' CPU per lifecycle: A ",
		"one server for both runs", "statements, commits per lifecycle: A "} {
		if !strings.Contains(got, want) {
			t.Errorf("the output has no %q", want)
		}
	}
	if n := strings.Count(got, "completed 3 lifecycles"); n != 2 {
		t.Errorf("got %d reports of 3 completed lifecycles, want 2", n)
	}
	if n := strings.Count(got, "books: OK"); n != 2 {
		t.Errorf("got %d balanced books, want 2", n)
	}
	for _, line := range strings.Split(strings.TrimSpace(progress.String()), "\n") {
		if !strings.HasPrefix(line, "A: ") && !strings.HasPrefix(line, "B: ") {
			t.Errorf("progress line %q names neither run", line)
		}
	}
}

// TestCompareTellsServersApart: with a server each, PostgreSQL's CPU and log per
// lifecycle are compared; the figures are per completed lifecycle.
func TestCompareTellsServersApart(t *testing.T) {
	a := &Report{Completed: 100, Elapsed: 10 * time.Second, Costs: Costs{ReplicaCPU: []time.Duration{800 * time.Millisecond},
		PostgresCPU: 1200 * time.Millisecond, Statements: 2100, Commits: 550, WALBytes: 100 * 61 * 1024}}
	b := &Report{Completed: 50, Elapsed: 10 * time.Second, Costs: Costs{ReplicaCPU: []time.Duration{300 * time.Millisecond, 150 * time.Millisecond},
		PostgresCPU: 650 * time.Millisecond, Statements: 1200, Commits: 300, WALBytes: 50 * 64 * 1024}}
	var out bytes.Buffer
	compare(&out, a, b, false)
	got := out.String()
	for _, want := range []string{
		"lifecycles/s: A 10.0, B 5.0, A/B 2.000",
		"replicas' CPU per lifecycle: A 8.00 ms, B 9.00 ms, A−B -1.00 ms",
		"PostgreSQL's CPU per lifecycle (each its own server): A 12.00 ms, B 13.00 ms, A−B -1.00 ms",
		"statements, commits per lifecycle: A 21.0, 5.5; B 24.0, 6.0",
		"write-ahead log per lifecycle: A 61.0 KB, B 64.0 KB",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the comparison has no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "replicas: A") {
		t.Errorf("runs of as many replicas named as different:\n%s", got)
	}
	out.Reset()
	a.Config.Replicas, b.Config.Replicas = 1, 3
	compare(&out, a, b, false)
	if got := out.String(); !strings.Contains(got, "replicas: A 1, B 3 ") {
		t.Errorf("one replica against three, not said:\n%s", got)
	}
	out.Reset()
	compare(&out, a, b, true)
	if got := out.String(); strings.Contains(got, "A 12.00 ms") || strings.Contains(got, "write-ahead log") {
		t.Errorf("one server's figures compared as two:\n%s", got)
	}
	// a run that could not read the server's CPU still shares it with the other
	b.Costs.PostgresCPU = -1
	out.Reset()
	compare(&out, a, b, true)
	if got := out.String(); !strings.Contains(got, "one server for both runs") {
		t.Errorf("one server not named when B could not read its CPU:\n%s", got)
	}
}

// TestOneServerByPostmaster: two runs on this machine share a server when they
// share a postmaster, whatever their URLs say; without postmasters the URLs decide.
func TestOneServerByPostmaster(t *testing.T) {
	local := func(url string, pid int) *Report { return &Report{Config: Config{DatabaseURL: url}, Postmaster: pid} }
	for _, c := range []struct {
		a, b *Report
		one  bool
	}{
		{local("postgres://p@localhost:5432/a", 41), local("postgres://p@127.0.0.1:5432/a", 41), true},
		{local("postgres://p@127.0.0.1:5432/a", 41), local("postgres://p@127.0.0.1:5432/a", 42), false},
		{local("postgres://p@db:5432/a", 0), local("postgres://p@db:5432/b", 0), true},
		{local("postgres://p@db1:5432/a", 0), local("postgres://p@db2:5432/a", 0), false},
	} {
		if got := oneServer(c.a, c.b); got != c.one {
			t.Errorf("oneServer(%s pid %d, %s pid %d) = %v, want %v", c.a.Config.DatabaseURL, c.a.Postmaster,
				c.b.Config.DatabaseURL, c.b.Postmaster, got, c.one)
		}
	}
}

func TestSameServer(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"postgres://postgres@127.0.0.1:55440/postgres", "postgres://postgres@127.0.0.1:55441/postgres", false},
		{"postgres://postgres@127.0.0.1/postgres", "postgres://other@127.0.0.1:5432/x?sslmode=disable", true},
		{"postgres://postgres@localhost:5432/a", "postgres://postgres@127.0.0.1:5432/a", false},
		{"host=127.0.0.1 port=5432", "postgres://postgres@127.0.0.1:5433/a", true},
	} {
		if got := sameServer(c.a, c.b); got != c.same {
			t.Errorf("sameServer(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}

func TestPrefixedWritesWholeLines(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	a := &prefixed{w: &out, mu: &mu, prefix: "A: "}
	b := &prefixed{w: &out, mu: &mu, prefix: "B: "}
	a.Write([]byte("one "))
	b.Write([]byte("two\nthree"))
	a.Write([]byte("half\n"))
	b.Write([]byte("\n"))
	if got, want := out.String(), "B: two\nA: one half\nB: three\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestComparedRunTakesItsOwnSettings: -compare's run is -bin's but for its binary and
// for the server, replicas, connections and timer slack given to it alone; its
// replicas serve no profiler (the ports are -bin's); a negative slack is refused.
func TestComparedRunTakesItsOwnSettings(t *testing.T) {
	a := Config{DatabaseURL: "postgres://a:5432/postgres", Binary: "/tmp/new", Replicas: 1, DBConns: 16, Workers: 8, Lifecycles: 2000, PprofPort: 6060, TimerSlack: time.Millisecond}
	b := comparedWith(a, compared{bin: "/tmp/old"})
	if want := (Config{DatabaseURL: a.DatabaseURL, Binary: "/tmp/old", Replicas: 1, DBConns: 16, Workers: 8, Lifecycles: 2000, TimerSlack: time.Millisecond}); b != want {
		t.Errorf("got %+v, want %+v", b, want)
	}
	b = comparedWith(a, compared{bin: "/tmp/new", databaseURL: "postgres://b:5433/postgres", replicas: 3, conns: 12, slack: 50 * time.Microsecond})
	if want := (Config{DatabaseURL: "postgres://b:5433/postgres", Binary: "/tmp/new", Replicas: 3, DBConns: 12, Workers: 8, Lifecycles: 2000, TimerSlack: 50 * time.Microsecond}); b != want {
		t.Errorf("got %+v, want %+v", b, want)
	}
	for _, args := range [][]string{{"-timer-slack", "-1ms"}, {"-compare", "/tmp/old", "-compare-timer-slack", "-50us"}} {
		if err := run(context.Background(), args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "such as 1ms") {
			t.Errorf("%v: got %v, want a negative slack refused", args, err)
		}
	}
	for _, flag := range []string{"-compare-replicas", "-compare-timer-slack"} {
		value := map[string]string{"-compare-replicas": "3", "-compare-timer-slack": "1ms"}[flag]
		if err := run(context.Background(), []string{flag, value}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "add -compare BINARY") {
			t.Errorf("%s without -compare: got %v, want an error", flag, err)
		}
	}
}
