package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Side by side: two builds driven at the same moment, each on a database of its own,
// so that both meet the machine at the same pace. Runs made in turns swing with it
// by more than a change of a few percent can show (81–101 lifecycles/s for one build
// within minutes on the benchmark machine); side by side, each run's throughput and
// replica CPU are comparable, and so is PostgreSQL's when each has a server of its
// own. The whole machine's CPU and this process's (the load driver's) are both runs'.

// sideBySide runs a (the -bin build) and b (the -compare build) at once and prints
// both reports and what separates them.
func sideBySide(ctx context.Context, a, b Config, stdout, stderr io.Writer) error {
	var (
		wg         sync.WaitGroup
		repA, repB *Report
		errA, errB error
		mu         sync.Mutex
	)
	wg.Go(func() { repA, errA = Run(ctx, a, &prefixed{w: stderr, mu: &mu, prefix: "A: "}) })
	wg.Go(func() { repB, errB = Run(ctx, b, &prefixed{w: stderr, mu: &mu, prefix: "B: "}) })
	wg.Wait()
	if repA != nil {
		fmt.Fprintf(stdout, "== A: %s\n", binaryName(a.Binary))
		repA.Print(stdout)
	}
	if repB != nil {
		fmt.Fprintf(stdout, "== B: %s\n", binaryName(b.Binary))
		repB.Print(stdout)
	}
	if repA != nil && repB != nil {
		compare(stdout, repA, repB, oneServer(repA, repB))
	}
	for _, x := range []struct {
		name string
		rep  *Report
		err  error
	}{{"A", repA, errA}, {"B", repB, errB}} {
		if x.err != nil {
			return fmt.Errorf("run %s: %w", x.name, x.err)
		}
		if p := x.rep.Problems(); len(p) > 0 {
			return fmt.Errorf("run %s: the books do not balance: %v", x.name, p)
		}
	}
	return nil
}

func binaryName(bin string) string {
	if bin == "" {
		return "built from ./cmd/roundtrip"
	}
	return bin
}

// slackName names a run's timer slack.
func slackName(d time.Duration) string {
	if d == 0 {
		return "the driver's own"
	}
	return d.String()
}

// compare prints the figures that a side-by-side run can compare, A against B.
func compare(w io.Writer, a, b *Report, oneServer bool) {
	rate := func(r *Report) float64 { return float64(r.Completed) / r.Elapsed.Seconds() }
	per := func(r *Report, d time.Duration) float64 {
		return float64(d.Microseconds()) / 1000 / float64(max(r.Completed, 1))
	}
	fmt.Fprintln(w, "== side by side, A against B (both ran at once; the whole machine's and the load driver's CPU above are both runs')")
	if a.Config.Replicas != b.Config.Replicas {
		fmt.Fprintf(w, "replicas: A %d, B %d (their CPU per lifecycle below is each run's replicas together)\n", a.Config.Replicas, b.Config.Replicas)
	}
	if a.Config.TimerSlack != b.Config.TimerSlack {
		fmt.Fprintf(w, "replicas' timer slack: A %s, B %s\n", slackName(a.Config.TimerSlack), slackName(b.Config.TimerSlack))
	}
	fmt.Fprintf(w, "lifecycles/s: A %.1f, B %.1f, A/B %.3f\n", rate(a), rate(b), rate(a)/rate(b))
	ra, rb := per(a, a.Costs.replicas()), per(b, b.Costs.replicas())
	fmt.Fprintf(w, "replicas' CPU per lifecycle: A %.2f ms, B %.2f ms, A−B %+.2f ms\n", ra, rb, ra-rb)
	// one server's CPU cannot be told apart whether or not either run could read it
	if oneServer {
		fmt.Fprintln(w, "PostgreSQL's CPU: one server for both runs, so not told apart (give B a server of its own with -compare-database-url)")
	} else if a.Costs.PostgresCPU >= 0 && b.Costs.PostgresCPU >= 0 {
		pa, pb := per(a, a.Costs.PostgresCPU), per(b, b.Costs.PostgresCPU)
		fmt.Fprintf(w, "PostgreSQL's CPU per lifecycle (each its own server): A %.2f ms, B %.2f ms, A−B %+.2f ms\n", pa, pb, pa-pb)
	}
	n := func(r *Report, v float64) float64 { return v / float64(max(r.Completed, 1)) }
	fmt.Fprintf(w, "statements, commits per lifecycle: A %.1f, %.1f; B %.1f, %.1f\n",
		n(a, a.Costs.Statements), n(a, a.Costs.Commits), n(b, b.Costs.Statements), n(b, b.Costs.Commits))
	if a.Costs.WALBytes >= 0 && b.Costs.WALBytes >= 0 && !oneServer {
		fmt.Fprintf(w, "write-ahead log per lifecycle: A %.1f KB, B %.1f KB\n",
			n(a, float64(a.Costs.WALBytes))/1024, n(b, float64(b.Costs.WALBytes))/1024)
	}
}

// oneServer reports whether the two runs used one PostgreSQL server: the same
// postmaster when both servers run on this machine (whatever their URLs call them),
// else the same host and port in their URLs.
func oneServer(a, b *Report) bool {
	if a.Postmaster > 0 && b.Postmaster > 0 {
		return a.Postmaster == b.Postmaster
	}
	return sameServer(a.Config.DatabaseURL, b.Config.DatabaseURL)
}

// sameServer reports whether two PostgreSQL URLs name one server (host and port,
// 5432 when none is given); URLs that do not parse count as one server.
func sameServer(a, b string) bool {
	hostPort := func(s string) (string, bool) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return "", false
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "5432"
		}
		return net.JoinHostPort(host, port), true
	}
	ha, okA := hostPort(a)
	hb, okB := hostPort(b)
	return !okA || !okB || ha == hb
}

// prefixed writes each line with a prefix, whole lines at a time, so that two runs'
// progress lines do not mix.
type prefixed struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, p.buf[:i+1])
		p.mu.Unlock()
		p.buf = p.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}
