// Command loadgen drives complete return lifecycles through Roundtrip and checks the
// books afterwards. It starts N `roundtrip serve` replicas on loopback ports behind a
// small round-robin balancer, on a fresh database, with an in-process fake Stripe that
// answers refunds and sends their webhooks; or it targets a running URL. With
// -kill-every it SIGKILLs a random replica every so often and restarts it.
//
// A lifecycle: portal session → quote → create (Idempotency-Key) → label PDF → scan →
// receipt → refund sent → webhook → completed.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Config is one load run.
type Config struct {
	DatabaseURL string        // server for the run's fresh database
	Binary      string        // the roundtrip binary; built when empty
	Replicas    int           // replicas to start
	Lifecycles  int           // complete lifecycles to run
	Warmup      int           // lifecycles run first, outside what is measured and reported
	Concurrency int           // lifecycles in flight at once
	Rate        float64       // create-return requests a second (0: as fast as possible)
	KillEvery   time.Duration // SIGKILL a random replica this often (0: never)
	KillAt      int           // SIGKILL a random replica as lifecycle KillAt starts (0: never)
	Timeout     time.Duration // bound on the whole run
	DBConns     int           // database connections per replica
	Workers     int           // outbox workers per replica
	Keep        bool          // keep the database afterwards
	PprofPort   int           // replica n serves pprof on 127.0.0.1:PprofPort+n-1 (0: off)
	TimerSlack  time.Duration // the replicas' timer slack (0: the driver's own)
	Shoppers    string        // the shoppers' names and addresses (shopperSets; "": en)
	Log         io.Writer     // replica logs (nil: discarded)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := Config{}
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("DATABASE_URL"), "PostgreSQL server URL; the run makes its own database there [DATABASE_URL]")
	fs.StringVar(&c.Binary, "bin", "", "roundtrip binary (default: build ./cmd/roundtrip)")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas to start")
	fs.IntVar(&c.Lifecycles, "lifecycles", 500, "complete lifecycles to run")
	fs.IntVar(&c.Warmup, "warmup", 0, "lifecycles to run first (as fast as the concurrency allows, whatever -rate says), their webhooks and emails delivered, before what is measured: a steady state, the pool's connections having planned their statements")
	fs.IntVar(&c.Concurrency, "concurrency", 32, "lifecycles in flight at once")
	fs.Float64Var(&c.Rate, "rate", 0, "create-return requests a second (0: as fast as the concurrency allows)")
	fs.DurationVar(&c.KillEvery, "kill-every", 0, "SIGKILL a random replica this often and restart it (0: never)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "bound on the whole run")
	fs.IntVar(&c.DBConns, "db-conns", 16, "database connections per replica")
	fs.IntVar(&c.Workers, "workers", 8, "outbox workers per replica")
	fs.BoolVar(&c.Keep, "keep", false, "keep the run's database")
	fs.IntVar(&c.PprofPort, "pprof-port", 0, "replica n serves Go's profiler on 127.0.0.1:<port+n-1> (0: off)")
	fs.DurationVar(&c.TimerSlack, "timer-slack", 0, "start the replicas with this timer slack, as systemd's TimerSlackNSec= would (0: the driver's own, the kernel's 50µs by default; Linux)")
	fs.StringVar(&c.Shoppers, "shoppers", "en", "the shoppers' names and addresses: "+shopperSetNames()+"; en's labels are drawn in the PDF core fonts, the others' need embedded fonts (Polish, Greek, Bulgarian)")
	other := fs.String("compare", "", "another roundtrip binary to run side by side with -bin, at the same moment, on a database of its own: both meet the machine at the same pace")
	otherURL := fs.String("compare-database-url", "", "PostgreSQL server for -compare's database (default: -database-url's); a server of its own tells the two runs' PostgreSQL CPU apart")
	otherReplicas := fs.Int("compare-replicas", 0, "replicas of -compare's run (default: -replicas); with -compare the same binary as -bin, one replica against three at the same moment")
	otherConns := fs.Int("compare-db-conns", 0, "database connections per replica of -compare's run (default: -db-conns)")
	otherSlack := fs.Duration("compare-timer-slack", 0, "timer slack of -compare's replicas (default: -timer-slack; 50µs is the kernel's default)")
	verbose := fs.Bool("v", false, "show replica logs")
	cpuProfile := fs.String("cpuprofile", "", "write the load driver's own CPU profile (fake Stripe, receivers, clients) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *other == "" && (*otherURL != "" || *otherReplicas != 0 || *otherConns != 0 || *otherSlack != 0) {
		return errors.New("-compare-database-url, -compare-replicas, -compare-db-conns and -compare-timer-slack set the compared run: add -compare BINARY (the same as -bin to compare replica counts or timer slacks)")
	}
	if c.TimerSlack < 0 || *otherSlack < 0 {
		return errors.New("-timer-slack and -compare-timer-slack are durations of at least 1ns, such as 1ms or 50us (0 leaves the replicas the driver's own)")
	}
	if _, err := shoppersOf(c.Shoppers); err != nil {
		return err
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if *verbose {
		c.Log = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if *other != "" {
		b := comparedWith(c, compared{bin: *other, databaseURL: *otherURL, replicas: *otherReplicas, conns: *otherConns, slack: *otherSlack})
		return sideBySide(ctx, c, b, stdout, stderr)
	}
	rep, err := Run(ctx, c, stderr)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if problems := rep.Problems(); len(problems) > 0 {
		return fmt.Errorf("the books do not balance: %v", problems)
	}
	return nil
}

// compared is what -compare's flags give its run: its binary, and its server,
// replicas, connections and timer slack where they are given (not 0 or "").
type compared struct {
	bin, databaseURL string
	replicas, conns  int
	slack            time.Duration
}

// comparedWith is the configuration of -compare's run: a's, with o's settings where
// o gives them.
func comparedWith(a Config, o compared) Config {
	b := a
	b.Binary, b.PprofPort = o.bin, 0
	b.DatabaseURL = cmp.Or(o.databaseURL, b.DatabaseURL)
	b.Replicas = cmp.Or(o.replicas, b.Replicas)
	b.DBConns = cmp.Or(o.conns, b.DBConns)
	b.TimerSlack = cmp.Or(o.slack, b.TimerSlack)
	return b
}
