package notify

import (
	"context"
	"net/netip"
	"testing"
)

func TestBlockedAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"10.0.0.1", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"fe80::1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"100.64.0.1", true},
		{"100.127.255.254", true},
		{"255.255.255.255", true},
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"93.184.215.14", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2606:4700::1111", false},
		{"64:ff9b::5db8:d70e", false}, // NAT64 of a public address
	}
	for _, tt := range tests {
		why := blocked(netip.MustParseAddr(tt.addr))
		if (why != "") != tt.blocked {
			t.Errorf("%s: got %q, want blocked=%v", tt.addr, why, tt.blocked)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := New(nil, Options{})
	local := New(nil, Options{AllowHTTP: true, AllowPrivate: true})
	tests := []struct {
		url          string
		strict, open bool // accepted by each
	}{
		{"https://93.184.215.14/hooks", true, true},
		{"https://[2606:4700::1111]:8443/hooks", true, true},
		{"http://93.184.215.14/hooks", false, true},
		{"https://127.0.0.1/hooks", false, true},
		{"https://[::1]/hooks", false, true},
		{"https://10.0.0.1/hooks", false, true},
		{"https://169.254.169.254/latest/meta-data", false, true},
		{"https://localhost/hooks", false, true},
		{"https://user:pw@93.184.215.14/hooks", false, false},
		{"ftp://93.184.215.14/hooks", false, false},
		{"/hooks", false, false},
		{"https:///hooks", false, false},
		{"https://93.184.215.14/hooks#frag", false, false},
		{"https://no-such-host.invalid/hooks", false, true},
	}
	for _, tt := range tests {
		if got := strict.checkURL(context.Background(), tt.url) == ""; got != tt.strict {
			t.Errorf("%s by default: accepted=%v, want %v (%s)", tt.url, got, tt.strict, strict.checkURL(context.Background(), tt.url))
		}
		if got := local.checkURL(context.Background(), tt.url) == ""; got != tt.open {
			t.Errorf("%s with AllowHTTP and AllowPrivate: accepted=%v, want %v", tt.url, got, tt.open)
		}
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	long[1023] = 0xC3 // the first byte of a two-byte rune at the cut
	long[1024] = 0xA9
	tests := []struct {
		in   []byte
		want int
	}{
		{[]byte("ok"), 2},
		{[]byte("a\x00b"), 2},
		{long, 1023},
		{[]byte("\xff\xfe"), 3}, // a run of invalid UTF-8 becomes one U+FFFD
	}
	for _, tt := range tests {
		if got := excerpt(tt.in); len(got) != tt.want {
			t.Errorf("excerpt of %d bytes: got %d bytes, want %d", len(tt.in), len(got), tt.want)
		}
	}
}
