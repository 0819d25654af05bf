package email_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/roundtriphq/roundtrip/email"
)

// withholding is a mail server that, offering PIPELINING, answers as late as RFC 2920
// lets it: a message's MAIL, RCPT and DATA only once all of them have arrived (MAIL and
// its RCPTs, for a message of several recipients), and the end of a message's content
// only with the next message's commands. A client that waits for a reply before it
// sends on waits until its timeout, so a batch that goes through proves the client
// pipelines. Without PIPELINING it answers each command as it comes. The transcript
// is what arrived, in order.
type withholding struct {
	addr       string
	pipelining bool
	// rcpts is each message's recipient count; refuse, the messages whose first
	// recipient the server refuses; hangUp, the message whose DATA the server reads
	// and then closes the connection without a word (-1: none)
	rcpts  []int
	refuse map[int]bool
	hangUp int
	done   chan []string
}

func startWithholding(t *testing.T, pipelining bool, rcpts []int, refuse map[int]bool, hangUp int) *withholding {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &withholding{addr: l.Addr().String(), pipelining: pipelining, rcpts: rcpts, refuse: refuse, hangUp: hangUp, done: make(chan []string, 1)}
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
	defer func() {
		if v := recover(); v != nil && v != errStop {
			panic(v)
		}
	}()
	read := func() string {
		line, err := r.ReadString('\n')
		if err != nil {
			transcript = append(transcript, "read: "+err.Error())
			panic(errStop)
		}
		return strings.TrimRight(line, "\r\n")
	}
	var held []string // the replies not given yet
	flush := func() {
		if _, err := fmt.Fprint(w, strings.Join(held, "")); err != nil {
			panic(errStop)
		}
		held = nil
	}
	reply := func(r string) {
		held = append(held, r+"\r\n")
		if !s.pipelining {
			flush()
		}
	}
	reply("220 withholding ESMTP")
	flush()
	v, _, _ := strings.Cut(read(), " ")
	transcript = append(transcript, v) // EHLO
	if s.pipelining {
		reply("250-withholding\r\n250-PIPELINING\r\n250 8BITMIME")
	} else {
		reply("250-withholding\r\n250 8BITMIME")
	}
	flush()
	i, rcpt, open := 0, 0, false // the message, its recipients so far, whether its MAIL came
	for {
		v, _, _ := strings.Cut(read(), ":")
		v, _, _ = strings.Cut(v, " ")
		transcript = append(transcript, v)
		switch v {
		case "MAIL":
			reply("250 2.0.0 sender ok")
			rcpt, open = 0, true
		case "RCPT":
			if rcpt == 0 && s.refuse[i] {
				reply("550 5.1.1 no such mailbox")
			} else {
				reply("250 2.0.0 recipient ok")
			}
			rcpt++
			if s.rcpts[i] > 1 && rcpt == s.rcpts[i] {
				flush() // a client waits for several recipients' replies before DATA
			}
		case "RSET":
			reply("250 2.0.0 reset")
			if open { // the message ends here, refused before its DATA
				i, open = i+1, false
			}
		case "DATA":
			if s.hangUp == i {
				return transcript
			}
			if s.refuse[i] {
				reply("503 5.5.1 no valid recipients")
				flush()
				i, open = i+1, false
				continue
			}
			reply("354 go ahead")
			flush()
			for read() != "." {
			}
			transcript = append(transcript, "content")
			reply("250 2.0.0 queued")
			i, open = i+1, false
			if i == len(s.rcpts) {
				flush()
			}
		case "QUIT":
			reply("221 2.0.0 bye")
			flush()
			return transcript
		default:
			reply("500 5.5.2 what?")
			flush()
		}
	}
}

var errStop = errors.New("stop")

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

	s := startWithholding(t, true, []int{1, 1, 1, 2, 1}, map[int]bool{1: true}, -1)
	errs, got := send(s, message(t), message(t), message(t), two, message(t))
	want := "EHLO MAIL RCPT DATA content MAIL RCPT DATA RSET MAIL RCPT DATA content MAIL RCPT RCPT DATA content MAIL RCPT DATA content QUIT"
	if strings.Join(got, " ") != want {
		t.Fatalf("the server read\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	if len(errs) != 5 || errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "no such mailbox") || errs[2] != nil || errs[3] != nil || errs[4] != nil {
		t.Fatalf("got %v, want the second message refused (no such mailbox) and the others accepted", errs)
	}

	// a refused recipient of a message of two: no DATA, RSET before the next
	s = startWithholding(t, true, []int{2, 1}, map[int]bool{0: true}, -1)
	errs, got = send(s, two, message(t))
	if want := "EHLO MAIL RCPT RCPT RSET MAIL RCPT DATA content QUIT"; strings.Join(got, " ") != want {
		t.Fatalf("the server read\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("got %v, want the first refused and the second accepted", errs)
	}

	// the server hangs up after the second message's commands: the first one's content
	// was never answered, so it counts as not sent, as do the second and third
	s = startWithholding(t, true, []int{1, 1, 1}, nil, 1)
	errs, _ = send(s, message(t), message(t), message(t))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("message %d: accepted by a server that hung up before answering it", i)
		}
	}
}

// TestSendAllWithoutPipelining: a server that does not offer PIPELINING gets one
// command at a time (go-mail's client), each message's refusal its own as with
// pipelining: a refused recipient is followed by RSET, and no DATA.
func TestSendAllWithoutPipelining(t *testing.T) {
	t.Parallel()
	s := startWithholding(t, false, []int{1, 1, 2}, map[int]bool{1: true}, -1)
	cfg, err := email.ParseSMTPURL("smtp://" + s.addr + "?starttls=off")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	two := message(t)
	if err := two.Cc("bertrand@example.com"); err != nil {
		t.Fatal(err)
	}
	errs := cfg.SendAll(context.Background(), []*mail.Msg{message(t), message(t), two})
	got := strings.Join(<-s.done, " ")
	if want := "EHLO MAIL RCPT DATA content MAIL RCPT RSET MAIL RCPT RCPT DATA content QUIT"; got != want {
		t.Fatalf("the server read\n %s\nwant\n %s", got, want)
	}
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "no such mailbox") || errs[2] != nil {
		t.Fatalf("got %v, want the second refused (no such mailbox) and the others accepted", errs)
	}
}
