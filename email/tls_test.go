package email_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/smtptest"
)

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func message(t *testing.T) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.From("returns@roundtrip.test"); err != nil {
		t.Fatal(err)
	}
	if err := m.To("abigail@example.com"); err != nil {
		t.Fatal(err)
	}
	m.Subject("Hello")
	m.SetBodyString(mail.TypeTextPlain, "Hi Abigail,")
	return m
}

// TestSMTPSpeaksTLS: smtp:// with a password upgrades with STARTTLS (and refuses to go
// on in the clear when the server cannot), and smtps:// speaks TLS from the start.
func TestSMTPSpeaksTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	cases := []struct {
		name     string
		opts     smtptest.Options
		delivers bool
	}{
		{"STARTTLS", smtptest.Options{Username: "u", Password: "p", TLS: serverTLS, RequireTLS: true}, true},
		{"implicit TLS", smtptest.Options{Username: "u", Password: "p", TLS: serverTLS, ImplicitTLS: true, RequireTLS: true}, true},
		{"no TLS offered", smtptest.Options{Username: "u", Password: "p"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, err := smtptest.Start(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// the server's URL without the test's starttls=off: what an operator writes
			raw := strings.TrimSuffix(srv.URL, "?starttls=off")
			cfg, err := email.ParseSMTPURL(raw)
			if err != nil {
				t.Fatal(err)
			}
			cfg.TLSConfig, cfg.Timeout = clientTLS, 10*time.Second
			err = cfg.Send(context.Background(), message(t))
			if c.delivers && (err != nil || srv.Count() != 1) {
				t.Fatalf("%s: got %v and %d messages, want it delivered", raw, err, srv.Count())
			}
			if !c.delivers && (err == nil || srv.Count() != 0) {
				t.Fatalf("%s: got %v and %d messages, want a refusal to send the password in the clear", raw, err, srv.Count())
			}
		})
	}
}

// TestSendAllUsesOneSessionAndAnswersEachMessage: several messages go over one
// connection and one sign-in, a refusal of one is that message's alone, and each
// message costs the round trips of its transaction and no more (no NOOP before it, no
// RSET after it: a completed DATA, accepted or refused, ends the transaction).
func TestSendAllUsesOneSessionAndAnswersEachMessage(t *testing.T) {
	t.Parallel()
	srv, err := smtptest.Start(smtptest.Options{Username: "u", Password: "p", Record: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg, err := email.ParseSMTPURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 10 * time.Second
	srv.Refuse(1, 550, "mailbox unavailable")
	errs := cfg.SendAll(context.Background(), []*mail.Msg{message(t), message(t), message(t)})
	if len(errs) != 3 || errs[0] == nil || !strings.Contains(errs[0].Error(), "mailbox unavailable") || errs[1] != nil || errs[2] != nil {
		t.Fatalf("got %v, want the first refused (mailbox unavailable) and the others accepted", errs)
	}
	if n, s := srv.Count(), srv.Sessions(); n != 2 || s != 1 {
		t.Fatalf("the server accepted %d messages in %d sessions, want 2 in 1", n, s)
	}
	got := strings.Join(srv.Commands(), " ")
	if want := "EHLO AUTH" + strings.Repeat(" MAIL RCPT DATA", 3) + " QUIT"; got != want {
		t.Fatalf("commands:\n got %s\nwant %s", got, want)
	}
	// a server that is gone refuses every message
	srv.Close()
	errs = cfg.SendAll(context.Background(), []*mail.Msg{message(t), message(t)})
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("to a closed server: got %v, want both refused", errs)
	}
}
