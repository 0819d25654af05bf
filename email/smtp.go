package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTP is the server emails are handed to, as ROUNDTRIP_SMTP_URL gives it.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS speaks TLS from the first byte (smtps://, usually port 465).
	ImplicitTLS bool
	// StartTLS is the STARTTLS policy of a plain connection (smtp://).
	StartTLS mail.TLSPolicy
	// Timeout bounds one connection and send (default 30s).
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (tests trust their own CA).
	TLSConfig *tls.Config
}

// ParseSMTPURL reads smtp://user:pass@host:587 or smtps://user:pass@host:465. A plain
// smtp:// connection upgrades with STARTTLS: required when the URL has credentials
// (they are never sent in the clear), else used when the server offers it;
// ?starttls=required, ?starttls=opportunistic or ?starttls=off says otherwise (off
// with credentials sends them in the clear with AUTH PLAIN: for a local relay only).
func ParseSMTPURL(raw string) (SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return SMTP{}, fmt.Errorf("email: SMTP URL must look like smtp://user:password@host:587 or smtps://user:password@host:465")
	}
	c := SMTP{Host: u.Hostname(), ImplicitTLS: u.Scheme == "smtps", Port: 587}
	if c.ImplicitTLS {
		c.Port = 465
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTP{}, fmt.Errorf("email: SMTP URL has a bad port %q", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	c.StartTLS = mail.TLSOpportunistic
	if c.Username != "" {
		c.StartTLS = mail.TLSMandatory
	}
	for k := range u.Query() {
		if k != "starttls" {
			return SMTP{}, fmt.Errorf("email: SMTP URL has an unknown setting %q (only starttls)", k)
		}
	}
	switch v := u.Query().Get("starttls"); v {
	case "":
	case "required":
		c.StartTLS = mail.TLSMandatory
	case "opportunistic":
		c.StartTLS = mail.TLSOpportunistic
	case "off":
		c.StartTLS = mail.NoTLS
	default:
		return SMTP{}, fmt.Errorf("email: SMTP URL starttls=%q must be required, opportunistic or off", v)
	}
	if c.ImplicitTLS && u.Query().Has("starttls") {
		return SMTP{}, fmt.Errorf("email: smtps:// is TLS from the start; starttls applies to smtp:// only")
	}
	return c, nil
}

// Addr is host:port.
func (c SMTP) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Send connects, hands msg over and disconnects.
func (c SMTP) Send(ctx context.Context, msg *mail.Msg) error {
	return c.SendAll(ctx, []*mail.Msg{msg})[0]
}

// SendAll hands msgs to the server in one session, answering each one's refusal or
// nil: a connection or sign-in that fails refuses them all. A server that offers
// PIPELINING gets them pipelined (sendPipelined); another, one command at a time
// through go-mail.
func (c SMTP) SendAll(ctx context.Context, msgs []*mail.Msg) []error {
	errs := make([]error, len(msgs))
	all := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// Each message is MAIL, RCPT and DATA and nothing more: a completed DATA ends the
	// mail transaction (RFC 5321 4.1.1.4), so the RSET go-mail sends after each
	// accepted message, and the NOOP it sends before that RSET and before the first
	// message, are round trips that change nothing: up to two of six per message.
	// A refused MAIL or RCPT is still followed by RSET, and a dead connection shows
	// on the next command as it would on a NOOP.
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(timeout), mail.WithoutNoop(), mail.WithoutRset()}
	if c.ImplicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(c.StartTLS))
	}
	if c.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(c.TLSConfig))
	}
	if c.Username != "" {
		auth := mail.SMTPAuthAutoDiscover
		if !c.ImplicitTLS && c.StartTLS == mail.NoTLS {
			// the URL said starttls=off: the password goes in the clear, as asked
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	cl, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return all(fmt.Errorf("email: SMTP client: %w", err))
	}
	// each message has the timeout, the session as a whole their sum
	ctx, cancel := context.WithTimeout(ctx, timeout*time.Duration(len(msgs)))
	defer cancel()
	sc, err := cl.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// the connection, the greeting or the sign-in failed
		return all(c.refused(err))
	}
	defer cl.CloseWithSMTPClient(sc)
	if ok, _ := sc.Extension("PIPELINING"); ok {
		errs := sendPipelined(ctx, sc, msgs, timeout)
		for i, err := range errs {
			if err != nil {
				errs[i] = c.refused(err)
			}
		}
		return errs
	}
	if err := cl.SendWithSMTPClient(sc, msgs...); err != nil {
		for i, m := range msgs {
			switch {
			case m.HasSendError():
				errs[i] = c.refused(m.SendError())
			case !m.IsDelivered():
				errs[i] = c.refused(err)
			}
			// else the server accepted it
		}
	}
	return errs
}

func (c SMTP) refused(err error) error {
	return fmt.Errorf("email: send through %s: %s", c.Addr(), strings.TrimSpace(err.Error()))
}
