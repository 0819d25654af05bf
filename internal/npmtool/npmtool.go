// Package npmtool installs the Node.js command-line tools some tests drive (Prism for
// the Shippo contract, Spectral for the OpenAPI documents) into the user's cache,
// outside the repository, as make tools does. A test that needs one fails, never
// skips, when npm is missing or the install fails.
package npmtool

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Bin returns the path of command bin from npm package pkg at version, installing the
// package into the cache first (under roundtrip/NAME-VERSION, where make tools puts
// it) when it is not there yet.
func Bin(t testing.TB, name, pkg, version, bin string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("%s: no cache directory to install it in: %v", pkg, err)
	}
	dir := filepath.Join(cache, "roundtrip", name+"-"+version)
	path := filepath.Join(dir, "node_modules", ".bin", bin)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("%s: npm is needed to install %s@%s (run make tools, or install Node.js): %v", bin, pkg, version, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir, pkg+"@"+version).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: npm install %s@%s into %s failed: %v\n%s", bin, pkg, version, dir, err, out)
	}
	return path
}
