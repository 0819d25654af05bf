package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// sampleChildEnv makes the test binary a child that reports its allocation samples
// (TestMain) instead of running the tests.
const sampleChildEnv = "ROUNDTRIP_TEST_SAMPLE_ALLOCATIONS"

func TestMain(m *testing.M) {
	if v := os.Getenv(sampleChildEnv); v != "" {
		fmt.Println(sampledWhileAllocating(v == "profiled"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink [][]byte

// sampledWhileAllocating calls sampleAllocations, allocates 64 MB in small pieces and
// says how many allocations the heap profile sampled meanwhile.
func sampledWhileAllocating(profiled bool) int64 {
	sampleAllocations(profiled)
	before := sampledAllocations()
	for range 1 << 16 {
		sink = append(sink, make([]byte, 1024))
	}
	sink = nil
	return sampledAllocations() - before
}

// sampledAllocations is the heap profile's count of sampled allocations, as of a
// collection made now.
func sampledAllocations() int64 {
	runtime.GC()
	runtime.GC()
	n, _ := runtime.MemProfile(nil, true)
	records := make([]runtime.MemProfileRecord, n+64)
	n, _ = runtime.MemProfile(records, true)
	var total int64
	for _, r := range records[:n] {
		total += r.AllocObjects
	}
	return total
}

// TestAllocationsAreSampledOnlyWhenProfiled: a server that does not serve the profiler
// samples no allocation for heap profiles; one that does keeps Go's sampling. Each
// runs in a process of its own (the choice is the process's).
func TestAllocationsAreSampledOnlyWhenProfiled(t *testing.T) {
	t.Parallel()
	// 64 MB at Go's rate (a sample every 512 KB on average) is about 128 samples;
	// with sampling off, each processor may still take the one it had counted down to
	procs := int64(runtime.GOMAXPROCS(0))
	for mode, want := range map[string]func(int64) bool{
		"profiled":     func(n int64) bool { return n >= 32 },
		"not profiled": func(n int64) bool { return n <= procs },
	} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), sampleChildEnv+"="+mode)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err != nil {
			t.Fatalf("%s: the child said %q", mode, out)
		}
		if !want(n) {
			t.Errorf("%s: %d allocations sampled while allocating 64 MB", mode, n)
		}
	}
}
