package email_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/roundtriphq/roundtrip/email"
)

// withholding is a mail server that offers PIPELINING and answers as late as RFC 2920
// lets it: a message's MAIL, RCPT and DATA only once all of them have arrived (MAIL and
// its RCPTs, for a message of several recipients), and the end of a message's content
// only with the next message's commands. A client that waits for a reply before it
// sends on waits until its timeout, so a batch that goes through proves the client
// pipelines; the transcript is what arrived, in order.
type withholding struct {
	addr string
	// rcpts is each message's recipient count; refuse, the messages whose first
	// recipient the server refuses; hangUp, the message whose commands the server
	// reads and then closes the connection without a word (-1: none)
	rcpts  []int
	refuse map[int]bool
	hangUp int
	done   chan []string
}

func startWithholding(t *testing.T, rcpts []int, refuse map[int]bool, hangUp int) *withholding {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &withholding{addr: l.Addr().String(), rcpts: rcpts, refuse: refuse, hangUp: hangUp, done: make(chan []string, 1)}
	go func() {
		c, err := l.Accept()
		if err != nil {
			s.done <- []string{"accept: " + err.Error()}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		s.done <- s.serve(bufio.NewReader(c), c)
	}()
	return s
}

func (s *withholding) serve(r *bufio.Reader, w net.Conn) (transcript []string) {
	read := func() string {
		line, err := r.ReadString('\n')
		if err != nil {
			transcript = append(transcript, "read: "+err.Error())
			panic(errStop)
		}
		line = strings.TrimRight(line, "\r\n")
		return line
	}
	verb := func() string {
		v, _, _ := strings.Cut(read(), ":")
		v, _, _ = strings.Cut(v, " ")
		transcript = append(transcript, v)
		return v
	}
	say := func(replies ...string) {
		if _, err := fmt.Fprint(w, strings.Join(replies, "")); err != nil {
			panic(errStop)
		}
	}
	defer func() {
		if v := recover(); v != nil && v != errStop {
			panic(v)
		}
	}()
	say("220 withholding ESMTP\r\n")
	verb()
	say("250-withholding\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
	var held []string // the replies not given yet
	for i, n := range s.rcpts {
		v := verb()
		if v == "RSET" {
			held = append(held, "250 2.0.0 reset\r\n")
			v = verb()
		}
		if v != "MAIL" {
			return transcript
		}
		held = append(held, "250 2.0.0 sender ok\r\n")
		for j := range n {
			verb()
			if j == 0 && s.refuse[i] {
				held = append(held, "550 5.1.1 no such mailbox\r\n")
			} else {
				held = append(held, "250 2.0.0 recipient ok\r\n")
			}
		}
		if n > 1 {
			say(held...)
			held = nil
			if s.refuse[i] {
				continue
			}
		}
		verb() // DATA
		if s.hangUp == i {
			return transcript
		}
		if s.refuse[i] {
			say(append(held, "503 5.5.1 no valid recipients\r\n")...)
			held = nil
			continue
		}
		say(append(held, "354 go ahead\r\n")...)
		held = nil
		for read() != "." {
		}
		transcript = append(transcript, "content")
		held = append(held, "250 2.0.0 queued\r\n")
	}
	say(held...)
	if verb() == "QUIT" {
		say("221 2.0.0 bye\r\n")
	}
	return transcript
}

var errStop = fmt.Errorf("stop")

// TestSendAllPipelines: to a server that offers PIPELINING, a batch goes with each
// message's MAIL, RCPT and DATA in one write and its content in the next message's, so
// a server that answers only then still takes every message; a refused recipient
// refuses its message alone (the next one starts with RSET), a message of several
// recipients waits for their replies before DATA, and a connection that drops refuses
// the message whose content was not answered yet and the ones after it.
func TestSendAllPipelines(t *testing.T) {
	t.Parallel()
	send := func(s *withholding, msgs ...*mail.Msg) ([]error, []string) {
		t.Helper()
		cfg, err := email.ParseSMTPURL("smtp://" + s.addr + "?starttls=off")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Timeout = 5 * time.Second
		errs := cfg.SendAll(context.Background(), msgs)
		return errs, <-s.done
	}
	two := message(t)
	if err := two.Cc("bertrand@example.com"); err != nil {
		t.Fatal(err)
	}

	s := startWithholding(t, []int{1, 1, 1, 2, 1}, map[int]bool{1: true}, -1)
	errs, got := send(s, message(t), message(t), message(t), two, message(t))
	want := "EHLO MAIL RCPT DATA content MAIL RCPT DATA RSET MAIL RCPT DATA content MAIL RCPT RCPT DATA content MAIL RCPT DATA content QUIT"
	if strings.Join(got, " ") != want {
		t.Fatalf("the server read\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	if len(errs) != 5 || errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "no such mailbox") || errs[2] != nil || errs[3] != nil || errs[4] != nil {
		t.Fatalf("got %v, want the second message refused (no such mailbox) and the others accepted", errs)
	}

	// a refused recipient of a message of two: no DATA, RSET before the next
	s = startWithholding(t, []int{2, 1}, map[int]bool{0: true}, -1)
	errs, got = send(s, two, message(t))
	if want := "EHLO MAIL RCPT RCPT RSET MAIL RCPT DATA content QUIT"; strings.Join(got, " ") != want {
		t.Fatalf("the server read\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("got %v, want the first refused and the second accepted", errs)
	}

	// the server hangs up after the second message's commands: the first one's content
	// was never answered, so it counts as not sent, as do the second and third
	s = startWithholding(t, []int{1, 1, 1}, nil, 1)
	errs, _ = send(s, message(t), message(t), message(t))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("message %d: accepted by a server that hung up before answering it", i)
		}
	}
}
