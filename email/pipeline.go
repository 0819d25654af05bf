package email

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// sendPipelined hands msgs over a session whose server offers PIPELINING (RFC 2920),
// answering each one's refusal or nil. A message's MAIL, RCPT and DATA go in one write
// and their replies are read together; its content and the end of data go in the same
// write as the next message's commands, and that write's replies begin with the
// content's. A batch of n messages costs n+1 round trips instead of 4n (one each for
// MAIL, RCPT, DATA and the content), which is most of a batch's time when the mail
// server is a network hop away.
//
// Each message is rendered before its commands go out, so a message that cannot be
// rendered starts no transaction. A message with several recipients waits for their
// replies before DATA: once the server has said 354 the content goes to whoever it
// accepted, so a refused recipient must stop the message before then (RSET), as it does
// without pipelining. A connection that fails refuses the message in flight, the one
// whose content's reply was not read yet, and the ones not sent.
func sendPipelined(ctx context.Context, sc *smtp.Client, msgs []*mail.Msg, timeout time.Duration) []error {
	s := pipeline{text: sc.Text, params: mailParams(sc), errs: make([]error, len(msgs)), pending: -1}
	eightBit, _ := sc.Extension("8BITMIME")
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			s.fail(i, len(msgs), err)
			return s.errs
		}
		if m.Encoding() == string(mail.NoEncoding) && !eightBit {
			s.errs[i] = errors.New("the message is 8bit and the server does not take 8BITMIME")
			continue
		}
		env, err := envelopeOf(m)
		if err != nil {
			s.errs[i] = err
			continue
		}
		body := &s.body
		body.Reset()
		dw := dotWriter{out: body}
		if _, err := m.WriteTo(&dw); err != nil {
			s.errs[i] = fmt.Errorf("render: %w", err)
			continue
		}
		dw.close()
		if err := sc.UpdateDeadline(timeout); err != nil {
			s.fail(i, len(msgs), err)
			return s.errs
		}
		if err := s.transaction(i, env, body.Bytes()); err != nil {
			s.fail(i, len(msgs), err)
			return s.errs
		}
	}
	if s.pending >= 0 {
		if err := s.flush(); err != nil {
			s.fail(len(msgs), len(msgs), err)
		}
	}
	return s.errs
}

// pipeline is one session's pipelined state.
type pipeline struct {
	text   *textproto.Conn
	params string // MAIL FROM's parameters
	errs   []error
	// out holds what the next write sends; pending is the message whose content is
	// in it or on its way, its reply not read yet (-1: none); rset asks for an RSET
	// ahead of the next message's commands (a refused recipient left a transaction
	// open).
	out     bytes.Buffer
	pending int
	rset    bool
	// body is the message being sent, rendered (reused across the batch)
	body bytes.Buffer
}

// envelope is a message's sender and recipients as MAIL and RCPT give them.
type envelope struct {
	from  string
	rcpts []string
}

func envelopeOf(m *mail.Msg) (envelope, error) {
	from, err := m.GetSender(false)
	if err != nil {
		return envelope{}, err
	}
	rcpts, err := m.GetRecipients()
	if err != nil {
		return envelope{}, err
	}
	for _, a := range append([]string{from}, rcpts...) {
		if strings.ContainsAny(a, "\r\n") {
			return envelope{}, fmt.Errorf("address %q has a line break", a)
		}
	}
	return envelope{from: from, rcpts: rcpts}, nil
}

// mailParams are the MAIL FROM parameters go-mail's own client sends to this server.
func mailParams(sc *smtp.Client) string {
	var p string
	if ok, _ := sc.Extension("8BITMIME"); ok {
		p += " BODY=8BITMIME"
	}
	if ok, _ := sc.Extension("SMTPUTF8"); ok {
		p += " SMTPUTF8"
	}
	return p
}

// transaction sends message i; an error is the connection's.
func (s *pipeline) transaction(i int, env envelope, body []byte) error {
	rset := s.rset
	if rset {
		s.out.WriteString("RSET\r\n")
		s.rset = false
	}
	fmt.Fprintf(&s.out, "MAIL FROM:%s%s\r\n", env.from, s.params)
	for _, r := range env.rcpts {
		fmt.Fprintf(&s.out, "RCPT TO:%s\r\n", r)
	}
	one := len(env.rcpts) == 1
	if one {
		s.out.WriteString("DATA\r\n")
	}
	if err := s.flush(); err != nil {
		return err
	}
	if rset {
		if _, _, err := s.text.ReadResponse(250); err != nil {
			return fmt.Errorf("RSET: %w", err)
		}
	}
	mailErr, err := s.reply(250, "MAIL FROM")
	if err != nil {
		return err
	}
	var rcptErr error
	for _, r := range env.rcpts {
		e, err := s.reply(25, "RCPT TO "+r)
		if err != nil {
			return err
		}
		rcptErr = cmp.Or(rcptErr, e)
	}
	if !one {
		if mailErr == nil && rcptErr == nil {
			s.out.WriteString("DATA\r\n")
			if err := s.flush(); err != nil {
				return err
			}
		} else {
			s.errs[i] = cmp.Or(mailErr, rcptErr)
			s.rset = mailErr == nil
			return nil
		}
	}
	dataErr, err := s.reply(354, "DATA")
	if err != nil {
		return err
	}
	switch {
	case dataErr != nil:
		// refused (a server refuses DATA after a refused recipient): the transaction
		// stays open while MAIL was accepted
		s.errs[i] = cmp.Or(mailErr, rcptErr, dataErr)
		s.rset = mailErr == nil
	case mailErr != nil || rcptErr != nil:
		// 354 with no one to send to: end the content at once, and count the message
		// refused whatever the reply
		s.out.WriteString(".\r\n")
		if err := s.flush(); err != nil {
			return err
		}
		if _, _, err := s.text.ReadResponse(0); isConnErr(err) {
			return err
		}
		s.errs[i] = cmp.Or(mailErr, rcptErr)
	default:
		s.out.Write(body)
		s.pending = i
	}
	return nil
}

// flush writes out in one write and, when a message's content was in it, reads the
// content's reply.
func (s *pipeline) flush() error {
	w := s.text.W
	if _, err := w.Write(s.out.Bytes()); err != nil {
		return err
	}
	s.out.Reset()
	if err := w.Flush(); err != nil {
		return err
	}
	if s.pending < 0 {
		return nil
	}
	i := s.pending
	s.pending = -1
	e, err := s.reply(250, "message")
	if err != nil {
		s.pending = i // its fate is unknown: fail counts it refused
		return err
	}
	s.errs[i] = e
	return nil
}

// reply reads one reply: a refusal (the server's answer, not the expected code) comes
// back as the first error, a connection that failed as the second.
func (s *pipeline) reply(code int, what string) (refused, conn error) {
	_, _, err := s.text.ReadResponse(code)
	if err == nil {
		return nil, nil
	}
	if isConnErr(err) {
		return nil, err
	}
	return fmt.Errorf("%s refused: %w", what, err), nil
}

// fail refuses, with err, the pending message and messages from..to-1.
func (s *pipeline) fail(from, to int, err error) {
	if s.pending >= 0 {
		s.errs[s.pending] = err
		s.pending = -1
	}
	for i := from; i < to; i++ {
		s.errs[i] = err
	}
}

func isConnErr(err error) bool {
	var te *textproto.Error
	return err != nil && !errors.As(err, &te)
}

// dotWriter writes a message's content as DATA carries it (RFC 5321 4.5.2), as
// net/textproto's DotWriter does: a line that starts with a dot gets another, a line
// feed without a carriage return gets one, and close ends the content with CRLF . CRLF.
// It copies the bytes between line breaks at once instead of one at a time.
type dotWriter struct {
	out   *bytes.Buffer
	state int
}

const (
	dotBegin     = iota // nothing written yet
	dotBeginLine        // at the start of a line
	dotData             // inside a line
	dotCR               // just after a carriage return
)

func (d *dotWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		switch d.state {
		case dotBegin, dotBeginLine:
			d.state = dotData
			if b[0] == '.' {
				d.out.WriteByte('.')
			}
		case dotCR:
			// as DotWriter: the byte after a carriage return is written as it is, and a
			// line feed there ends the line
			d.state = dotData
			if b[0] == '\n' || b[0] == '\r' {
				d.out.WriteByte(b[0])
				if b[0] == '\n' {
					d.state = dotBeginLine
				}
				b = b[1:]
				continue
			}
		}
		// inside a line: copy up to its first carriage return or line feed
		end := bytes.IndexByte(b, '\n')
		line := b
		if end >= 0 {
			line = b[:end]
		}
		if cr := bytes.IndexByte(line, '\r'); cr >= 0 {
			end = cr
		}
		if end < 0 {
			d.out.Write(b)
			break
		}
		d.out.Write(b[:end])
		if b[end] == '\r' {
			d.out.WriteByte('\r')
			d.state = dotCR
		} else {
			d.out.WriteString("\r\n")
			d.state = dotBeginLine
		}
		b = b[end+1:]
	}
	return n, nil
}

// close ends the content: the line break its last line lacks, then the lone dot.
func (d *dotWriter) close() {
	switch d.state {
	case dotBegin, dotData:
		d.out.WriteString("\r\n")
	case dotCR:
		d.out.WriteByte('\n')
	}
	d.out.WriteString(".\r\n")
}
