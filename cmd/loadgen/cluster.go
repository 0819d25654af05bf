package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/lib/pq" // the postgres driver

	"github.com/roundtriphq/roundtrip/internal/db"
)

// replica is one `roundtrip serve` process on a fixed loopback port.
type replica struct {
	n    int
	addr string
	env  []string
	bin  string
	log  io.Writer
	// slack is the process's timer slack (0: the driver's own; startWithSlack)
	slack time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd
	up      atomic.Bool
	peakRSS int64 // bytes, across restarts
	kills   int
	// cpuDone and switchesDone are the CPU time and context switches of the
	// replica's earlier (killed) processes
	cpuDone      time.Duration
	switchesDone int64
	// db holds the replica's statement and commit counters as last read (dbTotals)
	db dbCounters
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start launches the process and waits until it answers /healthz.
func (r *replica) start(ctx context.Context) error {
	r.mu.Lock()
	cmd := exec.Command(r.bin, "serve")
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Env = append(cmd.Env, "ROUNDTRIP_ADDR="+r.addr)
	cmd.Stdout = io.Discard
	if r.log != nil {
		cmd.Stderr = r.log
	}
	if err := startWithSlack(cmd, r.slack); err != nil {
		r.mu.Unlock()
		return err
	}
	r.cmd = cmd
	r.mu.Unlock()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return fmt.Errorf("replica %d exited during start-up", r.n)
		case <-tick.C:
			res, err := http.Get("http://" + r.addr + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					r.up.Store(true)
					return nil
				}
			}
		}
	}
}

// kill sends SIGKILL: the process gets no chance to finish anything.
func (r *replica) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up.Store(false)
	if r.cmd != nil && r.cmd.Process != nil {
		if d, err := processCPU(r.cmd.Process.Pid); err == nil {
			r.cpuDone += d
		}
		if n, err := processSwitches(r.cmd.Process.Pid); err == nil {
			r.switchesDone += n
		}
		r.cmd.Process.Kill()
		r.kills++
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	r.up.Store(false)
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	}
}

// sampleRSS records the process's peak resident memory (VmHWM).
func (r *replica) sampleRSS() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if kb*1024 > r.peakRSS {
				r.peakRSS = kb * 1024
			}
		}
	}
}

// balancer spreads requests over the replicas that are up, round robin. The driver's
// own clients (the lifecycles, the fake Stripe's webhooks) use its Transport, which
// sends each request straight to the replica it picks; its proxy, at url, is for
// anything else that follows the replicas' base URL. A request that cannot reach its
// replica fails (the proxy answers 502), and the client retries.
type balancer struct {
	replicas []*replica
	next     atomic.Uint64
	srv      *http.Server
	url      string
}

func newBalancer(replicas []*replica) (*balancer, error) {
	b := &balancer{replicas: replicas}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := b.pick()
			pr.SetURL(&url.URL{Scheme: "http", Host: target.addr})
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.url = "http://" + l.Addr().String()
	b.srv = &http.Server{Handler: proxy}
	go b.srv.Serve(l)
	return b, nil
}

func (b *balancer) pick() *replica {
	n := len(b.replicas)
	start := int(b.next.Add(1))
	for i := range n {
		if r := b.replicas[(start+i)%n]; r.up.Load() {
			return r
		}
	}
	return b.replicas[start%n]
}

func (b *balancer) close() { b.srv.Close() }

// Transport returns a RoundTripper that sends a request for the balancer's URL to
// a replica directly, on connections of its own (keepIdle idle per replica). A
// proxy hop would cost the driver a second HTTP exchange per request on the cores
// the replicas and PostgreSQL are measured on.
func (b *balancer) Transport(keepIdle int) http.RoundTripper {
	return direct{b: b, t: &http.Transport{MaxIdleConnsPerHost: keepIdle, IdleConnTimeout: 30 * time.Second}}
}

type direct struct {
	b *balancer
	t *http.Transport
}

func (d direct) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.WithContext(req.Context()) // a copy: a RoundTripper leaves req as it is
	u := *req.URL
	u.Host = d.b.pick().addr
	out.URL, out.Host = &u, req.URL.Host
	return d.t.RoundTrip(out)
}

// buildBinary compiles ./cmd/roundtrip into dir.
func buildBinary(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "roundtrip")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/roundtrip")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build roundtrip: %v\n%s", err, b)
	}
	return out, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run loadgen from inside the roundtrip module (or pass -bin)")
	}
	return filepath.Dir(mod), nil
}

// createDatabase makes a fresh database for the run on the server of serverURL.
func createDatabase(ctx context.Context, serverURL string) (name, dbURL string, drop func(), err error) {
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", "", nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	name = "loadgen_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", "", nil, fmt.Errorf("create database: %w", err)
	}
	dbURL, err = db.WithDatabase(serverURL, name)
	if err == nil {
		// where the server loads pg_stat_statements, the report adds what it counted
		// for the run's database (sampleCosts); elsewhere this fails and changes nothing
		if run, err := sql.Open("postgres", dbURL); err == nil {
			run.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
			run.Close()
		}
	}
	drop = func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	return name, dbURL, drop, err
}

func randomReplica(rs []*replica) *replica { return rs[mrand(len(rs))] }

func mrand(n int) int { return mathrand.IntN(n) }
