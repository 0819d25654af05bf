package openapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// oapiCodegen generates the client; it is run by version and is not a dependency of
// the product's module.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// TestGeneratedClientDrivesAReturn generates a Go client from the OpenAPI 3.0
// document the running product serves, with oapi-codegen, and drives one whole return
// with it (testdata/genclient): the shop pushes an order, the shopper opens the
// portal, quotes, creates and prints the label, the warehouse scans and receives, and
// the return ends completed with its refund paid through (fake) Stripe. The module is
// generated and built in a temporary directory on every run, so no generated file
// can be stale; the first run on a machine downloads oapi-codegen and the client's
// runtime into the module cache.
func TestGeneratedClientDrivesAReturn(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to generate and build the client: %v", err)
	}
	stripe := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur"})
	t.Cleanup(stripe.Close)
	var worker *outbox.Worker
	env := apitest.New(t, func(c *app.Config, url string) {
		c.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripe.URL(), Timeout: 5 * time.Second})
		worker = outbox.NewWorker(c.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		c.Worker = worker
	})
	shop := env.Merchant(t, "northwind")

	dir := t.TempDir()
	res, err := http.Get(env.URL + "/openapi-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !bytes.HasPrefix(doc, []byte("openapi: 3.0.")) && !bytes.Contains(doc, []byte("\nopenapi: 3.0.")) {
		t.Fatalf("GET /openapi-3.0.yaml: got %d, want an OpenAPI 3.0 document: %.200s", res.StatusCode, doc)
	}
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go", "oapi-codegen.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "genclient", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The generated module is its own: no workspace, and its go.mod may gain what the
	// generated code imports.
	goEnv := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), goBin, args...)
		cmd.Dir, cmd.Env = dir, goEnv
		start := time.Now()
		defer func() { t.Logf("%s: %s", name, time.Since(start).Round(time.Millisecond)) }()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	run("generate the client from the served document", "run", oapiCodegen, "-config", "oapi-codegen.yaml", "openapi.yaml")
	// -trimpath keeps the temporary directory out of the build: an unchanged document
	// builds from the cache.
	run("build the generated client and its driver", "build", "-trimpath", "-o", "driver", ".")

	driver := exec.CommandContext(t.Context(), filepath.Join(dir, "driver"),
		"-base", env.URL, "-merchant", shop.Merchant.Slug, "-order", "NW-GEN-1", "-email", "ada@example.com")
	driver.Env = append(os.Environ(),
		"ROUNDTRIP_ADMIN_KEY="+shop.Keys[auth.RoleAdmin],
		"ROUNDTRIP_INTEGRATION_KEY="+shop.Keys[auth.RoleIntegration],
		"ROUNDTRIP_WAREHOUSE_KEY="+shop.Keys[auth.RoleWarehouse],
		"ROUNDTRIP_FINANCE_KEY="+shop.Keys[auth.RoleFinance])
	var stderr bytes.Buffer
	driver.Stderr = &stderr
	stdin, err := driver.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := driver.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	// The driver prints "wait <what>" after each request that queues background work
	// (the label, the refund): run the jobs, then let it go on.
	var refunded []string
	for lines := bufio.NewScanner(stdout); refunded == nil; {
		if !lines.Scan() {
			stdin.Close()
			err := driver.Wait()
			t.Fatalf("the driver ended before the refund (%v):\n%s\nserver log:\n%s", err, stderr.String(), env.Logs())
		}
		switch f := strings.Fields(lines.Text()); {
		case len(f) == 2 && f[0] == "wait":
			drain(t, worker)
			if _, err := io.WriteString(stdin, "go on\n"); err != nil {
				t.Fatal(err)
			}
		case len(f) == 4 && f[0] == "refunded":
			refunded = f[1:]
		default:
			t.Fatalf("got driver line %q, want wait <what> or refunded <return> <amount> <currency>", lines.Text())
		}
	}
	stdin.Close()
	if err := driver.Wait(); err != nil {
		t.Fatalf("driver: %v\n%s\nserver log:\n%s", err, stderr.String(), env.Logs())
	}

	// Stripe got exactly the refund the driver read back through the API.
	rs := stripe.Refunds()
	if len(rs) != 1 {
		t.Fatalf("got %d refunds at Stripe, want 1", len(rs))
	}
	if got, want := fmt.Sprintf("%d %s", rs[0].Amount, strings.ToUpper(rs[0].Currency)), strings.Join(refunded[1:], " "); got != want {
		t.Errorf("got a refund of %s at Stripe, want %s (return %s)", got, want, refunded[0])
	}
}

// drain runs the worker's due jobs until none is left.
func drain(t *testing.T, w *outbox.Worker) {
	t.Helper()
	for {
		did, err := w.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
}
