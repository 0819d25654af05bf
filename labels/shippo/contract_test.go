package shippo_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/internal/npmtool"
	"github.com/roundtriphq/roundtrip/labels/shippo"
)

// PrismVersion is the Prism the contract test runs (make tools installs it).
const PrismVersion = "5.16.0"

// vendorSpec finds Shippo's OpenAPI description: SHIPPO_OPENAPI, else
// shared/vendor/shippo/public-api.yaml in the nearest directory above this one that
// has it (the repository's sibling shared/ directory).
func vendorSpec(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHIPPO_OPENAPI"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "vendor", "shippo", "public-api.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("Shippo's OpenAPI description (shared/vendor/shippo/public-api.yaml next to the repository) was not found; set SHIPPO_OPENAPI to its path")
		}
		dir = up
	}
}

// startPrism runs `prism mock --errors` on Shippo's description and returns its base
// URL and a function that answers everything Prism logged.
func startPrism(t *testing.T) (string, func() string) {
	t.Helper()
	bin, spec := npmtool.Bin(t, "prism", "@stoplight/prism-cli", PrismVersion, "prism"), vendorSpec(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "mock", "--errors", "-h", "127.0.0.1", "-p", fmt.Sprint(port), spec)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("prism: start: %v", err)
	}
	var mu sync.Mutex
	var log strings.Builder
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Prism is listening") {
				once.Do(func() { close(ready) })
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("prism exited before listening:\n%s", logs())
	case <-time.After(2 * time.Minute):
		t.Fatalf("prism did not listen within 2 minutes:\n%s", logs())
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), logs
}

// TestPrismContract sends every request the Shippo client can make to Prism serving
// Shippo's own OpenAPI description with --errors: a request that violates it (a
// wrong field, a missing header, a wrong path) is answered 4xx and logged as a
// violation, and fails here. Prism remembers nothing, so only shapes are checked.
func TestPrismContract(t *testing.T) {
	t.Parallel()
	base, logs := startPrism(t)
	c := shippo.New(shippo.Config{Token: "shippo_test_3a47d23c032ca626fce863c48d0f93d63a394396", APIBase: base,
		Timeout: 20 * time.Second, MaxRetries: -1})
	ctx := t.Context()
	addr := func(name string) shippo.Address {
		return shippo.Address{Name: name, Street1: "215 Clayton St.", City: "San Francisco", State: "CA", Zip: "94117", Country: "US"}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"create a return shipment", func() error {
			sh, err := c.CreateShipment(ctx, shippo.ShipmentRequest{
				AddressFrom: addr("Northwind Returns"), AddressTo: addr("Ada Lovelace"),
				Parcels:  []shippo.Parcel{{Length: "13", Width: "9", Height: "5", DistanceUnit: "in", Weight: "2", MassUnit: "lb"}},
				Extra:    &shippo.ShipmentExtra{IsReturn: true, QRCodeRequested: true},
				Metadata: "R-7KQ4-M2XD",
			})
			if err == nil && sh.ObjectID == "" {
				err = fmt.Errorf("no object_id in %+v", sh)
			}
			return err
		}},
		{"buy a label", func() error {
			tx, err := c.CreateTransaction(ctx, shippo.TransactionRequest{Rate: "ec9f0d3adc9441449c85d315f0997fd5",
				LabelFileType: "PDF_4x6", Metadata: "roundtrip-parcel-42"})
			if err == nil && tx.ObjectID == "" {
				err = fmt.Errorf("no object_id in %+v", tx)
			}
			return err
		}},
		{"get a purchase", func() error { _, err := c.GetTransaction(ctx, "915d94940ea54c3a80cbfa328722f5a1"); return err }},
		{"list purchases", func() error { _, _, err := c.ListTransactions(ctx, 2, 100); return err }},
		{"find a purchase by metadata", func() error {
			_, err := c.FindTransaction(ctx, "roundtrip-parcel-42", time.Now().Add(-time.Hour))
			return err
		}},
		{"get a rate", func() error { _, err := c.GetRate(ctx, "ec9f0d3adc9441449c85d315f0997fd5"); return err }},
		{"refund a label", func() error { _, err := c.CreateRefund(ctx, "915d94940ea54c3a80cbfa328722f5a1"); return err }},
		{"list refunds", func() error { _, err := c.ListRefunds(ctx); return err }},
		{"get tracking", func() error { _, err := c.GetTrack(ctx, "usps", "9205590164917312751089"); return err }},
		{"register tracking", func() error {
			_, err := c.RegisterTrack(ctx, "usps", "9205590164917312751089", "roundtrip-parcel-42")
			return err
		}},
	}
	for _, tc := range calls {
		if err := tc.call(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Prism answers what it can even with warnings; a violation is an error line
	if l := logs(); strings.Contains(l, "Violation") {
		var bad []string
		for _, line := range strings.Split(l, "\n") {
			if strings.Contains(line, "Violation") && strings.Contains(line, "error") {
				bad = append(bad, line)
			}
		}
		if len(bad) > 0 {
			t.Errorf("Prism found requests that violate Shippo's description:\n%s", strings.Join(bad, "\n"))
		}
	}
	// the mock must have seen every call (a call that never reached it checks nothing)
	if n := strings.Count(logs(), "Request received"); n < len(calls) {
		t.Errorf("Prism logged %d requests, want at least %d:\n%s", n, len(calls), logs())
	}
}
