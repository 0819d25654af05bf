// Package smtptest runs a real SMTP server in the process (github.com/emersion/go-smtp)
// that keeps what it receives, for tests and load runs: messages are handed over
// through the network like to any mail server, and the receiver can refuse some.
package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	// Data is the message as sent: headers and body.
	Data []byte
	// At is when the server accepted it.
	At time.Time
}

// Options configure a Server.
type Options struct {
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// Discard keeps no messages, only counts them (load runs); OnMessage still sees them.
	Discard bool
	// OnMessage, when set, is called with every accepted message.
	OnMessage func(Message)
	// TLS, when set, is offered with STARTTLS, or spoken from the first byte with
	// ImplicitTLS (smtps); RequireTLS refuses MAIL before STARTTLS.
	TLS         *tls.Config
	ImplicitTLS bool
	RequireTLS  bool
	// Record keeps the verb of every command the clients send (Commands), on
	// connections without TLS. Off, the server reads the connections as they come
	// (a load run's messages are not scanned a second time).
	Record bool
}

// Server is a running SMTP server on a loopback port.
type Server struct {
	// Addr is host:port; URL is smtp://Addr (with the credentials, if any).
	Addr, URL string

	srv  *smtp.Server
	opts Options

	mu       sync.Mutex
	msgs     []Message
	count    int
	sessions int
	refuse   int
	refusal  *smtp.SMTPError
	changed  chan struct{} // closed and replaced on every accepted message
	commands []string      // verbs the clients sent (plain connections), in order
}

// Start listens on a free loopback port.
func Start(opts Options) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), opts: opts, changed: make(chan struct{})}
	scheme, query := "smtp://", ""
	if opts.Record && opts.TLS == nil {
		l = recording{Listener: l, s: s}
	}
	switch {
	case opts.ImplicitTLS:
		scheme = "smtps://"
		l = tls.NewListener(l, opts.TLS)
	case opts.TLS == nil && opts.Username != "":
		query = "?starttls=off"
	}
	s.URL = scheme + s.Addr + query
	if opts.Username != "" {
		s.URL = scheme + opts.Username + ":" + opts.Password + "@" + s.Addr + query
	}
	s.srv = smtp.NewServer(s)
	if opts.TLS != nil && !opts.ImplicitTLS {
		s.srv.TLSConfig = opts.TLS
	}
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 25 << 20
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go s.srv.Serve(l)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Refuse makes the next n messages fail at DATA with code (4xx: try again later).
func (s *Server) Refuse(n, code int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = n
	s.refusal = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: text}
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Count is how many messages were accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Wait returns once at least n messages were accepted, or ctx ends.
func (s *Server) Wait(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if s.count >= n {
			out := slices.Clone(s.msgs)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Messages(), ctx.Err()
		}
	}
}

// Commands returns the command verbs the clients sent (MAIL, RCPT, DATA, RSET, …),
// in the order the server read them, when Options.Record asked for them (connections
// without TLS only).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// recording notes the verb of every command line a client sends: the lines after the
// server's 354 (go ahead with the content) up to the lone "." that ends the message
// are content, not commands.
type recording struct {
	net.Listener
	s *Server
}

func (l recording) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordedConn{Conn: c, s: l.s}, nil
}

type recordedConn struct {
	net.Conn
	s      *Server
	line   []byte
	inData bool
}

// Write notes a 354 reply (go ahead with the content), wherever it is among the
// replies written at once.
func (c *recordedConn) Write(p []byte) (int, error) {
	for reply := range bytes.Lines(p) {
		if bytes.HasPrefix(reply, []byte("354")) {
			c.inData = true
		}
	}
	return c.Conn.Write(p)
}

func (c *recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, b := range p[:n] {
		if b != '\n' {
			c.line = append(c.line, b)
			continue
		}
		line := bytes.TrimRight(c.line, "\r")
		switch {
		case c.inData:
			c.inData = string(line) != "."
		default:
			verb, _, _ := strings.Cut(string(line), " ")
			verb = strings.ToUpper(verb)
			c.s.mu.Lock()
			c.s.commands = append(c.s.commands, verb)
			c.s.mu.Unlock()
		}
		c.line = c.line[:0]
	}
	return n, err
}

// NewSession is the go-smtp Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{s: s, conn: c}, nil
}

// Sessions is how many connections the server greeted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

// TLS reports whether the session's connection is encrypted.
func (c *session) encrypted() bool {
	_, ok := c.conn.TLSConnectionState()
	return ok
}

func (c *session) AuthMechanisms() []string {
	if c.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (c *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != c.s.opts.Username || password != c.s.opts.Password {
			return errors.New("invalid credentials")
		}
		c.authed = true
		return nil
	}), nil
}

func (c *session) Mail(from string, _ *smtp.MailOptions) error {
	if c.s.opts.RequireTLS && !c.encrypted() {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if c.s.opts.Username != "" && !c.authed {
		return smtp.ErrAuthRequired
	}
	c.from = from
	return nil
}

func (c *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}

func (c *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := c.s
	s.mu.Lock()
	if s.refuse > 0 {
		s.refuse--
		e := s.refusal
		s.mu.Unlock()
		return e
	}
	m := Message{From: c.from, To: slices.Clone(c.to), Data: data, At: time.Now()}
	s.count++
	if !s.opts.Discard {
		s.msgs = append(s.msgs, m)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opts.OnMessage != nil {
		s.opts.OnMessage(m)
	}
	return nil
}

func (c *session) Reset() { c.from, c.to = "", nil }

func (c *session) Logout() error { return nil }
