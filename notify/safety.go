package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Webhook URLs are chosen by merchants, so a URL must not let them make this service
// call something inside its own network (server-side request forgery). The rule is
// checked twice: when an endpoint is created or changed, against every address its
// host name resolves to, so the merchant learns at once; and on every connection,
// against the address actually dialled, so a name that resolves somewhere else later
// (DNS rebinding) is refused too.

// maxURLLength bounds endpoint URLs.
const maxURLLength = 2048

// blockedRanges are address ranges no webhook may reach unless AllowPrivate is set,
// beyond what netip's predicates already name.
var blockedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a network benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address in
// their last four bytes, which is checked in their place.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// blocked says why addr may not be called, or "" when it may.
func blocked(addr netip.Addr) string {
	addr = addr.Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !addr.IsValid():
		return "not an IP address"
	case addr.IsUnspecified():
		return "an unspecified address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr.IsMulticast():
		return "a multicast address"
	case addr.IsPrivate():
		return "a private network address"
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			return r.why
		}
	}
	return ""
}

// AddressError is a refused destination address.
type AddressError struct {
	Addr netip.Addr
	Why  string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("notify: %s is %s; webhooks are only sent to public addresses", e.Addr, e.Why)
}

// dialControl is the net.Dialer Control hook: it runs after name resolution, for
// every address the dialer tries, before the connection is made.
func (s *Service) dialControl(_, address string, _ syscall.RawConn) error {
	if s.opts.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("notify: dial %q: %w", address, err)
	}
	if why := blocked(ap.Addr()); why != "" {
		return &AddressError{Addr: ap.Addr().Unmap(), Why: why}
	}
	return nil
}

// checkURL says what is wrong with an endpoint URL, in words for the merchant, or ""
// when it is acceptable. It resolves the host name unless the host is an address.
func (s *Service) checkURL(ctx context.Context, raw string) string {
	if len(raw) > maxURLLength {
		return fmt.Sprintf("must be at most %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "must be an absolute URL such as https://shop.example.com/webhooks/roundtrip"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.opts.AllowHTTP:
	case u.Scheme == "http":
		return "must use https"
	default:
		return "must be an https URL"
	}
	if u.User != nil {
		return "must not contain a user name or password"
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return "must not contain a fragment (#…)"
	}
	host := u.Hostname()
	if host == "" {
		return "must name a host"
	}
	if s.opts.AllowPrivate {
		return ""
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if why := blocked(addr); why != "" {
			return fmt.Sprintf("points at %s; webhooks are only sent to public addresses", why)
		}
		return ""
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := s.resolver.LookupNetIP(lctx, "ip", host)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("has a host name, %s, that does not resolve", host)
	case err != nil:
		// DNS is down or slow: the dial-time check still guards every delivery
		return ""
	}
	for _, a := range addrs {
		if why := blocked(a); why != "" {
			return fmt.Sprintf("has a host name, %s, that resolves to %s (%s); webhooks are only sent to public addresses", host, why, a.Unmap())
		}
	}
	return ""
}
