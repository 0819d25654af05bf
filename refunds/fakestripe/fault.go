package fakestripe

import (
	"net/http"
	"time"
)

// Kind is a kind of injected failure.
type Kind string

const (
	// Status500 answers 500 api_error without running the request (a failure in
	// front of the API): nothing is created and nothing is remembered under the
	// Idempotency-Key, so a retry runs anew. With Fault.Executed the request
	// runs first and the 500 replaces its answer and is remembered, so every
	// retry with that key gets the 500 again, as Stripe documents for 500s.
	// stripe-go does not retry a POST on 500.
	Status500 Kind = "status_500"
	// Status503 is Status500 with 503, which stripe-go retries.
	Status503 Kind = "status_503"
	// Status429 answers 429 rate_limit without running the request. Set
	// Fault.Code to "lock_timeout" for the 429 that stripe-go retries.
	Status429 Kind = "status_429"
	// Timeout hangs until the client gives up (or Close); nothing runs. With
	// Fault.Executed the request runs first and is remembered under its key,
	// then the answer is withheld: the client times out on a refund that exists.
	Timeout Kind = "timeout"
	// Delay holds the request for Fault.Delay and/or until Fault.Gate is
	// closed, then runs it normally, even if the client has given up (as
	// Stripe would). The request holds its Idempotency-Key while it waits, so
	// a concurrent request with the key gets 409.
	Delay Kind = "delay"
	// LoseResponse runs the request (the refund is created and remembered
	// under the key), then closes the connection without an answer.
	LoseResponse Kind = "lose_response"
	// Decline answers a permanent error without creating anything, and
	// remembers it under the Idempotency-Key so retries get it too. Default
	// 402 card_error "card_declined"; Fault.Status, Type, Code, Message,
	// Param and DeclineCode override it (for example 400 invalid_request_error
	// "charge_disputed").
	Decline Kind = "decline"
	// FailRefund creates the refund with status failed and
	// Fault.FailureReason (default "expired_or_canceled_card"). A refund that
	// fails later is SetRefundStatus(id, "failed", reason).
	FailRefund Kind = "fail_refund"
)

// before reports whether the kind acts before the request runs.
func (k Kind) before() bool {
	return k == Status500 || k == Status503 || k == Status429 || k == Timeout
}

// Fault is a failure to inject into matching requests. A request is matched
// by Method, Path and Match, each when set; the first matching fault with
// uses left applies, one per request.
type Fault struct {
	Kind Kind
	// Method ("POST") and Path ("/v1/refunds", the exact URL path) limit the
	// fault to matching requests; empty matches all.
	Method string
	Path   string
	// Match, when set, must also accept the request (its Form and
	// IdempotencyKey are filled in). It is called with the server's lock
	// held: it must not call the Server's methods.
	Match func(Request) bool
	// Times is how many matching requests the fault hits; 0 means every one
	// until ClearFaults.
	Times int

	// Delay and Gate hold a Delay request: it waits for Delay, then until
	// Gate is closed, each when set.
	Delay time.Duration
	Gate  <-chan struct{}
	// Arrived, when set, receives a value each time a request reaches the
	// fault (for Delay, once it holds the Idempotency-Key and before it
	// waits; for an Executed Timeout, once the request ran and is remembered
	// under its key), so a test knows the request is in flight without sleeping.
	// Give it room (a buffer) or receive from it: the request waits to send.
	Arrived chan<- struct{}
	// Executed makes Status500, Status503, Status429 and Timeout happen after
	// the request ran (see each kind).
	Executed bool

	// Status, Type, Code, Message, Param and DeclineCode override the error
	// answer of Decline and of the status kinds.
	Status      int
	Type        string
	Code        string
	Message     string
	Param       string
	DeclineCode string
	// FailureReason is the failure_reason of a FailRefund refund.
	FailureReason string
}

type faultState struct {
	Fault
	left int // uses left; <0 means unlimited
}

// Inject adds a fault. Faults apply in the order they were injected.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: left})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the fault that applies to c, using it up once.
func (s *Server) takeFault(c *call) *Fault {
	req := Request{
		Method:         c.r.Method,
		Path:           c.r.URL.Path,
		Route:          c.r.Pattern,
		IdempotencyKey: c.key,
		StripeVersion:  c.r.Header.Get("Stripe-Version"),
		Form:           c.form,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, fs := range s.faults {
		if fs.left == 0 ||
			(fs.Method != "" && fs.Method != req.Method) ||
			(fs.Path != "" && fs.Path != req.Path) ||
			(fs.Match != nil && !fs.Match(req)) {
			continue
		}
		if fs.left > 0 {
			fs.left--
			if fs.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		f := fs.Fault
		c.fault = &f
		c.rec.Fault = f.Kind
		return &f
	}
	return nil
}

// arrive signals Arrived, unless the server closes first.
func (f *Fault) arrive(closing <-chan struct{}) {
	if f.Arrived == nil {
		return
	}
	select {
	case f.Arrived <- struct{}{}:
	case <-closing:
	}
}

// wait holds a Delay request; false means the server closed meanwhile.
func (f *Fault) wait(closing <-chan struct{}) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-closing:
			return false
		}
	}
	if f.Gate != nil {
		select {
		case <-f.Gate:
		case <-closing:
			return false
		}
	}
	return true
}

// answer is the error answer of a Decline or status fault.
func (f *Fault) answer() answer {
	status, typ, code, msg := http.StatusInternalServerError, "api_error", "",
		"An unknown error occurred (injected by fakestripe)."
	switch f.Kind {
	case Status503:
		status, msg = http.StatusServiceUnavailable, "The service is temporarily unavailable (injected by fakestripe)."
	case Status429:
		status, typ, code, msg = http.StatusTooManyRequests, "invalid_request_error", "rate_limit",
			"Request rate limit exceeded (injected by fakestripe)."
	case Decline:
		status, typ, code, msg = http.StatusPaymentRequired, "card_error", "card_declined",
			"The refund was declined (injected by fakestripe)."
	}
	if f.Status != 0 {
		status = f.Status
	}
	if f.Type != "" {
		typ = f.Type
	}
	if f.Code != "" {
		code = f.Code
	}
	if f.Message != "" {
		msg = f.Message
	}
	if f.DeclineCode != "" {
		return errorAnswer(status, typ, code, msg, f.Param, "decline_code", f.DeclineCode)
	}
	return errorAnswer(status, typ, code, msg, f.Param)
}
